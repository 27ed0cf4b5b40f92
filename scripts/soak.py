#!/usr/bin/env python3
"""Soak test of a release master (docs/RELIABILITY.md, "Leaks and soak").

One master with a cheap runtime runs, for `--minutes` (default 10):
- instance churn: a few client threads create, PATCH (fields and actions), PUT and DELETE their
  own instances over keep-alive connections, and the API key is rotated now and then (which ends
  every event stream);
- `--watchers` (default 1,000) clients of `GET <P>/events` spread over a few processes; each reads
  for a random 0.5-5 s and reconnects, ending its connection one of four ways: a normal close, an
  abortive close (RST through SO_LINGER 0), a stall after the first bytes then a close with
  unread data (the kernel answers with RST, mid-frame), or a half-close right after the request;
  on reconnecting some send `Last-Event-ID` with the last id they saw, a few an id of another boot;
- two chatty instances whose children print a line (and every fifth a checkpoint) every second,
  so live `log` events flow and resumes have something to replay.

The baseline is taken after a warm-up with the same load (so one-time allocations and the
allocator's working set are in it), once the load has stopped and the master has settled. After
the main run the load stops again and, within `--settle` seconds, the master's open descriptors
must equal the baseline exactly, its child count too, and its RSS must be within
max(--rss-slack-mib, --rss-slack-pct of the baseline) above it: RSS keeps what malloc's arenas
hold after a free, so it may sit a little above the baseline without anything being lost, while
a leak of even 10 bytes per watcher connection passes 2 MiB in a 10-minute run. With `--heap`,
malloc's own in-use count (through gdb) must also come back within --heap-slack-kib: that one
does not include freed memory, so it sees small leaks of reachable memory that RSS hides.
RSS and descriptors are sampled every 10 s and printed as a series.

usage: soak.py [--minutes N] [--watchers W] [--procs P] [--churn-threads T] [--heap] [--seed S] [--keep]
The binary is $OPENCTRL_BIN (scripts/soak sets it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RUNTIME_C = r"""
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* soak runtime: `chatty` instances print a line per second (a checkpoint every fifth),
   the others wait for a signal. SIGTERM's default action ends both at once. */
int main(int argc, char **argv) {
    if (argc > 1 && strstr(argv[1], "chatty")) {
        struct timespec second = {1, 0};
        for (unsigned long n = 1;; n++) {
            printf("soak tick %lu\n", n);
            if (n % 5 == 0)
                printf("CHECK_POINT|MODE=1|PING=5ms|POOL=1|TCPS=1|UDPS=0|TCPRX=%lu|TCPTX=%lu|UDPRX=0|UDPTX=0\n",
                       n * 100, n * 50);
            fflush(stdout);
            nanosleep(&second, NULL);
        }
    }
    for (;;) pause();
}
"""
RUNTIME_SH = """#!/bin/sh
case "$1" in
  *chatty*) n=0; while :; do n=$((n+1)); echo "soak tick $n"; sleep 1; done ;;
  *) exec sleep 1000000 ;;
