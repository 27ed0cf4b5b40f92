"""Helpers for the instance and lifecycle tests: a master wired to the runtime fixture, instance
URLs that mark their children, polling helpers and a process sweep at teardown.

Every child started through `Kit.url` carries a per-test token in its argv, so the teardown can
find and kill exactly the processes (and their process groups) this test caused, even when the
test failed half-way or the master was killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from harness import REPO, Master

FIXTURE = (REPO / "Tests" / "fixtures" / "runtime.py").resolve()
BIN_SUFFIX = f"?bin={FIXTURE}"

ID_RE = re.compile(r"^[0-9a-f]{8}$")
FIELDS = ["id", "alias", "type", "status", "url", "config", "restart", "meta", "mode", "ping",
          "pool", "tcps", "udps", "tcprx", "tcptx", "udprx", "udptx"]
LIVE = ("ping", "pool", "tcps", "udps")
COUNTERS = ("tcprx", "tcptx", "udprx", "udptx")
MAX_I64 = 9223372036854775807


class Kit:
    """A master plus the test's temporary directory and a token marking its children."""

    def __init__(self, master: Master, tmp: Path):
        self.m = master
        self.tmp = Path(tmp)
        self.token = "t" + secrets.token_hex(6)
        self._n = 0

    # ----- master --------------------------------------------------------------------------------
    def start(self, with_bin: bool = True) -> Master:
        return self.m.start(url_suffix=BIN_SUFFIX if with_bin else "")

    def restart_master(self, with_bin: bool = True) -> Master:
        assert self.m.stop() == 0, self.m.stderr_text()
        return self.start(with_bin)

    # ----- URLs and files ----------------------------------------------------------------------
    def pidfile(self) -> Path:
        self._n += 1
        return self.tmp / f"pid{self._n}"

    def url(self, host: str = "x", **query) -> str:
        """`fixture://<host>?tok=<token>&<query>`; the token marks the child for the sweep."""
        q = {"tok": self.token}
        q.update({k: str(v) for k, v in query.items()})
        return f"fixture://{host}?{urlencode(q)}"

    # ----- API -----------------------------------------------------------------------------------
    def create(self, url: str, alias: str = "") -> dict:
        status, _, body = self.m.json("POST", "/instances", {"alias": alias, "url": url})
        assert status == 201, (status, body)
        return body

    def get(self, iid: str) -> dict:
        status, _, body = self.m.json("GET", f"/instances/{iid}")
        assert status == 200, (status, body)
        return body

    def patch(self, iid: str, obj: dict) -> dict:
        status, _, body = self.m.json("PATCH", f"/instances/{iid}", obj)
        assert status == 200, (status, body)
        return body

    def wait(self, iid: str, pred, timeout: float = 10.0, what: str = "condition") -> dict:
        """Poll GET until `pred(snapshot)` holds; returns that snapshot."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.get(iid)
            if pred(last):
                return last
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached within {timeout}s; last: {last}")
            time.sleep(0.05)

    def wait_status(self, iid: str, status: str, timeout: float = 10.0) -> dict:
        return self.wait(iid, lambda s: s["status"] == status, timeout, f"status {status!r}")

    # ----- logs ----------------------------------------------------------------------------------
    def log_times(self, pattern: str, stream: str = "stderr") -> list[float]:
        """Monotonic arrival times of the current run's lines matching `pattern`."""
        rx = re.compile(pattern)
        run = self.m.run
        assert run is not None
        with run.cond:
            return [t for t, line in run.lines[stream] if rx.search(line)]

    def count(self, pattern: str, stream: str = "stderr") -> int:
        return len(self.log_times(pattern, stream))

    def wait_count(self, pattern: str, n: int, timeout: float, stream: str = "stderr") -> list[float]:
        deadline = time.monotonic() + timeout
        while True:
            times = self.log_times(pattern, stream)
            if len(times) >= n:
                return times
            if time.monotonic() > deadline:
                lines = self.m.stderr_lines() if stream == "stderr" else self.m.stdout_lines()
                raise AssertionError(
                    f"{len(times)} of {n} lines matching {pattern!r} within {timeout}s:\n"
                    + "\n".join(lines[-60:]))
            time.sleep(0.05)

    # ----- sweep ---------------------------------------------------------------------------------
    def sweep(self) -> None:
        """SIGKILL every process whose argv carries the token, with its process group."""
        for pid in pids_with(self.token):
            try:
                pgid = os.getpgid(pid)
                if pgid == pid:
                    os.killpg(pgid, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def pids_with(marker: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if marker.encode() in cmd:
            out.append(int(entry))
    return out


def proc_state(pid: int) -> str | None:
    """The /proc state letter of `pid`, None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data.rsplit(")", 1)[1].split()[0]


def group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            out.append(int(entry))
    return out


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting for its reaper."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return proc_state(pid) not in (None, "Z")


def group_alive(pgid: int) -> bool:
    """True while the process group has a member that is not a zombie. `os.killpg(pgid, 0)`
    raising ProcessLookupError is the normal end; zombies (killed, not yet reaped by init) count
    as dead."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return any(proc_state(p) not in (None, "Z") for p in group_members(pgid))


def wait_until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


def read_pidfile(path: Path, timeout: float = 10.0) -> tuple[int, int]:
    """(pid, pgid) written by the fixture; waits for the file to be complete."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        if text.endswith("\n"):
            pid, pgid = text.split()
            return int(pid), int(pgid)
        if time.monotonic() > deadline:
            raise AssertionError(f"pidfile {path} not written within {timeout}s")
        time.sleep(0.05)


def ordered(body: bytes) -> list[str]:
    """Top-level keys of a JSON object in emitted order."""
    return [k for k, _ in json.loads(body, object_pairs_hook=lambda pairs: pairs)]


def starting_re(iid: str) -> str:
    return r"Master\.startInstanceLocked: instance starting: .* \[" + re.escape(iid) + r"\]$"


@pytest.fixture
def kit(master, tmp_path):
    """A not-yet-started master with helpers; at teardown the master is stopped gracefully when
    still running and every child it started for this test is killed."""
    k = Kit(master, tmp_path)
    yield k
    try:
        if master.alive():
            master.stop(timeout=12)
    except (AssertionError, OSError):
        pass
    k.sweep()
