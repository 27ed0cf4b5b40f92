"""Hostile runtime processes (CONTRACT §9.4, §11, §12.1, §12.2): a hundred grandchildren, a child
that closes its output, runtimes that cannot be executed or exit at once, and descriptors
exhausted at spawn time. Each instance must end in its contracted status, nothing the child
started may survive it, and the master must stay responsive throughout.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from harness import REPO, RawConn
from instances_helpers import (  # noqa: F401  (kit: fixture)
    Kit, group_alive, kit, pid_alive, read_pidfile, starting_re, wait_until,
)
from master_variants import LimitedMaster
from swarm import fd_count

HOSTILE = (REPO / "Tests" / "fixtures" / "hostile_runtime.py").resolve()
GRANDCHILDREN = 100


def esc(iid: str) -> str:
    return r" \[" + re.escape(iid) + r"\]$"


def read_family(path: Path, timeout: float = 10.0) -> tuple[int, int, list[int]]:
    """(pid, pgid, grandchildren) from hostile_runtime's pidfile (written atomically)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"pidfile {path} not written within {timeout}s")
        time.sleep(0.05)
    pid, pgid, *rest = map(int, path.read_text().split())
    return pid, pgid, rest


@pytest.mark.parametrize("end", ["stop", "exit"])
def test_hundred_grandchildren_die_with_the_instance(kit, end):
    """The child forks 100 grandchildren that ignore SIGTERM and hold the output pipe. Stopped
    (T8b) or exiting 0 by itself (T3), it ends `stopped` promptly and no member of its process
    group survives: the group SIGKILL that follows the child's exit reaches them all."""
    m = kit.m.start(url_suffix=f"?bin={HOSTILE}")
    pf = kit.pidfile()
    query = {"forks": GRANDCHILDREN, "deaf": 1, "pidfile": pf}
    if end == "exit":
        query.update(exit=0)
    iid = kit.create(kit.url(**query))["id"]
    pid, pgid, family = read_family(pf)
    assert pgid == pid and len(family) == GRANDCHILDREN
    t0 = time.monotonic()
    if end == "stop":
        assert all(pid_alive(p) for p in family)
        kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped", timeout=8)
    elapsed = time.monotonic() - t0
    wait_until(lambda: not group_alive(pgid), 5, "process group gone")
    survivors = [p for p in [pid, *family] if pid_alive(p)]
    assert survivors == [], survivors
    assert elapsed < 4.0, f"took {elapsed:.2f}s to reach stopped"
    if end == "stop":
        m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped" + esc(iid))
    assert kit.count(r"instance error:.*\[" + iid) == 0
    assert kit.count(r"instance force killed" + esc(iid)) == 0
    assert m.info()


def test_child_with_closed_output_that_ignores_sigterm_is_force_killed(kit):
    """Output closed and SIGTERM ignored: the instance stays `running` (EOF is not an exit), and a
    stop ends it by SIGKILL after the 5 s grace, logged as forced."""
    m = kit.start()
    pf = kit.pidfile()
    iid = kit.create(kit.url(lines=1, closeout=1, ignoreterm=1, pidfile=pf))["id"]
    m.wait_for_log("^" + re.escape(f"line 1 [{iid}]") + "$", stream="stdout")
    pid, _ = read_pidfile(pf)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}/fd/1"), 5, "child closed its output")
    assert kit.get(iid)["status"] == "running"
    t0 = time.monotonic()
    kit.patch(iid, {"action": "stop"})
    m.wait_for_log(r"Master\.stopInstanceLocked: instance force killed" + esc(iid), timeout=10)
    elapsed = time.monotonic() - t0
    kit.wait_status(iid, "stopped", timeout=3)
    assert 4.5 <= elapsed <= 8.0, f"force kill after {elapsed:.2f}s"
    wait_until(lambda: not pid_alive(pid), 3, "child gone")
    assert m.info()
    print(f"\nclosed output, deaf: force killed {elapsed:.2f}s after the stop")