esac
"""

STARTED_RE = re.compile(r"Master\.run: started: http://127\.0\.0\.1:(\d+)(/\S*)")
KEY_RE = re.compile(r"API key (?:created|loaded): ([0-9a-f]{32})")
ID_RE = re.compile(rb"\nid: ([0-9a-f]{8}\.\d+)\n")
MODES = ("fin", "rst", "stall", "halfclose")
MODE_WEIGHTS = (40, 25, 20, 15)
IP_BIND_ADDRESS_NO_PORT = 24
# Not fork: the parent has threads by the time watchers start.
MP = mp.get_context("forkserver")


# ----- master process --------------------------------------------------------------------------

def build_runtime(work: Path) -> Path:
    runtime = work / "soak-runtime"
    source = work / "soak-runtime.c"
    source.write_text(RUNTIME_C)
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc or subprocess.run([cc, "-O2", "-static", "-o", str(runtime), str(source)],
                                capture_output=True).returncode != 0:
        runtime.write_text(RUNTIME_SH)
        runtime.chmod(0o755)
        print("soak: runtime is a shell script (no C compiler)")
    return runtime


class MasterProcess:
    """The master under test, its stderr copied to a file and scanned for a few lines."""

    def __init__(self, binary: str, work: Path, runtime: Path):
        exe = work / "openctrl"
        shutil.copy2(binary, exe)
        self.log_path = work / "master.log"
        self.proc = subprocess.Popen([str(exe), f"master://127.0.0.1:0?bin={runtime}"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=str(work))
        self.pid = self.proc.pid
        self.port = 0
        self.base = ""
        self.key = ""
        self.disconnects = 0
        self.lines = 0
        ready = threading.Event()
        threading.Thread(target=self._drain, args=(ready,), daemon=True).start()
        if not ready.wait(20):
            self.proc.kill()
            raise SystemExit("soak: master did not start:\n" + self.log_path.read_text())

    def _drain(self, ready: threading.Event) -> None:
        with open(self.log_path, "w", buffering=1) as log:
            for raw in iter(self.proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace")
                log.write(line)
                self.lines += 1
                if "watcher disconnected" in line:
                    self.disconnects += 1
                m = STARTED_RE.search(line)
                if m:
                    self.port, self.base = int(m.group(1)), m.group(2)
                m = KEY_RE.search(line)
                if m:
                    self.key = m.group(1)
                if self.port and self.key:
                    ready.set()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9


def fd_listing(pid: int) -> str:
    """What each descriptor names, for diagnosing a difference from the baseline."""
    rows = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            rows.append(f"{fd} -> {os.readlink(f'/proc/{pid}/fd/{fd}')}")
        except OSError:
            pass
    return "\n".join(rows) + "\n"


def measure(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    children = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children += 1
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return {"rss": rss, "hwm": hwm, "fds": fds, "threads": threads, "children": children, "cpu": cpu}


# ----- API clients (threads of the main process) -----------------------------------------------

class KeyHolder:
    """The current API key, shared with the watcher processes through a file."""

    def __init__(self, path: Path, key: str):
        self.path = path
        self.lock = threading.Lock()
        self.set(key)

    def set(self, key: str) -> None:
        with self.lock:
            self.key = key
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(key)
            os.replace(tmp, self.path)

    def get(self) -> str:
        with self.lock:
            return self.key


class Api:
    """One keep-alive connection; retries once with a fresh key after a rotation's 401."""

    def __init__(self, port: int, base: str, keys: KeyHolder):
        self.port, self.base, self.keys = port, base, keys
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, sub: str, body=None) -> tuple[int, object]:
        for attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                data = None if body is None else json.dumps(body).encode()
                self.conn.request(method, self.base + sub, body=data,
                                  headers={"X-API-Key": self.keys.get()})
                resp = self.conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
                continue
            if resp.status == 401 and attempt < 2:
                time.sleep(0.05)
                continue
            return resp.status, (json.loads(raw) if raw else None)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Churn(threading.Thread):
    """Creates, changes and deletes its own instances until told to stop, then deletes them."""

    EXPECTED = {"create": 201, "patch": 200, "action": 200, "put": 200, "delete": 204, "get": 200}

    def __init__(self, n: int, master: MasterProcess, keys: KeyHolder, stop: threading.Event,
                 pause: float, seed: int):
        super().__init__(daemon=True)
        self.n, self.stop, self.pause = n, stop, pause
        self.api = Api(master.port, master.base, keys)
        self.rng = random.Random(seed)
        self.owned: list[str] = []
        self.counter = 0
        self.ops: dict[str, int] = {}
        self.errors: list[str] = []

    def url(self) -> str:
        self.counter += 1
        return f"soak://c{self.n}-{self.counter}/p?v={self.rng.randrange(10**6)}"

    def expect(self, op: str, status: int, body) -> None:
        self.ops[op] = self.ops.get(op, 0) + 1
        if status != self.EXPECTED[op] and len(self.errors) < 20:
            self.errors.append(f"{op}: {status} {body}")

    def step(self) -> None:
        rng = self.rng
        if len(self.owned) < 3 or (len(self.owned) < 6 and rng.random() < 0.3):
            status, body = self.api.call("POST", "/instances",
                                         {"alias": f"soak {self.n}", "url": self.url()})
            self.expect("create", status, body)
            if status == 201:
                self.owned.append(body["id"])
            return
        iid = rng.choice(self.owned)
        r = rng.random()
        if r < 0.35:
            patch: dict = {"alias": f"a{rng.randrange(1000)}", "restart": rng.random() < 0.5}
            if rng.random() < 0.5:
                patch["meta"] = {"peer": {"sid": f"s{rng.randrange(9)}", "type": "edge"},
                                 "tags": {f"k{i}": "v" * rng.randrange(40) for i in range(rng.randrange(5))}}
            self.expect("patch", *self.api.call("PATCH", f"/instances/{iid}", patch))
        elif r < 0.55:
            action = rng.choice(("start", "stop", "restart", "reset"))
            self.expect("action", *self.api.call("PATCH", f"/instances/{iid}", {"action": action}))
        elif r < 0.7:
            self.expect("put", *self.api.call("PUT", f"/instances/{iid}", {"url": self.url()}))
        elif r < 0.85:
            self.expect("get", *self.api.call("GET", f"/instances/{iid}"))
        else:
            status, body = self.api.call("DELETE", f"/instances/{iid}")
            self.expect("delete", status, body)
            self.owned.remove(iid)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
                self.stop.wait(self.pause)
            for iid in list(self.owned):
                self.expect("delete", *self.api.call("DELETE", f"/instances/{iid}"))
                self.owned.remove(iid)
        except Exception as exc:  # reported in the summary; the main thread decides
            self.errors.append(f"client thread {self.n} died: {exc!r}")
        finally:
            self.api.close()


