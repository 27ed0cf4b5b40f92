"""Instance lifecycle over real children (CONTRACT §9.4, §11, §12.1, §12.2, §17).

Children are the runtime fixture (`Tests/fixtures/runtime.py`), configured through their URL.
"""

from __future__ import annotations

import os
import re
import signal
import time

from instances_helpers import (  # noqa: F401  (kit is a fixture)
    FIXTURE, LIVE, group_alive, group_members, kit, pid_alive, read_pidfile, starting_re,
    wait_until,
)


def ready(k, iid: str, text: str = "line 1", timeout: float = 10.0) -> None:
    """Wait for a mirrored child line: the fixture has installed its signal handling by then."""
    k.m.wait_for_log("^" + re.escape(f"{text} [{iid}]") + "$", timeout=timeout, stream="stdout")


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def esc(iid: str) -> str:
    return r" \[" + re.escape(iid) + r"\]$"


def test_running_after_create(kit):
    m = kit.start()
    pf = kit.pidfile()
    url = kit.url(lines=1, pidfile=pf)
    snap = kit.create(url)
    iid = snap["id"]
    assert snap["status"] == "stopped"
    kit.wait_status(iid, "running")
    ready(kit, iid)
    pid, pgid = read_pidfile(pf)
    # `<bin> <url>`: the interpreter runs the script path exactly as configured, one URL argument.
    assert cmdline(pid)[-2:] == [str(FIXTURE), url]
    # Our rule (§12.1): the child has its own process group.
    assert pgid == pid and pgid != os.getpgid(m.pid)
    # The start is logged with the query values masked (§17); the token never reaches the log.
    m.wait_for_log(r"Master\.startInstanceLocked: instance starting: "
                   r"fixture://x\?tok=\*\*\*&lines=\*\*\*&pidfile=\*\*\*" + esc(iid))
    assert kit.count(starting_re(iid)) == 1
    assert kit.token not in m.stderr_text()
    assert kit.get(iid)["status"] == "running"


def test_nonzero_exit_is_error_and_start_recovers_it(kit):
    m = kit.start()
    iid = kit.create(kit.url(exit=3))["id"]
    snap = kit.wait_status(iid, "error")
    m.wait_for_log(r"Master\.monitorInstance: instance error: exit status 3" + esc(iid))
    t_error = kit.log_times(r"instance error: exit status 3" + esc(iid))[0]
    assert all(snap[f] == 0 for f in LIVE), snap
    # Our rule: `start` on `error` without a live process starts it (before the 5 s backoff).
    kit.patch(iid, {"action": "start"})
    times = kit.wait_count(starting_re(iid), 2, 4)
    assert times[1] - t_error < 4.5, "the second start came from the backoff, not the action"
    kit.wait_count(r"instance error: exit status 3" + esc(iid), 2, 5)


def test_killed_by_signal_is_error(kit):
    m = kit.start()
    iid = kit.create(kit.url(signal="KILL"))["id"]
    kit.wait_status(iid, "error")
    m.wait_for_log(r"Master\.monitorInstance: instance error: signal: killed" + esc(iid))


def test_exit_zero_is_stopped(kit):
    m = kit.start()
    iid = kit.create(kit.url(lines=1, exit=0))["id"]
    ready(kit, iid)
    snap = kit.wait_status(iid, "stopped")
    assert all(snap[f] == 0 for f in LIVE), snap
    assert kit.count(r"instance error:.*\[" + iid) == 0, m.stderr_text()


def test_error_line_marks_error_while_the_child_keeps_running(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(error=1, pidfile=pf))["id"]
    ready(kit, iid, "something failed: ERROR here")
    snap = kit.wait_status(iid, "error", timeout=3)
    pid, _ = read_pidfile(pf)
    assert pid_alive(pid)
    assert all(snap[f] == 0 for f in LIVE), snap
    assert kit.count(r"Master\.monitorInstance: instance error:" + r".*\[" + iid) == 0