def test_child_with_closed_output_that_fails_later_is_error(kit):
    """Output closed, then exit 3 a second later: exit is still detected (T4) without any EOF
    to wait for, and the failure is logged."""
    m = kit.start()
    iid = kit.create(kit.url(lines=1, closeout=1, sleep=1, exit=3))["id"]
    kit.wait_status(iid, "error", timeout=6)
    m.wait_for_log(r"Master\.monitorInstance: instance error: exit status 3" + esc(iid))


def write_runtime(tmp: Path, name: str, content: bytes, mode: int = 0o755) -> Path:
    path = tmp / name
    path.write_bytes(content)
    path.chmod(mode)
    return path


UNRUNNABLE = [
    ("bad-interpreter", b"#!/nonexistent/interpreter\nexit 0\n", "no such file or directory"),
    ("no-shebang-text", b"exit 0\n", "exec format error"),
    ("empty-file", b"", "exec format error"),
    ("interpreter-is-a-directory", b"#!/tmp\n", "permission denied"),
]


@pytest.mark.parametrize("name,content,reason", UNRUNNABLE, ids=[u[0] for u in UNRUNNABLE])
def test_runtime_that_cannot_be_executed_is_a_spawn_failure(kit, name, content, reason):
    """An executable file the kernel refuses: T2b with Go's `fork/exec <path>: <errno text>`,
    after the `instance starting` line; no process is left behind."""
    bin_path = write_runtime(kit.tmp, name, content)
    m = kit.m.start(url_suffix=f"?bin={bin_path}")
    iid = kit.create(kit.url())["id"]
    kit.wait_status(iid, "error", timeout=5)
    line = m.wait_for_log(r"Master\.startInstanceLocked: instance error: (.*)" + esc(iid))
    assert line.group(1) == f"fork/exec {bin_path}: {reason}", line.group(0)
    assert kit.log_times(starting_re(iid))[0] <= kit.log_times(r"instance error:.*" + esc(iid))[0]
    assert m.info()


def test_spawn_failures_are_retried_with_backoff(kit):
    """A spawn failure counts as a failure for the restart policy (§11): the first retry comes
    5 s after the first failure and fails the same way."""
    bin_path = write_runtime(kit.tmp, "bad-interpreter", b"#!/nonexistent/interpreter\n")
    kit.m.start(url_suffix=f"?bin={bin_path}")
    iid = kit.create(kit.url())["id"]
    times = kit.wait_count(r"instance error: fork/exec .*: no such file or directory" + esc(iid), 2, 10)
    assert 4.0 <= times[1] - times[0] <= 8.0, times
    assert kit.get(iid)["status"] == "error"
    print(f"\nspawn failure retried after {times[1] - times[0]:.2f}s")


@pytest.mark.parametrize("binary,status", [("/bin/true", "stopped"), ("/bin/false", "error")])
def test_binaries_that_exit_at_once(kit, binary, status):
    """Twenty children that exit before the master can register them: each exit is still
    matched to its instance (T3 for status 0, T4 for status 1); a failure is restarted by the
    backoff 5 s later, a clean exit is not restarted."""
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} missing")
    m = kit.m.start(url_suffix=f"?bin={binary}")
    ids = [kit.create(kit.url(f"h{i}"))["id"] for i in range(20)]
    for iid in ids:
        kit.wait_status(iid, status, timeout=10)
    if status == "stopped":
        for iid in ids:
            assert kit.count(starting_re(iid)) == 1
            assert kit.count(r"instance error:.*" + esc(iid)) == 0
    else:
        for iid in ids:
            m.wait_for_log(r"Master\.monitorInstance: instance error: exit status 1" + esc(iid))
        gaps = []
        for iid in ids:
            times = kit.wait_count(starting_re(iid), 2, 10)
            gaps.append(times[1] - times[0])
            assert 4.0 <= gaps[-1] <= 8.0, (iid, times)
        print(f"\n{binary}: restarted {min(gaps):.2f}-{max(gaps):.2f}s after the first start")
    assert m.info()


# ----- descriptors exhausted at spawn time --------------------------------------------------------
SLEEPER = b"#!/bin/sh\nwhile :; do sleep 3600; done\n"
LIMIT = 48


