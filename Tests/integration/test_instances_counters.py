"""Checkpoints, counters and the reset action against the runtime fixture (CONTRACT §10, §12.4,
§12.5)."""

from __future__ import annotations

import re

from instances_helpers import COUNTERS, MAX_I64, kit, read_pidfile  # noqa: F401  (kit: fixture)


def mirrored(k, iid: str) -> list[str]:
    suffix = f" [{iid}]"
    return [line[: -len(suffix)] for line in k.m.stdout_lines() if line.endswith(suffix)]


def counters(snap: dict) -> tuple:
    return tuple(snap[c] for c in COUNTERS)


def raw_line(v: str) -> str:
    return (f"CHECK_POINT|MODE=1|PING=1ms|POOL=1|TCPS=1|UDPS=1|"
            f"TCPRX={v}|TCPTX={v}|UDPRX={v}|UDPTX={v}")


def test_checkpoints_set_metrics_and_counters(kit):
    kit.start()
    iid = kit.create(kit.url(checkpoints=3, step=100, lines=1))["id"]
    snap = kit.wait(iid, lambda s: s["tcprx"] == 300, 5, "third checkpoint")
    assert counters(snap) == (300, 600, 900, 1200), snap
    assert (snap["mode"], snap["ping"], snap["pool"], snap["tcps"], snap["udps"]) == (1, 7, 2, 3, 4)
    assert snap["status"] == "running"
    # Valid checkpoints are neither mirrored nor treated as log lines. The harness reads the
    # master's stdout on its own thread, so the mirrored line may reach it after the REST answer.
    kit.m.wait_for_log("^" + re.escape(f"line 1 [{iid}]") + "$", stream="stdout")
    assert mirrored(kit, iid) == ["line 1"]
    assert not any("CHECK_POINT" in line for line in kit.m.stdout_lines())


def test_malformed_checkpoints_are_ordinary_lines(kit):
    """Each malformed line follows a valid checkpoint (PING=5ms, TCPRX=100) and would set PING=1
    if it were taken as a checkpoint."""
    kit.start()
    bad = ["bad", "-1", "1.5", " 1", "0x10", "+1"]
    ids = {v: kit.create(kit.url(f"h{i}", checkpoints=1, step=100, raw=v))["id"]
           for i, v in enumerate(bad)}
    for v, iid in ids.items():
        kit.m.wait_for_log("^" + re.escape(f"{raw_line(v)} [{iid}]") + "$", stream="stdout")
        snap = kit.get(iid)
        assert snap["ping"] == 5 and counters(snap) == (100, 200, 300, 400), (v, snap)
        assert snap["status"] == "running", (v, snap)
        assert mirrored(kit, iid) == [raw_line(v)], (v, mirrored(kit, iid))


def test_malformed_checkpoint_with_error_text_marks_error(kit):
    kit.start()
    iid = kit.create(kit.url(checkpoints=1, raw="ERROR"))["id"]
    kit.m.wait_for_log("^" + re.escape(f"{raw_line('ERROR')} [{iid}]") + "$", stream="stdout")
    snap = kit.wait_status(iid, "error", timeout=3)
    assert snap["tcprx"] == 100 and snap["ping"] == 0, snap


def test_counters_saturate_at_int64_max(kit):
    kit.start()
    top = kit.create(kit.url("top", raw="18446744073709551615"))["id"]
    over = kit.create(kit.url("over", checkpoints=1, step=5, raw="18446744073709551616"))["id"]
    snap = kit.wait(top, lambda s: s["ping"] == 1, 5, "raw checkpoint")
    assert counters(snap) == (MAX_I64,) * 4, snap
    assert (snap["mode"], snap["pool"], snap["tcps"], snap["udps"]) == (1, 1, 1, 1)
    # A counter above 2^64-1 leaves that field unchanged; the rest of the checkpoint applies.
    snap = kit.wait(over, lambda s: s["ping"] == 1, 5, "overflowing checkpoint")
    assert counters(snap) == (5, 10, 15, 20), snap
    assert (snap["pool"], snap["tcps"], snap["udps"]) == (1, 1, 1)
    assert not any("CHECK_POINT" in line for line in kit.m.stdout_lines())
    # Exactly the saturated value in the raw JSON.
    body = kit.m.api("GET", f"/instances/{top}").body
    assert b'"tcprx":9223372036854775807,"tcptx":9223372036854775807' in body


def test_reset_zeroes_counters_and_the_next_run_counts_in_full(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(checkpoints=3, step=100, pidfile=pf))["id"]
    kit.wait(iid, lambda s: s["tcprx"] == 300, 5, "third checkpoint")
    pid, _ = read_pidfile(pf)
    r = kit.patch(iid, {"action": "reset"})
    assert counters(r) == (0, 0, 0, 0), r
    assert (r["mode"], r["ping"]) == (1, 7), r  # reset touches only the byte counters
    assert counters(kit.get(iid)) == (0, 0, 0, 0)
    m.wait_for_log(r"Master\.handlePatchInstance: instance updated \[" + iid + r"\]$")
    # Our rule: R := 0 at start, so the new run's raw counters count in full (the original kept
    # R and would show 0 here).
    pf.unlink()
    kit.patch(iid, {"action": "restart"})
    pid2, _ = read_pidfile(pf)
    assert pid2 != pid
    snap = kit.wait(iid, lambda s: s["tcprx"] == 300, 5, "third checkpoint of the new run")
    assert counters(snap) == (300, 600, 900, 1200), snap


def test_two_resets_within_one_run(kit):
    """The contract's worked example: raw 100 → reset → raw 200 shows 100 → reset → raw 300
    shows 100 (the original's bug shows 200)."""
    kit.start()
    iid = kit.create(kit.url(checkpoints=3, step=100, interval=1.5))["id"]
    kit.wait(iid, lambda s: s["tcprx"] == 100, 3, "first checkpoint")
    assert counters(kit.patch(iid, {"action": "reset"})) == (0, 0, 0, 0)
    snap = kit.wait(iid, lambda s: s["tcprx"] != 0, 4, "second checkpoint")
    assert counters(snap) == (100, 200, 300, 400), snap
    assert counters(kit.patch(iid, {"action": "reset"})) == (0, 0, 0, 0)
    snap = kit.wait(iid, lambda s: s["tcprx"] != 0, 4, "third checkpoint")
    assert counters(snap) == (100, 200, 300, 400), snap


def test_reset_while_stopped(kit):
    kit.start()
    iid = kit.create(kit.url(checkpoints=1, step=50, lines=1))["id"]
    kit.wait(iid, lambda s: s["tcprx"] == 50, 5, "checkpoint")
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped")
    assert counters(kit.patch(iid, {"action": "reset"})) == (0, 0, 0, 0)
    kit.patch(iid, {"action": "start"})
    snap = kit.wait(iid, lambda s: s["tcprx"] != 0, 5, "checkpoint after start")
    assert counters(snap) == (50, 100, 150, 200), snap