def test_checkpoint_after_an_error_line_returns_to_running(kit):
    """The fixture prints the ERROR line, then the checkpoint. The ERROR line alone makes the
    instance `error` (previous test); here the checkpoint right after it must bring it back."""
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(error=1, checkpoints=1, pidfile=pf))["id"]
    ready(kit, iid, "something failed: ERROR here")
    snap = kit.wait(iid, lambda s: s["ping"] == 5, 5, "the checkpoint")
    assert snap["status"] == "running", snap
    assert (snap["mode"], snap["pool"], snap["tcps"], snap["udps"]) == (1, 2, 3, 4)
    assert snap["tcprx"] == 100
    assert kit.count(starting_re(iid)) == 1
    assert not any("CHECK_POINT" in line for line in m.stdout_lines())


def test_stop_then_start_keeps_counters_and_clears_live_metrics(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, checkpoints=1, step=100, pidfile=pf))["id"]
    kit.wait(iid, lambda s: s["tcprx"] == 100 and s["ping"] == 5, 5, "first checkpoint")
    pid, _ = read_pidfile(pf)
    r = kit.patch(iid, {"action": "stop"})
    assert r["status"] == "running", r  # our rule: the snapshot precedes the action
    snap = kit.wait_status(iid, "stopped", timeout=5)
    m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped" + esc(iid))
    assert all(snap[f] == 0 for f in LIVE), snap
    assert snap["mode"] == 1
    assert (snap["tcprx"], snap["tcptx"], snap["udprx"], snap["udptx"]) == (100, 200, 300, 400)
    wait_until(lambda: not pid_alive(pid), 5, "child gone")
    assert kit.count(r"instance error:.*\[" + iid) == 0
    # A second stop is a no-op.
    kit.patch(iid, {"action": "stop"})
    # Start again: a new child, counters accumulate over runs (B := D at start).
    pf.unlink()
    kit.patch(iid, {"action": "start"})
    snap = kit.wait(iid, lambda s: s["tcprx"] == 200, 5, "second run checkpoint")
    assert snap["status"] == "running"
    assert (snap["tcptx"], snap["udprx"], snap["udptx"]) == (400, 600, 800)
    pid2, _ = read_pidfile(pf)
    assert pid2 != pid
    assert kit.count(r"Master\.stopInstanceLocked: instance stopped" + esc(iid)) == 1


def test_restart_action_replaces_the_child(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, pidfile=pf))["id"]
    ready(kit, iid)
    pid, _ = read_pidfile(pf)
    pf.unlink()
    kit.patch(iid, {"action": "restart"})
    pid2, _ = read_pidfile(pf)
    assert pid2 != pid
    kit.wait_count(starting_re(iid), 2, 5)
    m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped" + esc(iid))
    kit.wait_status(iid, "running")
    wait_until(lambda: not pid_alive(pid), 5, "old child gone")


def test_child_ignoring_sigterm_is_force_killed(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(ignoreterm=1, lines=1, pidfile=pf))["id"]
    ready(kit, iid)
    pid, _ = read_pidfile(pf)
    t0 = time.monotonic()
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped", timeout=12)
    m.wait_for_log(r"Master\.stopInstanceLocked: instance force killed" + esc(iid))
    elapsed = kit.log_times(r"instance force killed" + esc(iid))[0] - t0
    assert 4.5 <= elapsed <= 8.0, f"force kill after {elapsed:.2f}s"
    assert kit.count(r"instance stopped" + esc(iid)) == 0
    wait_until(lambda: not pid_alive(pid), 3, "child gone")


def test_grandchild_is_killed_with_the_group_on_stop(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, grandchild=1, pidfile=pf))["id"]
    ready(kit, iid)
    pid, pgid = read_pidfile(pf)
    assert pgid == pid
    # The grandchild must have exec'd `sleep`: a SIGTERM that finds the fixture still inside
    # `subprocess.Popen` is handled only once Popen returns, which can take the whole grace.
    wait_until(lambda: _sleep_in_group(pgid, pid), 5, "grandchild started")
    t0 = time.monotonic()
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped", timeout=8)
    assert time.monotonic() - t0 < 4.0, "stop waited for the grandchild's pipe"
    m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped" + esc(iid))
    wait_until(lambda: not group_alive(pgid), 5, "process group gone")
    wait_until(lambda: _killpg_gone(pgid), 5, "os.killpg(pgid, 0) raising ProcessLookupError")


