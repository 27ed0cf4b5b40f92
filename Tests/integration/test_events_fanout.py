"""The event fan-out at 2,000 watchers (CONTRACT §13.5, issue 13): most watchers read
everything, some stall behind a tiny receive window, some close abruptly (RST) while batches are
being written to everyone, and meanwhile the test publishes state events (create, PATCH alias,
stop/start, delete) and log floods.

Checked: every watcher still open receives every state event, in order, with the same ids as the
reference watcher, and those events are exactly the ones the test caused; every gap in a
watcher's ids is a run of log events counted by the gap notice that follows it (§13.5 accounting,
fast watchers included: on a loaded machine they may lag and skip too); a stalled watcher's
received log events plus its notices add up to exactly the log events published while it was
connected; `openctrl_event_logs_skipped_total` matches the skips the watchers can prove (exactly
over the phase without closing watchers); closing watchers log nothing, drop nobody, and the
watcher gauge returns to the number still open; `GET /info` answers throughout.

Phases: (1) a paced log trickle, state changes and the resets, all at once; the readers are then
settled with two barrier updates and the skipped counter is read; (2) log floods while the
stalled watchers still take nothing; then the stalled watchers read everything, two more barriers,
and every check runs on what each watcher recorded.

The fan-out mode is left to the environment (`OPENCTRL_TEST_FANOUT_HELPERS`, set by the suite to
0, 1 and 3; parametrizing here would override the suite's mode): one run costs 10-17 s on a
shared 2-core machine, three would not fit the file's one-minute budget.

All watchers live in this process on one epoll selector (not a thread each), so the test costs
one core at most and the master has the other. Log frames of fast watchers are counted by id,
not decoded; only state events and control frames are parsed as JSON.
"""

from __future__ import annotations

import os
import random
import re
import resource
import time

import pytest

from events_helpers import ev, kit  # noqa: F401  (ev, kit: fixtures)
from fleet import WAIT, Driver, Fleet, assert_notices_account_for_holes, cpu_seconds, holes, metrics, published

FAST = 1750          # including the reference watcher
STALLED = 100
CLOSING_READERS = 100  # read everything until they reset the connection
CLOSING_SILENT = 50    # never read, so the master holds output for them when they reset
TOTAL = FAST + STALLED + CLOSING_READERS + CLOSING_SILENT
assert TOTAL == 2000

LINE = 1000          # bytes per log line: a ~1.4 KB frame with the instance record
# A watcher that takes nothing (4 KiB receive buffer, 1 KiB MSS) reaches the 256 KiB skip mark
# after ~230 such frames (~70 KB wait in the kernel), so the stalled watchers and the silent
# closing ones start skipping late in phase 1; the stalled ones skip ~280 of the 530 lines.
PACE_WRITES = 110    # phase 1: pacer writes of PACE_LINES lines, 10 ms apart
PACE_LINES = 3
CHURN_STEPS = 10     # phase 1: state changes
STALL_CHUNKS = 10    # phase 2: floods of CHUNK_LINES lines while the stalled watchers still
CHUNK_LINES = 20     # take nothing


