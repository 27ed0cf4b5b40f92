"""Helpers for the event-stream tests (CONTRACT §13): a master whose runtime is
`Tests/fixtures/sse_runtime.py`, children driven through a FIFO so output happens when a test
asks for it, watchers, and the exact frame shapes.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time

import pytest

from harness import REPO, Master, client_tls_context
from instances_helpers import FIELDS, Kit, kit  # noqa: F401  (kit: fixture)
from sse import SSEClient

SSE_RUNTIME = (REPO / "Tests" / "fixtures" / "sse_runtime.py").resolve()
KEY_ID = "********"

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?(Z|[+-]\d{2}:\d{2})$")
ID_RE = re.compile(r"^[0-9a-f]{8}\.[1-9]\d*$")
LIVE_FRAME = re.compile(rb"^id: ([0-9a-f]{8}\.[1-9]\d*)\nevent: instance\ndata: (\{[^\n]*\})\n\n$")
INITIAL_FRAME = re.compile(rb"^event: instance\ndata: (\{[^\n]*\})\n\n$")
RETRY = b"retry: 3000\n\n"
PAYLOAD_KEYS = ["type", "time", "instance", "logs"]
RESUME_GAP = "OpenCtrl dropped log events before this connection"
GAP_RE = re.compile(r"^OpenCtrl dropped (\d+) log events for this connection$")
DISCONNECT_RE = r"Master\.handleSSE: watcher disconnected: "


def go_json(obj) -> bytes:
    """Compact JSON escaped as the master writes it (CONTRACT §7.1)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()


def assert_frame_grammar(frame: dict) -> None:
    """One frame of §13.2, byte-exact: optional `id`, `event: instance`, one compact `data` line
    whose payload fields come in order; initial frames carry no id, live ones do."""
    raw = frame["raw"]
    m = LIVE_FRAME.match(raw) or INITIAL_FRAME.match(raw)
    assert m, raw[:300]
    assert b"\r" not in raw
    data = frame["data"]
    assert list(data) == PAYLOAD_KEYS, list(data)
    assert m.group(m.lastindex) == go_json(data), raw[:300]
    assert RFC3339.match(data["time"]), data["time"]
    control = data["type"] == "initial" or (data["type"] == "log" and data["instance"] is None)
    assert (frame["id"] is None) == control, raw[:300]
    if data["instance"] is not None:
        assert list(data["instance"]) == FIELDS, list(data["instance"])
    if data["type"] != "log":
        assert data["logs"] == ""


class Ev:
    """The kit's master started with the FIFO-driven runtime, plus watcher helpers."""

    def __init__(self, k: Kit):
        self.kit = k
        self.m: Master = k.m
        self.ctls: list[Ctl] = []

    def start(self, sse_timing: str | None = None, http_timeouts: str | None = None,
              tls: bool = False) -> Master:
        if sse_timing:
            self.m.env["OPENCTRL_TEST_SSE_TIMING"] = sse_timing
        if http_timeouts:
            self.m.env["OPENCTRL_TEST_HTTP_TIMEOUTS"] = http_timeouts
        return self.m.start(url_suffix=f"?bin={SSE_RUNTIME}" + ("&tls=1" if tls else ""))

    def watch(self, key: str | None = None, **kw) -> SSEClient:
        if self.m.scheme == "https":
            kw.setdefault("tls", client_tls_context())
        return SSEClient(self.m.port, self.m.base + "/events",
                         key=self.m.key if key is None else key, **kw)

    def records(self) -> list[dict]:
        status, _, body = self.m.json("GET", "/instances")
        assert status == 200, (status, body)
        return body

    def watch_ready(self, **kw) -> SSEClient:
        """A watcher whose head and whole snapshot were read (so it is registered)."""
        count = len(self.records())
        c = self.watch(**kw)
        assert c.read_head() == 200
        c.snapshot(count)
        return c

    def child(self, alias: str = "", wait_running: bool = True, **query) -> tuple[str, Ctl]:
        """An instance whose child takes commands on a FIFO; returns (id, control)."""
        path = self.kit.tmp / f"ctl{len(self.ctls) + 1}"
        os.mkfifo(path)
        iid = self.kit.create(self.kit.url(ctl=str(path), **query), alias=alias)["id"]
        ctl = Ctl(path)
        self.ctls.append(ctl)
        if wait_running:
            self.kit.wait_status(iid, "running")
        return iid, ctl

    def patch_alias(self, iid: str, alias: str) -> dict:
        return self.kit.patch(iid, {"alias": alias})

    def close(self) -> None:
        for ctl in self.ctls:
            ctl.close()


class Ctl:
    """The writing end of a child's command FIFO, opened once the child has opened its end."""

    def __init__(self, path):
        self.path = path
        self.fd: int | None = None

    def send(self, command: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        os.write(self.fd, (command + "\n").encode())

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@pytest.fixture
def ev(kit):
    e = Ev(kit)
    yield e
    e.close()