def _sleep_in_group(pgid: int, child: int) -> bool:
    for member in group_members(pgid):
        try:
            if member != child and cmdline(member)[:1] == ["sleep"]:
                return True
        except OSError:
            continue
    return False


def _killpg_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_group_is_killed_when_the_child_exits_by_itself(kit):
    """Our rule (§12.2): once the child has exited, its group gets SIGKILL at once, so a
    grandchild holding the output pipe neither survives nor delays exit handling."""
    kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, grandchild=1, exit=0, pidfile=pf))["id"]
    ready(kit, iid)
    _, pgid = read_pidfile(pf)
    kit.wait_status(iid, "stopped", timeout=5)
    wait_until(lambda: not group_alive(pgid), 5, "process group gone")
    assert kit.count(r"instance error:.*\[" + iid) == 0


def test_daemonised_helper_does_not_block_the_stop(kit):
    """A helper that left the group keeps the pipe open; exit handling waits at most 1 s for EOF
    (§9.4 our rule) and logs that it closed the pipe."""
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, daemon=1, pidfile=pf))["id"]
    ready(kit, iid)
    pid, _ = read_pidfile(pf)
    daemons: list[int] = []

    def found() -> bool:
        daemons[:] = [c for c in children_of(pid) if os.getsid(c) == c]
        return bool(daemons)

    wait_until(found, 5, "daemon started")
    try:
        t0 = time.monotonic()
        kit.patch(iid, {"action": "stop"})
        kit.wait_status(iid, "stopped", timeout=8)
        assert time.monotonic() - t0 < 4.0
        m.wait_for_log(r"Master\.monitorInstance: output still open after exit, closing" + esc(iid))
        m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped" + esc(iid))
        # The instance is usable again.
        kit.patch(iid, {"action": "start"})
        kit.wait_count(starting_re(iid), 2, 5)
    finally:
        for d in daemons:
            try:
                os.kill(d, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_master_descriptors_do_not_leak_into_the_child(kit):
    kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, pidfile=pf))["id"]
    ready(kit, iid)
    pid, _ = read_pidfile(pf)
    fd_dir = f"/proc/{pid}/fd"
    fds = sorted(int(f) for f in os.listdir(fd_dir))
    links = {f: os.readlink(f"{fd_dir}/{f}") for f in fds}
    assert fds == [0, 1, 2], links
    assert links[0] == "/dev/null", links
    assert links[1] == links[2] and links[1].startswith("pipe:"), links
    # Signal mask reset in the child (§12.1).
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    assert int(status["SigBlk"].strip(), 16) == 0, status["SigBlk"]


def test_auto_restart_backs_off(kit):
    kit.start()
    iid = kit.create(kit.url(exit=1))["id"]
    times = kit.wait_count(starting_re(iid), 3, 22)
    gap1, gap2 = times[1] - times[0], times[2] - times[1]
    assert 4.0 <= gap1 <= 8.0, (gap1, gap2)
    assert gap2 >= gap1 + 3.0 and gap2 <= 14.0, (gap1, gap2)
    assert kit.count(r"Master\.monitorInstance: instance error: exit status 1" + esc(iid)) >= 2


