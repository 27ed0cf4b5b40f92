"""A fleet of `/events` watchers on one epoll selector, for the 2,000-watcher fan-out test
(test_events_fanout.py): each watcher de-chunks its stream and records ids, state events and gap
notices; the fleet connects, reads, pauses and resets them; plus the master-side readings and
the §13.5 accounting checks over what a watcher recorded.
"""

from __future__ import annotations

import errno
import json
import os
import re
import selectors
import socket
import struct
import threading
import time
from array import array

from events_helpers import GAP_RE
from sse import ChunkDecoder

# Generous: 2,000 watchers on a shared 2-core machine. Only conditions are waited for.
WAIT = 60.0

LOG_HEAD = b'event: instance\ndata: {"type":"log"'
DATA_HEAD = b"event: instance\ndata: "
SAMPLE_RE = re.compile(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)$", re.M)


# ----- one watcher -----------------------------------------------------------------------------
class Watcher:
    """One `/events` connection on the shared selector: de-chunks the body and records, per
    frame, only what the checks need: every live id in order (`live`), state events in full
    (`states`), gap notices as (position in `live`, count), snapshot frames, anything malformed
    (`bad`). `keep_logs` also decodes log lines (the reference)."""

    def __init__(self, role: str, index: int, rcvbuf: int | None, maxseg: int | None,
                 keep_logs: bool = False):
        self.role = role
        self.index = index
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if maxseg is not None:
            # A small MSS keeps the master's socket send buffer small too (on loopback the
            # kernel sizes it from a 64 KiB MSS, ~2.7 MB), so a stalled watcher's backlog
            # reaches the master's own buffer, where §13.5 applies, after a few hundred KB.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
        self.sock.setblocking(False)
        self.keep_logs = keep_logs
        self.connected = False
        self.reading = False
        self.closed = False      # closed by us
        self.eof = False         # closed by the master
        self.status = 0
        self.head_done = False
        self.raw = bytearray()
        self.body = bytearray()
        self.decoder = ChunkDecoder()
        self.boot: bytes | None = None
        self.live = array("I")
        self.states: list[tuple] = []
        self.aliases: set[str] = set()  # of updates, for the barrier waits
        self.notices: list[tuple[int, int]] = []
        self.log_count = 0
        self.log_lines: list[str] = []
        self.initial = 0
        self.retries = 0
        self.bad: list[bytes] = []

    # bytes in
    def feed(self, data: bytes) -> None:
        self.raw += data
        if not self.head_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.raw[:end]).decode("latin-1")
            del self.raw[:end + 4]
            self.head_done = True
            self.status = int(head.split(" ", 2)[1])
            if "transfer-encoding: chunked" not in head.lower():
                self.bad.append(b"reply not chunked: " + head.encode())
        self._dechunk()
        self._frames()

    def _dechunk(self) -> None:
        try:
            self.decoder.feed(self.raw, self.body)
        except ValueError as exc:
            self.bad.append(str(exc).encode())
            self.decoder.ended = True

    def _frames(self) -> None:
        body, start = self.body, 0
        while True:
            end = body.find(b"\n\n", start)
            if end < 0:
                break
            self._frame(bytes(body[start:end]))
            start = end + 2
        del body[:start]

    def _frame(self, f: bytes) -> None:
        if f.startswith(b"id: "):
            nl = f.find(b"\n")
            if self.boot is None:
                self.boot = f[4:12]
            if f[4:12] != self.boot or f[12:13] != b".":
                self.bad.append(f[:200])
                return
            s = int(f[13:nl])
            self.live.append(s)
            if f.startswith(LOG_HEAD, nl + 1):
                self.log_count += 1
                if self.keep_logs:
                    self.log_lines.append(json.loads(f[nl + 1 + len(DATA_HEAD):])["logs"])
                return
            if not f.startswith(DATA_HEAD, nl + 1):
                self.bad.append(f[:200])
                return
            d = json.loads(f[nl + 1 + len(DATA_HEAD):])
            inst = d["instance"] or {}
            self.states.append((s, d["type"], inst.get("id"), inst.get("alias"), inst.get("status")))
            if d["type"] == "update":
                self.aliases.add(inst["alias"])
        elif f.startswith(DATA_HEAD):
            d = json.loads(f[len(DATA_HEAD):])
            if d["type"] == "initial":
                self.initial += 1
                return
            m = GAP_RE.match(d["logs"])
            if d["type"] == "log" and d["instance"] is None and m:
                self.notices.append((len(self.live), int(m.group(1))))
            else:
                self.bad.append(f[:200])
        elif f == b"retry: 3000":
            self.retries += 1  # the first frame, or a heartbeat
        else:
            self.bad.append(f[:200])

    # queries
    @property
    def open(self) -> bool:
        return not (self.closed or self.eof)

    def saw_alias(self, alias: str) -> bool:
        return alias in self.aliases

    def describe(self) -> str:
        return (f"{self.role} watcher #{self.index} (eof={self.eof}, live={len(self.live)}, "
                f"states={len(self.states)}, notices={self.notices[-3:]}, bad={self.bad[:2]})")