@pytest.fixture
def lkit(tmp_path):
    """A kit whose master runs with RLIMIT_NOFILE = LIMIT (soft and hard)."""
    m = LimitedMaster(tmp_path, LIMIT)
    k = Kit(m, tmp_path)
    yield k
    try:
        if m.alive():
            m.stop(timeout=12)
    except (AssertionError, OSError):
        pass
    m.cleanup()
    k.sweep()


class Conn:
    """One keep-alive connection, opened before the descriptors run out, so the test can talk
    to the master while it cannot accept new ones."""

    def __init__(self, m):
        self.m = m
        self.c = RawConn(m.port, 10)

    def call(self, method: str, sub: str, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.c.send(f"{method} {self.m.base}{sub} HTTP/1.1\r\nHost: x\r\nX-API-Key: {self.m.key}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        r = self.c.read_response(timeout=10)
        return r.status, (json.loads(r.body) if r.body else None)

    def statuses(self) -> dict[str, str]:
        status, lst = self.call("GET", "/instances")
        assert status == 200, lst
        return {i["id"]: i["status"] for i in lst if i["id"] != "********"}


def test_descriptors_exhausted_at_spawn(lkit):
    """With 48 descriptors the master runs out of pipes after a few dozen children: each start
    that cannot get a pipe is T2b (`error`, reason naming the errno, retried with backoff), the
    API keeps answering on an open connection, and once instances are deleted the failed ones
    recover by themselves, fresh connections are accepted again, and no descriptor is leaked."""
    sleeper = write_runtime(lkit.tmp, "sleeper", SLEEPER)
    m = lkit.m.start(url_suffix=f"?bin={sleeper}")
    conn = Conn(m)
    assert conn.call("GET", "/info")[0] == 200
    # The change log stays open once the first change is appended: part of the baseline.
    status, first = conn.call("POST", "/instances", {"url": "sleep://warm-up"})
    assert status == 201 and conn.call("DELETE", f"/instances/{first['id']}")[0] == 204
    baseline = fd_count(m.pid)
    created = []
    failed: list[str] = []
    for i in range(LIMIT):
        status, snap = conn.call("POST", "/instances", {"url": f"sleep://h{i}"})
        assert status == 201, snap
        created.append(snap["id"])
        # Children start without waiting for the create's write, so a fast client can run
        # ahead of the spawner threads: wait for this start's outcome before the next create.
        wait_until(lambda: conn.statuses()[snap["id"]] in ("running", "error"), 5, "the start decided")
        failed = [iid for iid, s in conn.statuses().items() if s == "error"]
        if len(failed) >= 3:
            break
    assert len(failed) >= 3, f"descriptors never ran out (limit {LIMIT}, baseline {baseline})"
    for iid in failed:
        line = m.wait_for_log(r"Master\.startInstanceLocked: instance error: (.*)" + esc(iid))
        assert "too many open files" in line.group(1).lower(), line.group(0)
    t0 = time.monotonic()
    assert conn.call("GET", "/info")[0] == 200
    assert time.monotonic() - t0 < 0.5
    # A pipe needs two descriptors and a connection one, so the last free one still admits a
    # fresh client.
    t1 = time.monotonic()
    assert m.api("GET", "/info").status == 200
    fresh = time.monotonic() - t1
    running = [iid for iid, s in conn.statuses().items() if s == "running"]
    print(f"\nfd exhaustion: limit {LIMIT}, baseline {baseline}, {len(running)} running, "
          f"{len(failed)} failed to spawn; fresh /info {fresh * 1000:.0f} ms")
    # Free more descriptors than the failed starts need; their backoff retry then succeeds.
    for iid in running[: len(failed) + 4]:
        assert conn.call("DELETE", f"/instances/{iid}")[0] == 204
    for iid in failed:
        deadline = time.monotonic() + 15
        while conn.statuses()[iid] != "running":
            assert time.monotonic() < deadline, f"{iid} did not recover"
            time.sleep(0.1)
    assert m.api("GET", "/info").status == 200
    for iid in conn.statuses():
        assert conn.call("DELETE", f"/instances/{iid}")[0] == 204
    conn.c.close()
    wait_until(lambda: fd_count(m.pid) <= baseline - 1, 5, "descriptors back to the baseline")
    assert m.info()