def test_no_automatic_restart_without_a_restartable_failure(kit):
    """Three instances in one master, observed over one backoff period: a clean exit (never
    restarted), a failure with `restart: false`, and an ERROR line undone by a checkpoint."""
    m = kit.start()
    a = kit.create(kit.url("a", lines=1, exit=0))["id"]
    b = kit.create(kit.url("b", lines=1, sleep=1.5, exit=1))["id"]
    assert kit.patch(b, {"restart": False})["restart"] is False
    assert kit.count(r"instance error:.*\[" + b) == 0, "b failed before restart:false was applied"
    c = kit.create(kit.url("c", error=1, checkpoints=1))["id"]
    kit.wait_status(a, "stopped")
    kit.wait_status(b, "error", timeout=5)
    kit.wait(c, lambda s: s["ping"] == 5 and s["status"] == "running", 5, "c recovered")
    last = max(kit.log_times(r"instance error: exit status 1" + esc(b)))
    deadline = last + 6.5
    while time.monotonic() < deadline:
        for iid in (a, b, c):
            assert kit.count(starting_re(iid)) == 1, f"{iid} was restarted:\n" + m.stderr_text()
        time.sleep(0.2)
    assert kit.get(a)["status"] == "stopped"
    assert kit.get(b)["status"] == "error"
    assert kit.get(c)["status"] == "running"
    for iid in (a, b, c):
        assert kit.count(starting_re(iid)) == 1, f"{iid} was restarted:\n" + m.stderr_text()


def test_no_bin_configured_is_error_without_spawning(kit):
    m = kit.start(with_bin=False)
    snap = kit.create(kit.url())
    iid = snap["id"]
    assert snap["status"] == "stopped"
    kit.wait_status(iid, "error", timeout=5)
    m.wait_for_log("^" + r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} " + re.escape(
        "Master.startInstanceLocked: instance error: no runtime binary configured "
        f"(start the master with bin=<path>) [{iid}]") + "$")
    assert kit.count(starting_re(iid)) == 0


def test_missing_bin_is_reported_at_startup_and_at_start(kit):
    m = kit.m.start(url_suffix="?bin=/nonexistent/openctrl-runtime")
    m.wait_for_log(r"Master\.new: runtime binary not executable: /nonexistent/openctrl-runtime$")
    iid = kit.create(kit.url())["id"]
    kit.wait_status(iid, "error", timeout=5)
    m.wait_for_log(starting_re(iid))
    line = m.wait_for_log(r"Master\.startInstanceLocked: instance error: (.*)" + esc(iid))
    assert "no such file or directory" in line.group(1).lower(), line.group(0)


def test_put_restarts_with_the_new_url_even_when_stopped(kit):
    m = kit.start()
    pf1, pf2, pf3 = kit.pidfile(), kit.pidfile(), kit.pidfile()
    iid = kit.create(kit.url("one", lines=1, pidfile=pf1))["id"]
    ready(kit, iid)
    pid1, _ = read_pidfile(pf1)
    url2 = kit.url("two", lines=1, pidfile=pf2)
    status, _, body = m.json("PUT", f"/instances/{iid}", {"url": url2})
    assert status == 200, body
    assert body["url"] == url2 and body["type"] == "fixture"
    pid2, _ = read_pidfile(pf2)
    assert cmdline(pid2)[-1] == url2
    assert not pid_alive(pid1), "the old child survived the PUT"
    kit.wait_status(iid, "running")
    m.wait_for_log(r"Master\.handlePutInstance: instance URL updated: "
                   r"fixture://two\?tok=\*\*\*&lines=\*\*\*&pidfile=\*\*\*" + esc(iid))
    # A stopped instance is started by a URL change.
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped")
    url3 = kit.url("three", lines=1, pidfile=pf3)
    status, _, body = m.json("PUT", f"/instances/{iid}", {"url": url3})
    assert status == 200, body
    pid3, _ = read_pidfile(pf3)
    assert cmdline(pid3)[-1] == url3
    kit.wait_status(iid, "running")
    assert kit.token not in m.stderr_text()


def test_delete_stops_the_running_child(kit):
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, grandchild=1, pidfile=pf))["id"]
    ready(kit, iid)
    pid, pgid = read_pidfile(pf)
    r = m.api("DELETE", f"/instances/{iid}")
    assert r.status == 204, r
    # The stop is synchronous: the child was reaped before the answer.
    assert not pid_alive(pid)
    wait_until(lambda: not group_alive(pgid), 5, "process group gone")
    assert m.api("GET", f"/instances/{iid}").status == 404
    m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped" + esc(iid))