@pytest.fixture
def nofile():
    """Room for 2,000 sockets here and in the master, which inherits the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if want < TOTAL + 200:
        pytest.skip(f"descriptor hard limit {hard} is too low for {TOTAL} watchers")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_fanout_to_2000_watchers_with_stalls_and_resets(ev, nofile):
    # No heartbeat noise, and a no-progress limit far beyond the test: the stalled watchers
    # must be skipped, never dropped, however slow this machine is.
    m = ev.start(sse_timing="30,600")
    flood_id, flood = ev.child(alias="flood")
    churn_id, _ = ev.child(alias="churn-0")
    toggle_id, _ = ev.child(alias="toggle")
    records = len(ev.records())

    fleet = Fleet(m)
    # Fast watchers get a fixed 256 KiB receive buffer: loopback autotuning would let each one
    # grow to 32 MiB of kernel memory whenever this process falls behind.
    specs = [("reference", 0, 1 << 20, None, True)]
    specs += [("fast", i, 256 << 10, None) for i in range(1, FAST)]
    specs += [("stalled", i, 4096, 1024) for i in range(STALLED)]
    specs += [("closing", i, 256 << 10, None) for i in range(CLOSING_READERS)]
    specs += [("closing-silent", i, 4096, 1024) for i in range(CLOSING_SILENT)]
    # Interleave roles, so fast, stalled and closing watchers share every part of the hub's list
    # (and every helper's shard).
    rest = specs[1:]
    random.Random(13).shuffle(rest)
    specs = [specs[0]] + rest
    try:
        fleet.connect(specs, records)
        run(ev, m, fleet, flood_id, flood, churn_id, toggle_id)
    finally:
        fleet.close()


def run(ev, m, fleet: Fleet, flood_id, flood, churn_id, toggle_id) -> None:
    ref = fleet.role("reference")[0]
    stalled = fleet.role("stalled")
    closing = fleet.role("closing", "closing-silent")
    for w in stalled + fleet.role("closing-silent"):
        fleet.pause(w)
    mx0 = metrics(m)
    assert mx0["openctrl_event_watchers"] == TOTAL, mx0["openctrl_event_watchers"]
    stderr_before = len(m.stderr_lines())
    ops: list[tuple] = []
    lines_published = 0

    # ----- phase 1: a log trickle, state events and resets, all at once ----------------------
    # The pacer keeps the master flushing: a few lines every 10 ms, each write a batch that
    # costs the master one `send` per watcher, so over a hundred fan-outs to 2,000 watchers
    # happen while the resets arrive (and the selector rounds that make the resets follow
    # those fan-outs). The sleep is the pace of the load, not a wait for a condition.
    def pace(d: Driver) -> None:
        for i in range(PACE_WRITES):
            flood.send(f"flood {PACE_LINES} {LINE} c{i}")
            d.progress = i + 1
            time.sleep(0.01)

    def churn(d: Driver) -> None:
        extra = None
        for i in range(CHURN_STEPS):
            alias = f"churn-{i + 1}"
            ev.patch_alias(churn_id, alias)
            ops.append(("patch", churn_id, alias))
            if i == 2:
                extra, _ = ev.child(alias="extra", wait_running=False)
                ops.append(("create", extra, "extra"))
            if i == 4:
                ev.kit.patch(toggle_id, {"action": "stop"})
                ev.kit.wait_status(toggle_id, "stopped", timeout=WAIT)
                ops.append(("stop", toggle_id))
            if i == 6:
                ev.kit.patch(toggle_id, {"action": "start"})
                ev.kit.wait_status(toggle_id, "running", timeout=WAIT)
                ops.append(("start", toggle_id))
            if i == 8:
                ev.kit.wait_status(extra, "running", timeout=WAIT)
                r = m.api("DELETE", f"/instances/{extra}")
                assert r.status == 204, r
                ops.append(("delete", extra))
            assert m.info()  # responsive in the middle of it all
            d.progress = i + 1

    # Readers are reset over the first half of the pacing, the silent ones (which never read)
    # over the last quarter, when the master holds output for them and skips their log events.
    readers, silent = fleet.role("closing"), fleet.role("closing-silent")
    schedule = [(1 + i // 2, w) for i, w in enumerate(readers)]
    schedule += [(PACE_WRITES * 3 // 4 + i // 2, w) for i, w in enumerate(silent)]
    assert schedule[-1][0] < PACE_WRITES

    def reset_due() -> None:
        # At most 3 per call, so the resets spread over the selector rounds (which follow the
        # master's batches: sockets become readable as a flush reaches them).
        for _ in range(3):
            if not schedule or schedule[0][0] > pacer.progress:
                break
            fleet.reset(schedule.pop(0)[1])

    pacer, driver = Driver(pace), Driver(churn)
    pacer.start()
    driver.start()
    cpu0 = cpu_seconds(m.pid)
    t0 = time.monotonic()
    assert fleet.run_until(lambda: not (pacer.is_alive() or schedule) or pacer.error, WAIT, tick=reset_due), (
        f"the pacer did not finish: {pacer.progress} of {PACE_WRITES} writes, {len(schedule)} resets left")
    busy = (cpu_seconds(m.pid) - cpu0) / (time.monotonic() - t0)
    pacer.join_checked(fleet)
    driver.join_checked(fleet)
    lines_published += PACE_WRITES * PACE_LINES

    # The resets are noticed: the gauge returns to the watchers still open.
    still_open = TOTAL - len(closing)
    deadline = time.monotonic() + WAIT
    while (watching := metrics(m)["openctrl_event_watchers"]) != still_open:
        assert time.monotonic() < deadline, f"watcher gauge {watching}, {still_open} watchers open"
        fleet.pump(0.1)

    # Settle the readers: after `mid-2` reached every reading watcher, every phase-1 batch has
    # been written (and counted) and any reader that skipped has had its notice.
    reading = [w for w in fleet.watchers if w.open and w.role in ("reference", "fast")]
    for alias in ("mid-1", "mid-2"):
        ev.patch_alias(flood_id, alias)
        ops.append(("patch", flood_id, alias))
        assert fleet.run_until(lambda: all(w.saw_alias(alias) for w in reading), WAIT), (
            f"`{alias}` missing: " + "; ".join(w.describe() for w in reading if not w.saw_alias(alias))[:2000])
    mx_mid = metrics(m)
    mid_id = ref.states[-1][0]
    assert ref.states[-1][3] == "mid-2"

    # ----- phase 2: floods while the stalled watchers still take nothing -----------------------
    def stall(d: Driver) -> None:
        for i in range(STALL_CHUNKS):
            flood.send(f"flood {CHUNK_LINES} {LINE} s{i}")
            if i % 3 == 0:
                ev.patch_alias(churn_id, f"stall-{i}")
                ops.append(("patch", churn_id, f"stall-{i}"))
            d.progress = i + 1

    driver = Driver(stall)
    driver.start()
    driver.join_checked(fleet)
    lines_published += STALL_CHUNKS * CHUNK_LINES
    # Every line was read by the master before the barriers (the counter is exact).
    deadline = time.monotonic() + WAIT
    while published(mx := metrics(m), "log") - published(mx0, "log") < lines_published:
        assert time.monotonic() < deadline, f"{published(mx, 'log') - published(mx0, 'log')} of {lines_published} lines published"
        fleet.pump(0.1)

    # ----- the end: the stalled watchers read everything ----------------------------------------
    for w in stalled:
        fleet.resume(w)
    survivors = [w for w in fleet.watchers if w.open]
    # Two barriers: the first proves a watcher's backlog is gone (pending output under 64 KiB),
    # so the second's flush carries its gap notice first.
    for alias in ("end-1", "end-2"):
        ev.patch_alias(flood_id, alias)
        ops.append(("patch", flood_id, alias))
        assert fleet.run_until(lambda: all(w.saw_alias(alias) for w in survivors), WAIT), (
            f"`{alias}` missing: " + "; ".join(w.describe() for w in survivors if not w.saw_alias(alias))[:2000])
    mx_end = metrics(m)
    assert m.info()

    # ----- checks ------------------------------------------------------------------------------
    assert len(survivors) == still_open, [w.describe() for w in fleet.watchers if w.eof][:5]
    for w in survivors:
        assert not w.bad, w.describe()

    # The reference: exactly the state events the test caused, nothing else.
    state_ids = {s[0] for s in ref.states}
    by_type = {t: [s for s in ref.states if s[1] == t] for t in ("create", "update", "delete")}
    assert {s[1] for s in ref.states} <= set(by_type), ref.states
    for t in ("create", "update", "delete"):
        assert len(by_type[t]) == published(mx_end, t) - published(mx0, t), (
            f"the reference saw {len(by_type[t])} `{t}` events, the master published "
            f"{published(mx_end, t) - published(mx0, t)}")
    ours = {flood_id, churn_id, toggle_id} | {op[1] for op in ops}
    assert {s[2] for s in ref.states} <= ours, "a state event for an instance the test did not touch"
    for op in ops:
        after = [s for s in ref.states if s[2] == op[1]]
        if op[0] == "patch":
            assert any(s[1] == "update" and s[3] == op[2] for s in after), f"no update for {op}"
        elif op[0] == "create":
            assert [s[1] for s in after].count("create") == 1 and after[0][1] == "create", (op, after)
        elif op[0] == "delete":
            assert [s[1] for s in after][-2:] == ["update", "delete"] and after[-1][4] == "stopped", (op, after)
        elif op[0] == "stop":
            assert any(s[1] == "update" and s[4] == "stopped" for s in after), (op, after)
        elif op[0] == "start":
            stop_at = next(i for i, s in enumerate(after) if s[4] == "stopped")
            assert any(s[1] == "update" and s[4] == "running" for s in after[stop_at:]), (op, after)
    patched = [op[2] for op in ops if op[0] == "patch" and op[1] == churn_id]
    seen = [s[3] for s in ref.states if s[2] == churn_id and s[1] == "update" and s[3] in patched]
    assert list(dict.fromkeys(seen)) == patched, f"PATCHes out of order: {seen}"
    # The reference's log lines, where it has them, are the flood's lines, whole and in order.
    for line in ref.log_lines:
        assert len(line) == LINE and re.match(r"^[cs]\d+ \d+ x+$", line), line[:80]
    assert ref.log_lines == sorted(ref.log_lines, key=lambda s: (s[0] == "s", int(s.split()[0][1:]), int(s.split()[1])))

    first, last = ref.live[0], ref.live[-1]
    assert ref.states[-1][3] == "end-2" and ref.states[-1][0] == last
    assert last - first + 1 == lines_published + len(ref.states), (
        f"ids {first}..{last} are not exactly the {lines_published} lines and {len(ref.states)} "
        "state events the test caused")

    # Every survivor: same state events, same ids, same order; gaps only where notices say.
    skipped_before = skipped_after = 0
    for w in survivors:
        assert w.states == ref.states, (
            f"{w.describe()} differs from the reference: first difference at "
            f"{next((i for i, (a, b) in enumerate(zip(w.states, ref.states)) if a != b), min(len(w.states), len(ref.states)))}")
        assert w.live[0] == first and w.live[-1] == last, w.describe()
        runs = holes(w, state_ids)
        assert_notices_account_for_holes(w, runs)
        for _, a, b in runs:
            skipped_before += max(0, min(b, mid_id) - a + 1)
            skipped_after += max(0, b - max(a, mid_id + 1) + 1)
    for w in stalled:
        notified = sum(n for _, n in w.notices)
        assert w.notices, f"a stalled watcher skipped nothing: the test made no pressure ({w.describe()})"
        assert w.log_count + notified == lines_published, (
            f"{w.describe()}: {w.log_count} log events received + {notified} in notices != "
            f"{lines_published} published while it was connected")

    # The counter: exact over phase 2 (no closing watcher left); over phase 1 the closed
    # watchers' skips are invisible here, so it may only exceed what the survivors prove.
    counted_before = mx_mid["openctrl_event_logs_skipped_total"] - mx0["openctrl_event_logs_skipped_total"]
    counted_after = mx_end["openctrl_event_logs_skipped_total"] - mx_mid["openctrl_event_logs_skipped_total"]
    assert counted_after == skipped_after, (
        f"openctrl_event_logs_skipped_total grew by {counted_after} in phase 2, the watchers' "
        f"ids show {skipped_after} skipped")
    assert skipped_before <= counted_before <= skipped_before + len(closing) * PACE_WRITES * PACE_LINES, (
        f"phase 1: counter {counted_before}, survivors show {skipped_before}")

    # Resets are not the master's drops, and leave nothing in its log.
    for reason in ("cap", "stall"):
        key = f'openctrl_event_watchers_dropped_total{{reason="{reason}"}}'
        assert mx_end[key] == mx0[key], f"the master dropped watchers ({reason})"
    assert mx_end["openctrl_event_watchers"] == still_open
    noise = [line for line in m.stderr_lines()[stderr_before:]
             if re.search(r"(?i)error|fail|fatal|warn|libevent|disconnected|abort|assert", line)]
    assert not noise, "master log during the run:\n" + "\n".join(noise[:20])
    print(f"\nfan-out (helpers: {os.environ.get('OPENCTRL_TEST_FANOUT_HELPERS', 'default')}): master busy {busy:.0%} of phase 1; {len(survivors)} watchers, {lines_published} lines, {len(ref.states)} state events, "
          f"skipped {skipped_before}+{skipped_after} "
          f"(counter {counted_before:.0f}+{counted_after:.0f}), stalled notices "
          f"{sum(len(w.notices) for w in stalled)}, reading watchers with notices "
          f"{sum(1 for w in survivors if w.notices and w.role != 'stalled')}")
