"""Child output handling: line reassembly and splitting, binary bytes, closed output, floods
(CONTRACT §12.3, §12.4)."""

from __future__ import annotations

import re
import time

from instances_helpers import kit, pid_alive, read_pidfile  # noqa: F401  (kit: fixture)


def pieces(k, iid: str) -> list[str]:
    suffix = f" [{iid}]"
    return [line[: -len(suffix)] for line in k.m.stdout_lines() if line.endswith(suffix)]


def test_long_unterminated_output_is_mirrored_in_64k_pieces(kit):
    kit.start()
    iid = kit.create(kit.url(nonewline=140000, exit=0))["id"]
    kit.wait_status(iid, "stopped", timeout=10)
    deadline = time.monotonic() + 5
    while sum(len(p) for p in pieces(kit, iid)) < 140000 and time.monotonic() < deadline:
        time.sleep(0.05)
    got = pieces(kit, iid)
    assert [len(p) for p in got] == [65536, 65536, 140000 - 2 * 65536], [len(p) for p in got]
    assert all(set(p) == {"x"} for p in got)
    assert kit.get(iid)["status"] == "stopped"


def test_long_line_with_newline_is_reassembled_across_reads(kit):
    """60000 bytes then (from `binary`) the rest of the line and its newline: one line."""
    kit.start()
    iid = kit.create(kit.url(nonewline=60000, binary=1, exit=0))["id"]
    kit.wait_status(iid, "stopped", timeout=10)
    kit.m.wait_for_log(r"end \[" + iid + r"\]$", stream="stdout")
    got = pieces(kit, iid)
    assert len(got) == 1, [len(p) for p in got]
    assert got[0] == "x" * 60000 + "bin \ufffd\ufffd \x00 end"


def test_binary_output_breaks_nothing(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, binary=1, pidfile=pf))["id"]
    m.wait_for_log("^" + re.escape(f"bin \ufffd\ufffd \x00 end [{iid}]") + "$", stream="stdout")
    assert pieces(kit, iid) == ["line 1", "bin \ufffd\ufffd \x00 end"]
    snap = kit.get(iid)
    assert snap["status"] == "running"
    status, _, lst = m.json("GET", "/instances")
    assert status == 200 and iid in [i["id"] for i in lst]
    assert m.info()
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped")
    m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped \[" + iid + r"\]$")


def test_closed_output_keeps_the_instance_running(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, closeout=1, pidfile=pf))["id"]
    m.wait_for_log("^" + re.escape(f"line 1 [{iid}]") + "$", stream="stdout")
    pid, _ = read_pidfile(pf)
    # EOF on the pipe is not an exit: the status must stay `running` while the process lives.
    # (Absence of a transition can only be observed over time; 2 s covers the 1 s drain bound.)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert kit.get(iid)["status"] == "running"
        assert pid_alive(pid)
        time.sleep(0.1)
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped", timeout=8)
    m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped \[" + iid + r"\]$")
    assert not pid_alive(pid)


def test_flood_is_mirrored_or_accounted_for(kit):
    m = kit.start()
    n = 100000
    iid = kit.create(kit.url(flood=n, exit=0))["id"]
    # The API stays responsive during the flood.
    assert m.info()
    kit.wait_status(iid, "stopped", timeout=30)
    dropped_re = re.compile(r"^openctrl: dropped (\d+) output lines \[" + iid + r"\]$")

    def accounted() -> tuple[int, int]:
        lines = m.stdout_lines()
        shown = sum(1 for l in lines if l.startswith("flood line ") and l.endswith(f" [{iid}]"))
        dropped = sum(int(d.group(1)) for d in map(dropped_re.match, lines) if d)
        return shown, dropped

    deadline = time.monotonic() + 10
    while sum(accounted()) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    shown, dropped = accounted()
    assert shown + dropped == n, (shown, dropped)
    flood = [l for l in m.stdout_lines() if l.startswith("flood line ")]
    nums = [int(l.split()[2]) for l in flood]
    # Order is kept among the mirrored lines (the dropped ones leave gaps, never reversals).
    assert all(a < b for a, b in zip(nums, nums[1:])), "flood lines out of order"
