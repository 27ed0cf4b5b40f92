"""What a fan-out to 1,000 TLS watchers costs (issue 13, item 3), against a plain master with the
same watchers in the same run: master CPU per watcher per event (utime + stime from /proc, minus a
baseline of the same PATCHes with nobody watching) and the latency from each PATCH to each watcher
seeing its update.

usage: bench_events_tls.py <openctrl binary> <work dir> [--watchers N] [--events K] [--gap S]

Each mode: a fresh master (`tls=1` is a self-signed certificate made at start) with one idle
instance; K `PATCH alias` with nobody watching (baseline); N watchers connect from 2 client
processes (Python ssl on non-blocking sockets, one epoll selector each); K `PATCH alias` S seconds
apart; every watcher notes when it first sees each alias. Masters run one at a time. Loopback
only, every wait has a deadline, and everything started here is stopped at the end.

The clients decrypt and scan in Python, so a latency includes the client's own delay: the time
its round of reads took before it reached that watcher. `client round` reports the longest such
round; compare the two modes' latencies knowing both carry it.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import resource
import selectors
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

from benchlib import cpu_seconds, idle_runtime

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("work")
parser.add_argument("--watchers", type=int, default=1000)
parser.add_argument("--events", type=int, default=20)
parser.add_argument("--gap", type=float, default=0.3)
parser.add_argument("--procs", type=int, default=2)
args = parser.parse_args()

DEADLINE = 60.0  # for any one wait: connecting, delivery, shutdown
SEEN_RE = re.compile(rb'"alias":"bench-(\d+)"')


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # tls=1: a new self-signed certificate at every start
    return ctx


# ----- the master ------------------------------------------------------------------------------
class MasterProc:
    def __init__(self, exe, runtime, tls):
        # Each mode starts from an empty state directory (the master keeps it beside its binary).
        shutil.rmtree(os.path.join(os.path.dirname(exe), "gob"), ignore_errors=True)
        query = f"?bin={runtime}" + ("&tls=1" if tls else "")
        self.proc = subprocess.Popen([exe, f"master://127.0.0.1:0{query}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=raise_nofile)
        self.tls = tls
        self.port = self.key = None
        self.log = []
        deadline = time.monotonic() + DEADLINE
        # Lines arrive from a reader thread, so a master that hangs cannot block us past the deadline.
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()
        while self.key is None:
            with self.cond:
                self.cond.wait(0.1)
                lines, self.lines = self.lines, []
            for line in lines:
                m = re.search(r"started: https?://127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                m = re.search(r"API key (?:created|loaded): ([0-9a-f]{32})", line)
                if m:
                    self.key = m.group(1)
            if time.monotonic() > deadline or (self.key is None and self.proc.poll() is not None):
                self.stop()
                sys.exit("the master did not start:\n" + "".join(self.log))
        self.conn = None

    def _drain(self):
        for line in self.proc.stderr:
            with self.cond:
                self.log.append(line)
                self.lines.append(line)
                self.cond.notify_all()

    def call(self, method, path, body=None):
        """One request on a keep-alive connection (HTTPS for tls=1)."""
        if self.conn is None:
            self.conn = (http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=client_context())
                         if self.tls else http.client.HTTPConnection("127.0.0.1", self.port, timeout=30))
        self.conn.request(method, "/api/v2" + path, body=json.dumps(body) if body is not None else None,
                          headers={"X-API-Key": self.key})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data else None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ----- the watchers (one process per share) ----------------------------------------------------
class W:
    __slots__ = ("sock", "state", "tail", "initial", "seen")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connect"
        self.tail = b""
        self.initial = 0
        self.seen = {}


def watchers_proc(port, key, tls, count, pipe):
    """Holds `count` watchers. Sends "connected" once each has its snapshot; then notes the first
    time (time.monotonic, system-wide) each watcher sees `bench-<k>`; on "stop" sends back
    ({k: [times]}, closed streams, longest read round in s) and exits."""
    raise_nofile()
    ctx = client_context() if tls else None
    request = f"GET /api/v2/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    sel.register(pipe.fileno(), selectors.EVENT_READ, None)
    ws, opened, ready, closed = [], 0, 0, 0
    longest = 0.0
    announced = False
    deadline = time.monotonic() + DEADLINE

    def open_one():
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        w = W(s)
        ws.append(w)
        sel.register(s, selectors.EVENT_WRITE, w)

    def step(w, now):
        """Advances one watcher; returns False once its stream is gone."""
        nonlocal ready
        if w.state == "connect":
            if w.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return False
            if tls:
                w.sock = ctx.wrap_socket(w.sock, do_handshake_on_connect=False)
                sel.modify(w.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, w)
            w.state = "handshake" if tls else "request"
        if w.state == "handshake":
            try:
                w.sock.do_handshake()
            except ssl.SSLWantReadError:
                sel.modify(w.sock, selectors.EVENT_READ, w)
                return True
            except ssl.SSLWantWriteError:
                sel.modify(w.sock, selectors.EVENT_WRITE, w)
                return True
            w.state = "request"
        if w.state == "request":
            try:
                w.sock.send(request)  # ~100 bytes into a fresh connection: taken at once
            except (ssl.SSLWantWriteError, BlockingIOError):
                return True
            w.state = "stream"
            sel.modify(w.sock, selectors.EVENT_READ, w)
            return True
        while True:  # an SSL socket may hold more decrypted data than one recv returns
            try:
                data = w.sock.recv(1 << 16)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
            except (ConnectionError, ssl.SSLError):
                return False
            if not data:
                return False
            text = w.tail + data
            if w.initial < 2:
                w.initial += text.count(b'"type":"initial"')  # the key record and the instance
                if w.initial >= 2:
                    ready += 1
            for m in SEEN_RE.finditer(text):
                w.seen.setdefault(int(m.group(1)), now)
            w.tail = text[-48:]

    while True:
        while opened < count and opened - ready - closed < 64:  # a bounded wave of handshakes
            open_one()
            opened += 1
        if not announced and ready + closed == count:
            pipe.send(("connected", ready))
            announced = True
        if not announced and time.monotonic() > deadline:
            pipe.send(("connected", ready))
            announced = True
        events = sel.select(0.5)
        t0 = time.monotonic()
        for sk, _ in events:
            w = sk.data
            if w is None:
                pipe.recv()
                seen = {}
                for x in ws:
                    for k, t in x.seen.items():
                        seen.setdefault(k, []).append(t)
                pipe.send((seen, closed, longest))
                for x in ws:
                    x.sock.close()
                return
            if not step(w, t0):
                sel.unregister(w.sock)
                w.sock.close()
                closed += 1
        if announced:
            longest = max(longest, time.monotonic() - t0)


# ----- one mode --------------------------------------------------------------------------------
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def run_mode(name, exe, runtime, tls):
    master = MasterProc(exe, runtime, tls)
    workers = []
    try:
        status, inst = master.call("POST", "/instances", {"url": "bench://fanout"})
        assert status == 201, (status, inst)
        iid = inst["id"]
        deadline = time.monotonic() + DEADLINE
        while master.call("GET", f"/instances/{iid}")[1]["status"] != "running":
            assert time.monotonic() < deadline, "the instance did not start"
            time.sleep(0.05)

        def patch_series(prefix, first):
            sent = {}
            for k in range(first, first + args.events):
                sent[k] = time.monotonic()
                status, _ = master.call("PATCH", f"/instances/{iid}", {"alias": f"{prefix}-{k}"})
                assert status == 200
                time.sleep(args.gap)  # the pace of the series: one update per gap
            return sent

        cpu0 = cpu_seconds(master.proc.pid)
        patch_series("base", 1)
        base_cpu = cpu_seconds(master.proc.pid) - cpu0

        shares = [args.watchers // args.procs + (1 if i < args.watchers % args.procs else 0) for i in range(args.procs)]
        t0 = time.monotonic()
        for n in shares:
            a, b = mp.Pipe()
            p = mp.Process(target=watchers_proc, args=(master.port, master.key, tls, n, b), daemon=True)
            p.start()
            workers.append((p, a))
        connected = 0
        for p, a in workers:
            if not a.poll(DEADLINE + 5):
                raise SystemExit(f"{name}: a watcher process did not report")
            connected += a.recv()[1]
        connect_s = time.monotonic() - t0
        # Let the handshakes' aftermath (session tickets, buffers) settle before measuring.
        time.sleep(2)

        cpu0 = cpu_seconds(master.proc.pid)
        sent = patch_series("bench", 1)
        time.sleep(1)  # the last update's delivery, inside the measured window
        fan_cpu = cpu_seconds(master.proc.pid) - cpu0
        rss = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{master.proc.pid}/status").read()).group(1))

        seen, closed, longest = {}, 0, 0.0
        for p, a in workers:
            a.send("stop")
            if not a.poll(DEADLINE):
                raise SystemExit(f"{name}: a watcher process did not answer")
            s, c, lg = a.recv()
            for k, ts in s.items():
                seen.setdefault(k, []).extend(ts)
            closed += c
            longest = max(longest, lg)
            p.join(10)
        all_lat, p99s, complete = [], [], 0
        for k, t_sent in sent.items():
            lat = [(t - t_sent) * 1000 for t in seen.get(k, [])]
            complete += len(lat) == connected
            all_lat += lat
            if lat:
                p99s.append(pct(lat, 0.99))
        per = (fan_cpu - base_cpu) / (args.events * connected) * 1e6 if connected else float("nan")
        print(f"{name}: {connected}/{args.watchers} watchers connected in {connect_s:.2f} s ({closed} closed); "
              f"master RSS {rss} KiB")
        print(f"{name}: {args.events} updates {args.gap} s apart: master CPU {fan_cpu:.3f} s "
              f"(baseline without watchers {base_cpu:.3f} s) = {per:.2f} us per watcher per event")
        print(f"{name}: PATCH -> watcher latency over {len(all_lat)} deliveries: p50 {pct(all_lat, 0.5):.1f} ms, "
              f"p99 {pct(all_lat, 0.99):.1f} ms, max {max(all_lat, default=float('nan')):.1f} ms; "
              f"per-update p99 median {statistics.median(p99s) if p99s else float('nan'):.1f} ms; "
              f"{complete}/{len(sent)} updates reached every watcher; client round max {longest * 1000:.1f} ms")
        errors = [line.strip() for line in master.log if re.search(r"(?i)error|fail|disconnected|libevent", line)]
        if errors:
            print(f"{name}: master log: {len(errors)} suspicious lines, first: {errors[0]}")
        return per
    finally:
        for p, _ in workers:
            if p.is_alive():
                p.kill()
                p.join(5)
        master.stop()


def main():
    raise_nofile()
    os.makedirs(args.work, exist_ok=True)
    exe = os.path.join(args.work, "openctrl-events-tls-bench")
    shutil.copy2(args.binary, exe)
    runtime = idle_runtime(args.work)
    print(f"{args.watchers} watchers in {args.procs} client processes, {args.events} updates, "
          f"{os.cpu_count()} CPUs, OPENCTRL_TEST_FANOUT_HELPERS={os.environ.get('OPENCTRL_TEST_FANOUT_HELPERS', 'unset')}")
    plain = run_mode("plain", exe, runtime, tls=False)
    tls = run_mode("tls=1", exe, runtime, tls=True)
    print(f"tls=1 / plain master CPU per watcher per event: {tls / plain:.2f}x")


if __name__ == "__main__":
    main()
