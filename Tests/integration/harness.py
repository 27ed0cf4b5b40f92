"""Drive a private copy of the real `openctrl` binary over real sockets.

The master keeps its state beside its own executable (`<exe dir>/gob/`), so every test runs a copy
of the binary inside its own temporary directory; two tests never share state by accident.
Nothing here sleeps for a fixed time: every wait is a poll against a deadline.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

from wire import (  # noqa: F401  (re-exported for the tests)
    CORS_HEADERS,
    HTTP_TIMEOUT,
    RawConn,
    Resp,
    assert_cors,
    assert_error,
    assert_json,
    assert_no_cors,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / ".build" / "debug" / "openctrl"

START_DEADLINE = 10.0
STOP_DEADLINE = 10.0

LOG_PREFIX = r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} "
STARTED_RE = re.compile(
    "^" + LOG_PREFIX + r"Master\.run: started: (https?)://127\.0\.0\.1:(\d+)(/\S*)$"
)
KEY_RE = re.compile("^" + LOG_PREFIX + r"Master\.run: API key (created|loaded): ([0-9a-f]{32})$")
SEMVER = r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
ENVELOPE_RE = re.compile(r"^openctrl-(" + SEMVER + r") (\w+)/(\w+) pid=(\d+) error=(.*)$")


_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i686": "386",
    "i386": "386",
    "armv7l": "arm",
    "armv6l": "arm",
    "riscv64": "riscv64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "loongarch64": "loong64",
}


def go_arch() -> str:
    """The architecture name the master must report (Go's naming, CONTRACT §1)."""
    machine = platform.machine()
    return _ARCH.get(machine, machine)


def binary_path() -> Path:
    return Path(os.environ.get("OPENCTRL_BIN", str(DEFAULT_BIN)))


def copy_binary(directory: Path) -> Path:
    """Copy the binary under test into `directory` so its state directory is private."""
    src = binary_path()
    if not src.is_file():
        raise FileNotFoundError(f"openctrl binary not found: {src} (build it or set OPENCTRL_BIN)")
    dst = directory / "openctrl"
    shutil.copy2(src, dst)
    return dst


def run_cli(exe: Path, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Run a command that must terminate by itself (help, version, startup errors)."""
    return subprocess.run(
        [str(exe), *args], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def client_tls_context() -> ssl.SSLContext:
    """A TLS client context that accepts any certificate: mode 1's changes at every start and
    names no host (CONTRACT §3.2)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def parse_envelope(line: str) -> dict | None:
    m = ENVELOPE_RE.match(line)
    if not m:
        return None
    return {
        "version": m.group(1),
        "os": m.group(2),
        "arch": m.group(3),
        "pid": int(m.group(4)),
        "message": m.group(5),
    }


class _Run:
    """Output of one process lifetime, collected by reader threads with timestamps."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.cond = threading.Condition()
        self.lines: dict[str, list[tuple[float, str]]] = {"stdout": [], "stderr": []}
        self.open_streams = 2
        self.threads = [
            threading.Thread(target=self._reader, args=(proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._reader, args=(proc.stderr, "stderr"), daemon=True),
        ]
        for t in self.threads:
            t.start()

    def _reader(self, pipe, name: str) -> None:
        for raw in iter(pipe.readline, b""):
            text = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines[name].append((time.monotonic(), text))
                self.cond.notify_all()
        pipe.close()
        with self.cond:
            self.open_streams -= 1
            self.cond.notify_all()

    def finished_output(self) -> bool:
        return self.open_streams == 0

    def join(self, timeout: float = 5.0) -> None:
        for t in self.threads:
            t.join(timeout)


class Master:
    """One private master: a copy of the binary in `workdir`, started and stopped at will.

    Restarting reuses the same copy, hence the same state directory.
    """

    # After a few starts that never announced themselves (a server that hangs or logs a different
    # format), later starts give up quickly so a broken build fails the suite in seconds rather
    # than costing the full deadline in every test.
    silent_starts = 0

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        # Extra environment for the master (e.g. the test-only shortened timeouts).
        self.env: dict[str, str] = {}
        self.exe = copy_binary(self.workdir)
        self.run: _Run | None = None
        self.runs: list[_Run] = []
        self.port = 0
        self.base = ""
        self.key = ""
        self.key_event = ""
        self.scheme = "http"

    # ----- state paths -------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return Path(os.path.realpath(self.workdir)) / "gob"

    @property
    def primary(self) -> Path:
        return self.state_dir / "openctrl.gob"

    @property
    def backup(self) -> Path:
        return self.state_dir / "openctrl.gob.backup"

    @property
    def tmp(self) -> Path:
        return self.state_dir / "openctrl.gob.tmp"

    @property
    def backup_tmp(self) -> Path:
        return self.state_dir / "openctrl.gob.backup.tmp"

    def corrupt_files(self) -> list[Path]:
        if not self.state_dir.is_dir():
            return []
        return sorted(self.state_dir.glob("openctrl.gob.corrupt-*"))

    # ----- process control ---------------------------------------------------------------------
    def spawn(self, args: list[str]) -> _Run:
        if self.run is not None and self.run.proc.poll() is None:
            raise RuntimeError("master already running")
        proc = subprocess.Popen(
            [str(self.exe), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(self.workdir),
            env={**os.environ, **self.env},
        )
        self.run = _Run(proc)
        self.runs.append(self.run)
        return self.run

    def start(
        self,
        url_suffix: str = "",
        expect_fail: bool = False,
        url: str | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        """Start `master://127.0.0.1:0<suffix>` (or `url`). Returns self once the `started` and
        key lines are out, or the exit code when `expect_fail` is set."""
        target = url if url is not None else f"master://127.0.0.1:0{url_suffix}"
        run = self.spawn([target, *extra_args])
        patience = START_DEADLINE if Master.silent_starts < 3 else 1.0
        deadline = time.monotonic() + patience
        if expect_fail:
            return self.wait_for_failure(run, target)
        started = None
        keyline = None
        with run.cond:
            while True:
                for _, line in run.lines["stderr"]:
                    started = started or STARTED_RE.match(line)
                    keyline = keyline or KEY_RE.match(line)
                if started and keyline:
                    break
                if run.finished_output() or time.monotonic() > deadline:
                    break
                run.cond.wait(max(0.0, min(0.2, deadline - time.monotonic())))
        if not (started and keyline):
            exited = run.proc.poll()
            if exited is None:
                Master.silent_starts += 1
                self.kill9()
            raise AssertionError(
                f"master did not announce itself within {patience}s "
                f"(exit={exited}); stderr:\n" + self.stderr_text()
            )
        self.scheme = started.group(1)
        self.port = int(started.group(2))
        self.base = started.group(3)
        self.key_event = keyline.group(1)
        self.key = keyline.group(2)
        return self

    def wait_for_failure(self, run: _Run, target: str) -> int:
        """Exit code of a start that must fail; a `started` line ends the wait at once."""
        deadline = time.monotonic() + START_DEADLINE
        with run.cond:
            while run.proc.poll() is None and time.monotonic() < deadline:
                if any(STARTED_RE.match(line) for _, line in run.lines["stderr"]):
                    break
                run.cond.wait(0.05)
        if run.proc.poll() is None:
            self.kill9()
            raise AssertionError(
                f"expected a startup failure for {target!r}, but the master kept running:\n"
                + self.stderr_text()
            )
        run.join()
        return run.proc.returncode

    @property
    def pid(self) -> int:
        assert self.run is not None
        return self.run.proc.pid

    def alive(self) -> bool:
        return self.run is not None and self.run.proc.poll() is None

    def wait_exit(self, timeout: float = STOP_DEADLINE) -> int:
        assert self.run is not None
        try:
            code = self.run.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"master did not exit within {timeout}s:\n" + self.stderr_text())
        self.run.join()
        return code

    def send_signal(self, sig: int) -> None:
        assert self.run is not None
        os.kill(self.run.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_DEADLINE) -> int:
        """Signal the master and wait for it to exit; returns the exit code."""
        self.send_signal(sig)
        return self.wait_exit(timeout)

    def kill9(self) -> None:
        if self.run is None:
            return
        if self.run.proc.poll() is None:
            self.run.proc.kill()
        self.run.proc.wait(timeout=STOP_DEADLINE)
        self.run.join()

    def cleanup(self) -> None:
        for run in self.runs:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait(timeout=STOP_DEADLINE)
            run.join(1.0)

    # ----- output ------------------------------------------------------------------------------
    def stderr_lines(self) -> list[str]:
        if self.run is None:
            return []
        with self.run.cond:
            return [line for _, line in self.run.lines["stderr"]]

    def stdout_lines(self) -> list[str]:
        if self.run is None:
            return []
        with self.run.cond:
            return [line for _, line in self.run.lines["stdout"]]

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_lines())

    def wait_for_log(self, pattern: str, timeout: float = 5.0, stream: str = "stderr"):
        """Return the first match of `pattern` (re.search) in a line of the current run."""
        assert self.run is not None
        rx = re.compile(pattern)
        run = self.run
        deadline = time.monotonic() + timeout
        with run.cond:
            while True:
                for _, line in run.lines[stream]:
                    m = rx.search(line)
                    if m:
                        return m
                if run.finished_output() or time.monotonic() > deadline:
                    raise AssertionError(
                        f"no log line matching {pattern!r} within {timeout}s:\n"
                        + "\n".join(line for _, line in run.lines[stream])
                    )
                run.cond.wait(max(0.0, min(0.2, deadline - time.monotonic())))

    def envelope(self) -> dict:
        """The startup error envelope, which must be the last stderr line."""
        lines = self.stderr_lines()
        assert lines, "no stderr output"
        env = parse_envelope(lines[-1])
        assert env is not None, "last stderr line is not an error envelope:\n" + "\n".join(lines)
        return env

    # ----- HTTP --------------------------------------------------------------------------------
    def api_path(self, sub: str) -> str:
        return self.base + sub

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict | None = None,
        key: bool | str = True,
        timeout: float = HTTP_TIMEOUT,
    ) -> Resp:
        """One request on a fresh connection. `path` is the full request target; `key=True`
        sends the current API key, a string sends that value, False sends none."""
        if isinstance(body, str):
            body = body.encode()
        hdrs = dict(headers or {})
        if key is True:
            hdrs["X-API-Key"] = self.key
        elif isinstance(key, str):
            hdrs["X-API-Key"] = key
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Resp(resp.status, resp.msg, data)
        finally:
            conn.close()

    def connection(self, timeout: float = HTTP_TIMEOUT) -> http.client.HTTPConnection:
        """A new client connection in the scheme the master announced (HTTPS for tls=1/2)."""
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout, context=client_tls_context()
            )
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def api(self, method: str, sub: str, body=None, headers=None, key: bool | str = True) -> Resp:
        """Request `<base><sub>`, for example `api("GET", "/info")`."""
        return self.request(method, self.base + sub, body=body, headers=headers, key=key)

    def json(self, method: str, sub: str, obj=None, key: bool | str = True):
        """JSON round trip on `<base><sub>`: returns (status, headers, decoded body)."""
        body = None if obj is None else json.dumps(obj).encode()
        r = self.api(method, sub, body=body, key=key)
        return r.status, r.headers, (json.loads(r.body) if r.body else None)

    def info(self) -> dict:
        r = self.api("GET", "/info")
        assert r.status == 200, r
        return r.json()

    def raw(self, timeout: float = HTTP_TIMEOUT) -> RawConn:
        return RawConn(self.port, timeout)

    def raw_request(self, data: bytes, head_request: bool = False) -> Resp:
        with self.raw() as c:
            c.send(data)
            return c.read_response(head_request=head_request)