class Rotator(threading.Thread):
    """Rotates the API key every `every` seconds (each rotation ends every event stream)."""

    def __init__(self, master: MasterProcess, keys: KeyHolder, stop: threading.Event, every: float,
                 first: float):
        super().__init__(daemon=True)
        self.api = Api(master.port, master.base, keys)
        self.keys, self.stop, self.every, self.first = keys, stop, every, first
        self.rotations = 0
        self.errors: list[str] = []

    def run(self) -> None:
        wait = self.first
        while not self.stop.wait(wait):
            wait = self.every
            status, body = self.api.call("PATCH", "/instances/********", {"action": "restart"})
            if status == 200:
                self.keys.set(body["url"])
                self.rotations += 1
            elif len(self.errors) < 20:
                self.errors.append(f"rotate: {status} {body}")
        self.api.close()


# ----- watchers (separate processes) -----------------------------------------------------------

class Watch:
    __slots__ = ("sock", "mode", "deadline", "head", "status", "tail", "reading", "opened")


def new_stats() -> dict:
    return {"connects": 0, "ok": 0, "unauthorized": 0, "errors": 0, "bytes": 0, "frames": 0,
            "no_head": 0, "resume": 0, "foreign_resume": 0, "shutdown_seen": 0, "server_closed": 0,
            **{f"open_{m}": 0 for m in MODES}, **{f"close_{m}": 0 for m in MODES}}


