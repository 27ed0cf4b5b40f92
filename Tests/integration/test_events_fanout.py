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

import errno
import json
import os
import random
import re
import resource
import selectors
import socket
import struct
import threading
import time
from array import array

import pytest

from events_helpers import GAP_RE, ev, kit  # noqa: F401  (ev, kit: fixtures)

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
        self.chunk_left = 0
        self.need_crlf = False
        self.ended = False
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
        raw, pos = self.raw, 0
        while True:
            if self.chunk_left:
                take = min(self.chunk_left, len(raw) - pos)
                self.body += raw[pos:pos + take]
                pos += take
                self.chunk_left -= take
                if self.chunk_left:
                    break
                self.need_crlf = True
            if self.need_crlf:
                if len(raw) - pos < 2:
                    break
                if raw[pos:pos + 2] != b"\r\n":
                    self.bad.append(b"chunk without CRLF: " + bytes(raw[pos:pos + 40]))
                    self.ended = True
                    break
                pos += 2
                self.need_crlf = False
            if self.ended:
                break
            end = raw.find(b"\r\n", pos)
            if end < 0:
                break
            size = int(bytes(raw[pos:end]).split(b";")[0], 16)
            pos = end + 2
            if size == 0:
                self.ended = True
            else:
                self.chunk_left = size
        del raw[:pos]

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
