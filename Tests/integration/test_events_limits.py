"""Watchers and the master's resources: closed watchers free their descriptors, a stream that
ends on a keep-alive connection breaks nothing, and running out of descriptors is survived
(CONTRACT §4.4, §13.5, §13.6)."""

from __future__ import annotations

import json
import os
import time

from events_helpers import KEY_ID, ev, kit  # noqa: F401  (ev, kit: fixtures)
from harness import assert_error
from sse import StreamEnded, kind, logs

FD_LIMIT = 64


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_fds_at_most(pid: int, limit: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = fd_count(pid)
        if n <= limit or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def request(m, method: str, sub: str, body: bytes = b"", key: str | None = None) -> bytes:
    return (f"{method} {m.base}{sub} HTTP/1.1\r\nHost: x\r\nX-API-Key: {key or m.key}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_closed_watchers_free_their_descriptors(ev):
    m = ev.start()
    baseline = fd_count(m.pid)
    watchers = []
    for _ in range(200):
        c = ev.watch()
        assert c.read_head() == 200
        c.snapshot(1)
        watchers.append(c)
    assert fd_count(m.pid) >= baseline + 200
    for c in watchers:
        c.close()
    left = wait_fds_at_most(m.pid, baseline, 5)
    assert left <= baseline, f"{left} descriptors open, {baseline} before the watchers"
    assert m.info()
    # Publishing to a hub whose watchers are all gone is harmless.
    iid, _ = ev.child()
    assert ev.records()[1]["id"] == iid
    assert m.alive()


def test_stream_ending_on_a_keep_alive_connection(ev):
    """A watcher that first used its connection for an ordinary request, then streamed, with a
    further request already pipelined behind: rotation ends the stream and closes the
    connection; the pipelined request is never served with the old key's authority."""
    m = ev.start()
    with m.raw() as c:
        c.send(request(m, "GET", "/info"))
        assert c.read_response().status == 200
        c.send(request(m, "GET", "/events") + request(m, "GET", "/info"))
        deadline = time.monotonic() + 5
        while b"retry: 3000\n\n" not in c.buf:
            assert c.readable(max(0.0, deadline - time.monotonic())), "no stream started"
            chunk = c.sock.recv(65536)
            assert chunk, f"closed before the stream started: {c.buf!r}"
            c.buf += chunk
        status, _, body = m.json("PATCH", f"/instances/{KEY_ID}", {"action": "restart"})
        assert status == 200
        new = body["url"]
        assert c.wait_closed(5), "the stream's connection stayed open after the rotation"
        data = c.buf
        assert data.startswith(b"HTTP/1.1 200 "), data[:200]
        assert data.count(b"HTTP/1.1 200 ") == 1, "the pipelined request was served with the old key"
        assert b'"type":"shutdown"' in data
        assert new.encode() not in data
    m.key = new
    assert m.info()
    assert m.alive()


def test_descriptor_exhaustion_is_survived(ev):
    """Under a 64-descriptor limit (soft and hard, so the master cannot raise it), watchers are
    opened until the master cannot accept: it logs `accept failed`, keeps feeding the open
    watchers, and serves new requests again once some watchers leave."""
    m = ev.m
    wrapper = ev.kit.tmp / "limited"
    wrapper.write_text(f'#!/bin/sh\nexec prlimit --nofile={FD_LIMIT}:{FD_LIMIT} "{m.exe}" "$@"\n')
    wrapper.chmod(0o755)
    m.exe = wrapper
    ev.start()
    with open(f"/proc/{m.pid}/limits") as f:
        assert any(line.startswith("Max open files") and line.split()[3:5] == [str(FD_LIMIT)] * 2
                   for line in f), "the master does not run under the test's limit"
    iid, ctl = ev.child()
    watchers = []
    stuck = None
    try:
        for _ in range(FD_LIMIT + 10):
            c = ev.watch()
            try:
                c.read_head(timeout=1.5)
                c.snapshot(2)
            except (TimeoutError, StreamEnded):
                stuck = c
                break
            watchers.append(c)
        assert stuck is not None, f"{len(watchers)} watchers accepted under a {FD_LIMIT} limit"
        m.wait_for_log(r"Master\.run: accept failed: too many open files; retrying in \d+ ms$")
        assert len(watchers) > FD_LIMIT // 2
        # The open watchers are still fed (the child's pipe is already open).
        ctl.send("lines 1 still")
        for c in watchers:
            frame = c.read_until(lambda f: kind(f) == "log", timeout=5)[-1]
            assert logs(frame) == "still 1"
        for c in watchers[:5]:
            c.close()
        # The connection that waited in the backlog is served, and so are new ones.
        if not stuck.eof:
            assert stuck.read_head(timeout=5) == 200
        deadline = time.monotonic() + 5
        while True:
            try:
                r = m.api("GET", "/info")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
        assert r.status == 200 and json.loads(r.body)["ver"]
    finally:
        for c in watchers:
            c.close()
        if stuck is not None:
            stuck.close()
    assert m.alive()
    assert_error(m.api("GET", "/info", key="0" * 32), 401, "Unauthorized: Invalid API key")