def watcher_process(index: int, count: int, port: int, path: str, key_file: str, stop,
                    results, seed: int) -> None:
    """`count` watchers on one selector; each connection lives 0.5-5 s, then reconnects."""
    import selectors
    import socket
    import struct

    rng = random.Random(seed)
    sel = selectors.DefaultSelector()
    source = f"127.0.0.{2 + index}"
    stats = new_stats()
    last_ids: list[bytes | None] = [None] * count
    head_ms: list[float] = []
    connect_ms: list[float] = []
    key = [open(key_file).read().strip()]
    watches: list[Watch | None] = [None] * count
    retry_at = [0.0] * count

    def open_one(slot: int) -> None:
        w = Watch()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        begun = time.monotonic()
        try:
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
            connect_ms.append((time.monotonic() - begun) * 1000)
        except OSError:
            sock.close()
            stats["errors"] += 1
            retry_at[slot] = time.monotonic() + 0.1
            return
        stats["connects"] += 1
        headers = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key[0]}\r\n"
        if last_ids[slot] is not None and rng.random() < 0.5:
            headers += f"Last-Event-ID: {last_ids[slot].decode()}\r\n"
            stats["resume"] += 1
        elif rng.random() < 0.05:
            headers += "Last-Event-ID: 0badc0de.7\r\n"
            stats["foreign_resume"] += 1
        try:
            sock.sendall((headers + "\r\n").encode())
        except OSError:
            sock.close()
            stats["errors"] += 1
            retry_at[slot] = time.monotonic() + 0.1
            return
        w.sock = sock
        w.mode = rng.choices(MODES, MODE_WEIGHTS)[0]
        stats[f"open_{w.mode}"] += 1
        if w.mode == "halfclose":
            sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        w.opened = begun
        w.deadline = w.opened + rng.uniform(0.5, 5.0)
        w.head = b""
        w.status = 0
        w.tail = b""
        w.reading = True
        watches[slot] = w
        sel.register(sock, selectors.EVENT_READ, slot)

    def close_one(slot: int, how: str) -> None:
        w = watches[slot]
        watches[slot] = None
        if w.reading:
            sel.unregister(w.sock)
        if how == "rst":
            w.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.sock.close()
        if w.status == 0:
            stats["no_head"] += 1
            stats["no_head_" + how] = stats.get("no_head_" + how, 0) + 1
        if how in MODES:
            stats[f"close_{how}"] += 1

    def on_readable(slot: int) -> None:
        w = watches[slot]
        try:
            data = w.sock.recv(64 if w.mode == "stall" and w.status == 0 else 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            stats["errors"] += 1
            close_one(slot, "error")
            return
        if not data:
            stats["server_closed"] += 1
            close_one(slot, "eof")
            return
        stats["bytes"] += len(data)
        if w.status == 0:
            w.head += data
            if len(w.head) < 12:
                return
            w.status = int(w.head[9:12])
            if w.status == 401:
                stats["unauthorized"] += 1
                key[0] = open(key_file).read().strip()
                close_one(slot, "unauthorized")
                retry_at[slot] = time.monotonic() + 0.05
                return
            if w.status != 200:
                stats["errors"] += 1
                close_one(slot, "status")
                return
            stats["ok"] += 1
            head_ms.append((time.monotonic() - w.opened) * 1000)
            if w.mode == "stall":
                # Stop reading after the first bytes: the rest of the snapshot and live events
                # pile up unread until the deadline, then the close discards them mid-frame.
                sel.unregister(w.sock)
                w.reading = False
                return
            data = w.head
        chunk = w.tail + data
        stats["frames"] += data.count(b"\n\n")
        found = ID_RE.findall(chunk)
        if found:
            last_ids[slot] = found[-1]
        if b'"type":"shutdown"' in chunk:
            stats["shutdown_seen"] += 1
        w.tail = chunk[-48:]

    for slot in range(count):
        open_one(slot)
    while not stop.is_set():
        now = time.monotonic()
        for slot in range(count):
            w = watches[slot]
            if w is None:
                if now >= retry_at[slot]:
                    open_one(slot)
            elif now >= w.deadline:
                close_one(slot, w.mode)
                open_one(slot)
        for selkey, _ in sel.select(timeout=0.05):
            if watches[selkey.data] is not None:
                on_readable(selkey.data)
    for slot in range(count):
        if watches[slot] is not None:
            close_one(slot, "final")
    results.put((index, stats, sum(1 for i in last_ids if i), head_ms, connect_ms))


# ----- the run ---------------------------------------------------------------------------------

class Load:
    """Churn threads, the key rotator and the watcher processes, started and stopped together."""

    def __init__(self, args, master: MasterProcess, keys: KeyHolder, seconds: float, seed: int):
        self.stop_threads = threading.Event()
        self.stop_procs = MP.Event()
        self.results = MP.Queue()
        self.churn = [Churn(i, master, keys, self.stop_threads, args.churn_pause, seed + i)
                      for i in range(args.churn_threads)]
        # The first rotation comes by the middle of the phase, so even a short one has one.
        self.rotator = Rotator(master, keys, self.stop_threads, args.rotate_every,
                               min(args.rotate_every, seconds / 2)) if args.rotate_every > 0 else None
        per = [args.watchers // args.procs + (1 if i < args.watchers % args.procs else 0)
               for i in range(args.procs)]
        self.procs = [MP.Process(target=watcher_process,
                                 args=(i, per[i], master.port, master.base + "/events",
                                       str(keys.path), self.stop_procs, self.results,
                                       seed + 1000 + i), daemon=True)
                      for i in range(args.procs) if per[i]]

    def start(self) -> None:
        for p in self.procs:
            p.start()
        for t in self.churn:
            t.start()
        if self.rotator:
            self.rotator.start()

    def stop(self) -> dict:
        self.stop_threads.set()
        self.stop_procs.set()
        for t in self.churn:
            t.join(120)
        if self.rotator:
            self.rotator.join(60)
        totals: dict = {"watchers_with_id": 0, **new_stats()}
        head_ms: list[float] = []
        connect_ms: list[float] = []
        for _ in self.procs:
            _, stats, with_id, heads, connects = self.results.get(timeout=60)
            totals["watchers_with_id"] += with_id
            head_ms += heads
            connect_ms += connects
            for k, v in stats.items():
                totals[k] = totals.get(k, 0) + v
        for p in self.procs:
            p.join(30)
        ops: dict = {}
        errors = []
        for t in self.churn:
            for k, v in t.ops.items():
                ops[k] = ops.get(k, 0) + v
            errors += t.errors
        if self.rotator:
            ops["rotate"] = self.rotator.rotations
            errors += self.rotator.errors
        return {"watch": totals, "ops": ops, "errors": errors, "head_ms": sorted(head_ms), "connect_ms": sorted(connect_ms)}


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def settle(pid: int, want, timeout: float) -> tuple[dict, float]:
    """Polls every 0.5 s until `want(sample)` holds (or the timeout); returns the last sample."""
    t0 = time.monotonic()
    while True:
        m = measure(pid)
        if want(m) or time.monotonic() - t0 >= timeout:
            return m, time.monotonic() - t0
        time.sleep(0.5)


def run_phase(seconds: float, args, master, keys, seed, series) -> dict:
    load = Load(args, master, keys, seconds, seed)
    t0 = time.monotonic()
    load.start()
    next_sample = t0
    while True:
        now = time.monotonic()
        if now >= t0 + seconds:
            break
        if series is not None and now >= next_sample:
            m = measure(master.pid)
            m["t"] = now - t0
            series.append(m)
            print(f"  t={m['t']:5.0f}s rss={m['rss']} KiB fds={m['fds']} threads={m['threads']} "
                  f"children={m['children']} cpu={m['cpu']:.1f}s load={os.getloadavg()[0]:.1f}",
                  flush=True)
            next_sample += 10
        time.sleep(min(1.0, max(0.0, t0 + seconds - now)))
    result = load.stop()
    result["seconds"] = time.monotonic() - t0
    return result


def heap_in_use(master: MasterProcess) -> int:
    """Bytes malloc reports in use: glibc's malloc_stats(), called in the master through gdb,
    prints them on the master's stderr. Unlike RSS this does not keep what the allocator holds
    on to after a free, so after an identical warm-up it should come back to the baseline."""
    marker = "Total (incl. mmap)"
    before = master.log_path.read_text().count(marker)
    subprocess.run(["gdb", "-p", str(master.pid), "-batch", "-ex", "call (void)malloc_stats()"],
                   capture_output=True, timeout=60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = master.log_path.read_text()
        if text.count(marker) > before:
            return int(re.search(r"in use bytes\s+=\s+(\d+)", text.rsplit(marker, 1)[1]).group(1))
        time.sleep(0.1)
    raise SystemExit("soak: no malloc_stats output from the master (is gdb allowed to attach?)")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds of load before the baseline (default: 10%% of the run, 15-60 s)")
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=4, help="watcher processes")
    ap.add_argument("--churn-threads", type=int, default=3)
    ap.add_argument("--churn-pause", type=float, default=0.05, help="seconds between one thread's operations")
    ap.add_argument("--rotate-every", type=float, default=30, help="seconds between key rotations (0: never)")
    ap.add_argument("--settle", type=float, default=30)
    ap.add_argument("--rss-slack-mib", type=float, default=2.0)
    ap.add_argument("--rss-slack-pct", type=float, default=10.0)
    ap.add_argument("--heap", action="store_true",
                    help="also compare malloc's in-use bytes (gdb malloc_stats) with the baseline")
    ap.add_argument("--heap-slack-kib", type=float, default=256.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    args.seed = args.seed if args.seed is not None else random.randrange(2**32)
    args.duration = args.minutes * 60
    args.warmup = args.warmup if args.warmup is not None else min(60.0, max(15.0, args.duration / 10))
    return args


def report(args, result: dict, series: list[dict], cold: dict, base: dict, final: dict,
           master: MasterProcess, rss_limit: float, waited: float) -> None:
    w, ops = result["watch"], result["ops"]
    print("soak: series (t, rss KiB, fds, threads, children, master cpu s):")
    for s in series:
        print(f"  {s['t']:5.0f} {s['rss']:7d} {s['fds']:5d} {s['threads']:3d} {s['children']:4d} {s['cpu']:8.1f}")
    print(f"soak: duration={result['seconds']:.0f}s ops={sum(ops.values())} "
          + " ".join(f"{k}={v}" for k, v in sorted(ops.items())))
    print(f"soak: watcher connections={w['ok']} (attempts={w['connects']} 401={w['unauthorized']} "
          f"errors={w['errors']} no_head={w['no_head']} ("
          + " ".join(f"{k[8:]}={v}" for k, v in sorted(w.items()) if k.startswith("no_head_"))
          + f") server_closed={w['server_closed']} shutdown_seen={w['shutdown_seen']}) "
          f"resumes={w['resume']} foreign_resumes={w['foreign_resume']} frames={w['frames']} "
          f"bytes={w['bytes']}; modes (opened/closed by us): "
          + " ".join(f"{m}={w['open_' + m]}/{w['close_' + m]}" for m in MODES))
    for name, values in (("connect()", result["connect_ms"]), ("connect to response head", result["head_ms"])):
        if values:
            print(f"soak: /events {name}, ms: p50={pct(values, 50):.1f} p99={pct(values, 99):.1f} "
                  f"p99.9={pct(values, 99.9):.1f} max={values[-1]:.1f}; over 1 s: "
                  f"{sum(1 for v in values if v > 1000)} of {len(values)}")
    print(f"soak: master log lines={master.lines} watcher_disconnects_by_master={master.disconnects}")
    print(f"soak: rss KiB: cold={cold['rss']} baseline={base['rss']} peak={final['hwm']} final={final['rss']} "
          f"limit={rss_limit:.0f} (baseline + max({args.rss_slack_mib:g} MiB, {args.rss_slack_pct:g}%)); "
          f"peak is VmHWM, the high-water mark since start")
    peak_fds = max([s["fds"] for s in series] + [final["fds"]])
    print(f"soak: fds: cold={cold['fds']} baseline={base['fds']} peak={peak_fds} final={final['fds']}; "
          f"threads: baseline={base['threads']} final={final['threads']}; "
          f"children: baseline={base['children']} final={final['children']}; "
          f"settled in {waited:.1f}s; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if "heap" in base:
        growth = final["heap"] - base["heap"]
        per = f" ({growth / w['ok'] * 1000:.0f} per 1,000 watcher connections)" if w["ok"] else ""
        print(f"soak: heap in use (malloc_stats) bytes: baseline={base['heap']} final={final['heap']} "
              f"growth={growth}{per}, limit +{args.heap_slack_kib:g} KiB")


def failures_of(args, result: dict, base: dict, final: dict, rss_limit: float) -> list[str]:
    w, ops = result["watch"], result["ops"]
    failures = []
    if final["fds"] != base["fds"]:
        failures.append(f"descriptors {final['fds']} != baseline {base['fds']}")
    if final["children"] != base["children"]:
        failures.append(f"children {final['children']} != baseline {base['children']}")
    if final["rss"] > rss_limit:
        failures.append(f"rss {final['rss']} KiB > limit {rss_limit:.0f} KiB")
    if "heap" in base and final["heap"] - base["heap"] > args.heap_slack_kib * 1024:
        failures.append(f"heap in use grew by {final['heap'] - base['heap']} bytes")
    if result["errors"]:
        failures.append("client errors: " + "; ".join(result["errors"][:10]))
    if (args.watchers and w["ok"] == 0) or (args.churn_threads and sum(ops.values()) == 0):
        failures.append("no load was applied")
    return failures


def soak(args, master: MasterProcess, keys: KeyHolder, work: Path) -> list[str]:
    print(f"soak: seed={args.seed} minutes={args.minutes:g} warmup={args.warmup:g}s watchers={args.watchers} "
          f"procs={args.procs} churn_threads={args.churn_threads} rotate_every={args.rotate_every:g}s "
          f"pid={master.pid} work={work}", flush=True)
    api = Api(master.port, master.base, keys)
    for i in range(2):
        status, body = api.call("POST", "/instances", {"alias": f"chatty {i}", "url": f"soak://chatty-{i}"})
        assert status == 201, (status, body)
    api.close()
    time.sleep(2)
    cold = measure(master.pid)
    print(f"soak: cold rss={cold['rss']} KiB fds={cold['fds']} threads={cold['threads']} "
          f"children={cold['children']}", flush=True)

    run_phase(args.warmup, args, master, keys, args.seed, None)
    # The baseline: load stopped, descriptors steady for 3 s.
    stable: list[int] = []

    def steady(m):
        stable.append(m["fds"])
        return len(stable) >= 6 and len(set(stable[-6:])) == 1
    base, _ = settle(master.pid, steady, 60)
    if args.heap:
        base["heap"] = heap_in_use(master)
    (work / "fds-baseline.txt").write_text(fd_listing(master.pid))
    print(f"soak: baseline after {args.warmup:g}s warm-up: rss={base['rss']} KiB fds={base['fds']} "
          f"threads={base['threads']} children={base['children']}", flush=True)

    series: list[dict] = []
    print(f"soak: load for {args.duration:g}s (samples every 10 s)", flush=True)
    result = run_phase(args.duration, args, master, keys, args.seed + 7, series)
    stopped = time.monotonic()
    rss_limit = base["rss"] + max(args.rss_slack_mib * 1024, base["rss"] * args.rss_slack_pct / 100)

    def recovered(m):
        return m["fds"] == base["fds"] and m["children"] == base["children"] and m["rss"] <= rss_limit
    final, _ = settle(master.pid, recovered, args.settle)
    waited = time.monotonic() - stopped
    if args.heap:
        final["heap"] = heap_in_use(master)
    (work / "fds-final.txt").write_text(fd_listing(master.pid))
    report(args, result, series, cold, base, final, master, rss_limit, waited)
    return failures_of(args, result, base, final, rss_limit)


def main() -> int:
    args = parse_args()
    binary = os.environ.get("OPENCTRL_BIN")
    if not binary:
        raise SystemExit("soak: set OPENCTRL_BIN (scripts/soak does)")
    work = Path(tempfile.mkdtemp(prefix="openctrl-soak-"))
    master = MasterProcess(binary, work, build_runtime(work))
    ok = False
    try:
        failures = soak(args, master, KeyHolder(work / "key", master.key), work)
        code = master.stop()
        if code != 0:
            failures.append(f"master exit status {code} after SIGTERM")
        for f in failures:
            print(f"soak: FAIL: {f}")
        if failures:
            print(f"soak: descriptor lists (fds-baseline.txt, fds-final.txt) and master.log are in {work}")
        print("soak: " + ("FAILED" if failures else "OK"))
        ok = not failures
        return 0 if ok else 1
    finally:
        if master.proc.poll() is None:
            master.proc.kill()
            master.proc.wait()
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