# ----- all of them -----------------------------------------------------------------------------
class Fleet:
    """Every watcher on one selector. `pump` reads whatever is ready from the watchers that are
    reading; stalled ones are simply not registered."""

    def __init__(self, m):
        self.m = m
        self.sel = selectors.DefaultSelector()
        self.watchers: list[Watcher] = []
        self.request = (f"GET {m.base}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"X-API-Key: {m.key}\r\n\r\n").encode()

    def connect(self, specs: list[tuple], records: int, in_flight: int = 100) -> None:
        """Opens every watcher, at most `in_flight` handshakes at a time so the listen backlog
        never overflows, and waits until each has its whole snapshot (it is then registered in
        the hub: §13.3 makes registration and snapshot one step)."""
        pending = list(specs)
        deadline = time.monotonic() + WAIT
        while pending or any(not w.connected for w in self.watchers):
            waiting = sum(1 for w in self.watchers if not w.connected and not w.eof)
            while pending and waiting < in_flight:
                w = Watcher(*pending.pop(0))
                rc = w.sock.connect_ex(("127.0.0.1", self.m.port))
                assert rc in (0, errno.EINPROGRESS), f"connect: {errno.errorcode.get(rc, rc)}"
                self.watchers.append(w)
                self.sel.register(w.sock, selectors.EVENT_WRITE, w)
                w.reading = True
                waiting += 1
            assert time.monotonic() < deadline, f"only {len(self.watchers)} watchers connected in {WAIT}s"
            self.pump(0.05)
        ready = lambda: all(w.head_done and w.initial == records for w in self.watchers)  # noqa: E731
        assert self.run_until(ready, WAIT), (
            "watchers without their snapshot: "
            + "; ".join(w.describe() for w in self.watchers if w.initial != records)[:2000])
        for w in self.watchers:
            assert w.status == 200 and w.retries == 1 and not w.bad, w.describe()

    def pump(self, timeout: float, tick=None) -> None:
        """One selector round. With 2,000 ready sockets a round takes a while, so `tick` also
        runs every 100 reads (the test's hook to act in the middle of a fan-out)."""
        for n, (key, events) in enumerate(self.sel.select(timeout)):
            if tick is not None and n % 100 == 99:
                tick()
            w: Watcher = key.data
            if not w.reading:
                continue  # paused or reset by `tick` in this round
            if not w.connected:
                err = w.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                assert not err, f"watcher connect failed: errno {err}"
                w.connected = True
                w.sock.send(self.request)  # a fresh socket takes 100 bytes at once
                self.sel.modify(w.sock, selectors.EVENT_READ, w)
                continue
            self.read(w)

    def read(self, w: Watcher) -> None:
        try:
            data = w.sock.recv(1 << 18)
        except BlockingIOError:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            w.eof = True
            self.pause(w)
            return
        w.feed(data)

    def pause(self, w: Watcher) -> None:
        if w.reading:
            self.sel.unregister(w.sock)
            w.reading = False

    def resume(self, w: Watcher) -> None:
        if not w.reading and w.open:
            self.sel.register(w.sock, selectors.EVENT_READ, w)
            w.reading = True

    def reset(self, w: Watcher) -> None:
        """Closes abruptly: SO_LINGER 0 makes close() send RST and drop unread data."""
        self.pause(w)
        w.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.sock.close()
        w.closed = True

    def run_until(self, pred, timeout: float, tick=None) -> bool:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                return False
            if tick is not None:
                tick()
            self.pump(0.02, tick)
        return True

    def role(self, *roles: str) -> list[Watcher]:
        return [w for w in self.watchers if w.role in roles]

    def close(self) -> None:
        for w in self.watchers:
            if not w.closed:
                if w.reading:
                    self.sel.unregister(w.sock)
                w.sock.close()
                w.closed = True
        self.sel.close()


# ----- master side -----------------------------------------------------------------------------
def metrics(m) -> dict[str, float]:
    """The samples this test reads, keyed `name` or `name{labels}` as exposed (Bearer auth)."""
    r = m.api("GET", "/metrics", headers={"Authorization": f"Bearer {m.key}"}, key=False)
    assert r.status == 200, r
    out = {}
    for name, labels, value in SAMPLE_RE.findall(r.body.decode()):
        out[f"{name}{{{labels}}}" if labels else name] = float(value)
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def published(mx: dict, kind: str) -> int:
    return int(mx[f'openctrl_events_published_total{{type="{kind}"}}'])


class Driver(threading.Thread):
    """Runs a script of REST calls and FIFO commands beside the selector loop, so the watchers
    keep being read while a request waits for the master; failures surface in `join_checked`."""

    def __init__(self, script):
        super().__init__(daemon=True)
        self.script = script
        self.error: BaseException | None = None
        self.progress = 0

    def run(self) -> None:
        try:
            self.script(self)
        except BaseException as exc:  # re-raised on the test thread
            self.error = exc

    def join_checked(self, fleet: Fleet) -> None:
        assert fleet.run_until(lambda: not self.is_alive(), WAIT), "the driver did not finish in time"
        if self.error:
            raise self.error


# ----- checks ----------------------------------------------------------------------------------
def holes(w: Watcher, state_ids: set[int]) -> list[tuple[int, int, int]]:
    """Runs of ids a watcher never received, as (position in `live` after the run, first, last)."""
    out = []
    live = w.live
    for i in range(1, len(live)):
        if live[i] != live[i - 1] + 1:
            assert live[i] > live[i - 1], f"ids out of order or repeated at {live[i - 1]}, {live[i]}: {w.describe()}"
            first, last = live[i - 1] + 1, live[i] - 1
            lost = state_ids.intersection(range(first, last + 1))
            assert not lost, f"state events {sorted(lost)} never reached {w.describe()}"
            out.append((i, first, last))
    return out


def assert_notices_account_for_holes(w: Watcher, runs: list[tuple[int, int, int]]) -> None:
    """§13.5: skipped log events are announced by one notice once the watcher caught up. A run
    of missing ids always lies before the notice that counts it (after a notice the master
    admits log events again until 256 KiB are held), so each notice counts exactly the missing
    ids since the previous notice, and no run is left without one."""
    r = 0
    for pos, count in w.notices:
        counted = 0
        while r < len(runs) and runs[r][0] <= pos:
            counted += runs[r][2] - runs[r][1] + 1
            r += 1
        assert counted == count, (
            f"a notice says {count} log events were dropped, the ids show {counted}: {w.describe()}")
    assert r == len(runs), (
        f"log events {[(a, b) for _, a, b in runs[r:]][:5]} went missing without a notice: {w.describe()}")
