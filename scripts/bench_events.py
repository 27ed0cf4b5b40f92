"""Event-stream benchmarks (issue 4): idle watchers' memory, fan-out cost and latency, REST
throughput with every watcher connected, and a log flood against one fast and 99 slow watchers.
Loopback only; every phase is bounded in count and time and stops by itself.

usage: bench_events.py <openctrl binary> <work dir> [--watchers N] [--events K]
BENCH_ONLY=fanout or BENCH_ONLY=flood runs one part. The fan-out part runs twice, on the loop
alone (OPENCTRL_TEST_FANOUT_HELPERS=0) and with the automatic send threads, and compares them.
"""
import argparse
import json
import multiprocessing as mp
import os
import re
import resource
import socket
import statistics
import subprocess
import threading
import time

from benchlib import Client, cpu_seconds, start_master

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("work")
parser.add_argument("--watchers", type=int, default=10000)
parser.add_argument("--events", type=int, default=20)
parser.add_argument("--procs", type=int, default=4)
parser.add_argument("--flood-lines", type=int, default=200000)
parser.add_argument("--slow", type=int, default=99)
parser.add_argument("--rounds", type=int, default=1, help="fan-out rounds, each both ways")
args = parser.parse_args()


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start(bin_path, env=None):
    # Each phase starts from an empty state directory (the master keeps it beside its binary).
    subprocess.run(["rm", "-rf", os.path.join(os.path.dirname(args.binary), "gob")], check=True)
    log = []
    proc, port, key = start_master(args.binary, f"?bin={bin_path}", env=env, preexec_fn=raise_nofile, log=log)
    return proc, port, key, log


def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def sse_request(key):
    return (f"GET /api/v2/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n").encode()


BURSTS, BURST_LINES = 10, 10


def fanout_runtime():
    """`bench://burst?go=<file>`: once the file exists, BURSTS bursts of BURST_LINES lines,
    0.5 s apart (each burst is one batch: one write per watcher for BURST_LINES events); any
    other URL idles."""
    path = os.path.join(args.work, "fanout-runtime")
    with open(path, "w") as f:
        f.write("#!/usr/bin/env python3\nimport os, sys, time\nurl = sys.argv[1]\n"
                "if url.startswith('bench://burst'):\n"
                "    go = url.split('go=')[1]\n"
                "    while not os.path.exists(go): time.sleep(0.01)\n"
                f"    for b in range({BURSTS}):\n"
                f"        sys.stdout.write(''.join(f'burst {{b}} line {{i}}\\n' for i in range({BURST_LINES})))\n"
                "        sys.stdout.flush()\n"
                "        time.sleep(0.5)\n"
                "time.sleep(3600)\n")
    os.chmod(path, 0o755)
    return path


def burst_cpu(client, pid, name):
    """Master CPU over the bursts of a new `bench://burst` instance."""
    go = os.path.join(args.work, f"go-{name}")
    client.call("POST", "/instances", {"url": f"bench://burst?go={go}"})
    time.sleep(1)
    cpu0 = cpu_seconds(pid)
    open(go, "w").close()
    time.sleep(BURSTS * 0.5 + 1.5)
    return cpu_seconds(pid) - cpu0


def threads(pid):
    return int(re.search(r"Threads:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def fanout_phase(label, env):
    """One master, `args.watchers` watchers; `env` chooses the send threads (issue 13)."""
    print(f"--- fan-out, {label}")
    proc, port, key, log = start(fanout_runtime(), env)
    time.sleep(0.5)
    idle_threads = threads(proc.pid)
    client = Client(port, key)
    _, inst = client.call("POST", "/instances", {"url": "bench://fanout"})
    iid = inst["id"]
    time.sleep(1)

    def patch_series(first, k, gap):
        sent = {}
        for i in range(first, first + k):
            sent[i] = time.monotonic()
            status, _ = client.call("PATCH", f"/instances/{iid}", {"alias": f"bench-{i}"})
            assert status == 200
            time.sleep(gap)
        return sent

    # Baseline: the same PATCHes with nobody watching (REST + state write cost).
    cpu0 = cpu_seconds(proc.pid)
    patch_series(100000, args.events, 0.2)
    base_cpu = cpu_seconds(proc.pid) - cpu0
    burst_base = burst_cpu(client, proc.pid, f"base-{label}")
    rss_before = rss_kib(proc.pid)

    per_proc = [args.watchers // args.procs + (1 if i < args.watchers % args.procs else 0) for i in range(args.procs)]
    t0 = time.monotonic()
    workers = [subprocess.Popen([watchers_bin, str(port), key, str(n), f"127.0.0.{2 + i}"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for i, n in enumerate(per_proc)]
    for w in workers:
        assert w.stdout.readline().strip() == "connected"
    connect_s = time.monotonic() - t0
    time.sleep(3)
    rss_after = rss_kib(proc.pid)
    print(f"watchers: {args.watchers} connected in {connect_s:.2f} s; master RSS {rss_before} -> {rss_after} KiB "
          f"= {(rss_after - rss_before) * 1024 / args.watchers:.0f} bytes per idle watcher; threads idle {idle_threads}")

    cpu0 = cpu_seconds(proc.pid)
    readers0 = sum(cpu_seconds(w.pid) for w in workers)
    sent = patch_series(1, args.events, 0.3)
    time.sleep(1)
    fan_cpu = cpu_seconds(proc.pid) - cpu0
    readers_cpu = sum(cpu_seconds(w.pid) for w in workers) - readers0
    per_watcher_us = (fan_cpu - base_cpu) / (args.events * args.watchers) * 1e6
    print(f"fan-out: {args.events} updates to {args.watchers} watchers: master CPU {fan_cpu:.3f} s "
          f"(baseline without watchers {base_cpu:.3f} s) = {per_watcher_us:.2f} us per watcher per event; "
          f"threads after {threads(proc.pid)}; the load generator's CPU "
          f"{readers_cpu / (args.events * args.watchers) * 1e6:.2f} us per watcher per event")

    burst = burst_cpu(client, proc.pid, f"watched-{label}")
    events = BURSTS * BURST_LINES
    print(f"batched fan-out: {BURSTS} bursts of {BURST_LINES} log lines to {args.watchers} watchers: master CPU "
          f"{burst:.3f} s (baseline without watchers {burst_base:.3f} s) = "
          f"{(burst - burst_base) / (events * args.watchers) * 1e6:.2f} us per watcher per event")

    def info_load(extra):
        wrk = subprocess.run(["wrk", "-t2", "-c64", "-d5s", "--latency", "-H", f"X-API-Key: {key}",
                              f"http://127.0.0.1:{port}/api/v2/info"], capture_output=True, text=True)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout)
        p99 = re.search(r"^\s+99%\s+(\S+)", wrk.stdout, re.M)
        print(f"GET /info with {args.watchers} watchers connected{extra}: {rps.group(1) if rps else '?'} req/s, "
              f"p99 {p99.group(1) if p99 else '?'}")

    info_load("")
    # The same load while every watcher receives 10 updates a second.
    stop = threading.Event()

    def ticker():
        c = Client(port, key)
        i = 2000
        while not stop.is_set():
            t = time.monotonic()
            c.call("PATCH", f"/instances/{iid}", {"alias": f"tick-{i}"})
            i += 1
            stop.wait(max(0.0, 0.1 - (time.monotonic() - t)))
    tick = threading.Thread(target=ticker)
    tick.start()
    info_load(", 10 updates/s to all of them")
    stop.set()
    tick.join()

    results = []
    closed = 0
    for w in workers:
        w.stdin.close()
    for w in workers:
        seen = {}
        for line in w.stdout:
            parts = line.split()
            if parts[0] == "seen":
                seen.setdefault(int(parts[1]), []).append(int(parts[2]) / 1e9)
            elif parts[0] == "closed":
                closed += int(parts[1])
        w.wait(10)
        results.append(seen)
    p99s, maxes, complete = [], [], 0
    for k, t_sent in sent.items():
        lat = [(t - t_sent) * 1000 for seen in results for t in seen.get(k, [])]
        if len(lat) == args.watchers:
            complete += 1
        if lat:
            p99s.append(pct(lat, 0.99))
            maxes.append(max(lat))
    print(f"delivery: {complete}/{len(sent)} updates reached all {args.watchers} watchers ({closed} streams closed); "
          f"latency from PATCH sent: p99 per update median {statistics.median(p99s):.1f} ms, worst p99 {max(p99s):.1f} ms, "
          f"worst max {max(maxes):.1f} ms")
    proc.terminate()
    proc.wait(15)
    return statistics.median(p99s), per_watcher_us


def flood_reader(port, key, pipe, expect):
    """Reads as fast as it can and returns what it received after the flood."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(sse_request(key))
    chunks = []
    pipe.send("connected")
    s.settimeout(0.5)
    first = last = None
    count = 0
    idle = 0
    while True:
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            idle += 1
            if count >= expect or idle > 20:
                break
            continue
        if not data:
            break
        idle = 0
        now = time.monotonic()
        n = data.count(b'"type":"log"')
        if n:
            first = first or now
            last = now
            count += n
        chunks.append(data)
    pipe.send((b"".join(chunks), first, last))


def slow_readers(port, key, count, pipe, pace_bytes, drain_after):
    raise_nofile()
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(sse_request(key))
        s.setblocking(False)
        socks.append([s, bytearray(), False])
    pipe.send("connected")
    start = time.monotonic()
    while time.monotonic() - start < drain_after + 20:
        fast = time.monotonic() - start > drain_after
        for entry in socks:
            if entry[2]:
                continue
            try:
                data = entry[0].recv(1 << 20 if fast else pace_bytes)
                if not data:
                    entry[2] = True
                entry[1] += data
            except BlockingIOError:
                pass
        if pipe.poll():
            break
        time.sleep(0.001 if fast else 0.1)
    pipe.send([(bytes(e[1]), e[2]) for e in socks])


def parse_frames(blob):
    """Frames of a chunked SSE body (headers skipped), as (id, payload dict)."""
    body = blob.split(b"\r\n\r\n", 1)[1]
    out, i = bytearray(), 0
    while i < len(body):
        j = body.find(b"\r\n", i)
        if j < 0:
            break
        size = int(body[i:j], 16)
        if j + 2 + size > len(body):
            break  # the reader stopped inside this chunk
        out += body[j + 2:j + 2 + size]
        i = j + 2 + size + 2
        if size == 0:
            break
    frames = []
    for frame in bytes(out).split(b"\n\n"):
        fid, data = None, None
        for line in frame.split(b"\n"):
            if line.startswith(b"id: "):
                fid = line[4:].decode()
            elif line.startswith(b"data: "):
                data = json.loads(line[6:])
        if data is not None:
            frames.append((fid, data))
    return frames


def flood_phase():
    lines = args.flood_lines
    go = os.path.join(args.work, "flood-go")
    if os.path.exists(go):
        os.remove(go)
    runtime = os.path.join(args.work, "flood-sse-runtime")
    with open(runtime, "w") as f:
        f.write("#!/usr/bin/env python3\nimport os, sys, time\n"
                f"while not os.path.exists({go!r}): time.sleep(0.01)\n"
                "out = sys.stdout\n"
                f"n = {lines}\n"
                "for block in range(0, n, 1000):\n"
                "    out.write(''.join(f'flood line {i:07d} payload\\n' for i in range(block, min(n, block + 1000))))\n"
                "    if block % 40000 == 0:\n"
                "        out.write(f'CHECK_POINT|MODE=1|PING=5ms|POOL=1|TCPS=1|UDPS=1|TCPRX={block}|TCPTX=0|UDPRX=0|UDPTX=0\\n')\n"
                "out.flush()\ntime.sleep(3600)\n")
    os.chmod(runtime, 0o755)
    proc, port, key, log = start(runtime)
    client = Client(port, key)
    _, inst = client.call("POST", "/instances", {"url": "bench://flood"})
    time.sleep(0.5)

    fa, fb = mp.Pipe()
    fast = mp.Process(target=flood_reader, args=(port, key, fb, lines))
    fast.start()
    assert fa.recv() == "connected"
    sa, sb = mp.Pipe()
    slow = mp.Process(target=slow_readers, args=(port, key, args.slow, sb, 2048, 8.0))
    slow.start()
    assert sa.recv() == "connected"
    time.sleep(1)

    latencies, stop = [], threading.Event()

    def rest():
        c = Client(port, key)
        while not stop.is_set():
            t = time.monotonic()
            c.call("GET", "/info")
            latencies.append((time.monotonic() - t) * 1000)
            time.sleep(0.002)
    rt = threading.Thread(target=rest)
    rt.start()
    cpu0 = cpu_seconds(proc.pid)
    open(go, "w").close()
    blob, first, last = fa.recv()
    flood_cpu = cpu_seconds(proc.pid) - cpu0
    stop.set()
    rt.join()
    fast.join(10)
    frames = parse_frames(blob)
    if os.environ.get("BENCH_DUMP"):
        open(os.environ["BENCH_DUMP"], "wb").write(blob)
    logs = [d["logs"] for _, d in frames if d["type"] == "log" and d["instance"] is not None]
    flood = [l for l in logs if l.startswith("flood line ")]
    in_order = all(int(a.split()[2]) + 1 == int(b.split()[2]) for a, b in zip(flood, flood[1:]))
    rate = len(flood) / (last - first) if first and last and last > first else float("nan")
    print(f"flood: {len(flood)}/{lines} lines delivered to the fast watcher ({100 * len(flood) / lines:.1f}%), "
          f"in order: {in_order}, {rate:,.0f} lines/s (first to last log frame), master CPU {flood_cpu:.2f} s")
    print(f"REST during flood: {len(latencies)} GET /info, p50 {pct(latencies, 0.5):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")

    state_ids = [fid for fid, d in frames if fid and d["type"] != "log"]
    time.sleep(9)
    sa.send("stop")
    slow_results = sa.recv()
    slow.join(10)
    connected = sum(1 for _, closed in slow_results if not closed)
    correct = 0
    got_state = 0
    for blob_s, _ in slow_results:
        fr = parse_frames(blob_s)
        ids = {fid for fid, _ in fr if fid}
        if all(sid in ids for sid in state_ids):
            got_state += 1
        received = sum(1 for _, d in fr if d["type"] == "log" and d["instance"] is not None and d["logs"].startswith("flood line "))
        notices = [int(d["logs"].split()[2]) for _, d in fr if d["type"] == "log" and d["instance"] is None]
        if sum(notices) + received == lines and notices:
            correct += 1
    print(f"slow watchers: {connected}/{args.slow} still connected, {got_state}/{args.slow} received every state event "
          f"({len(state_ids)} seen by the fast watcher), {correct}/{args.slow} gap notices add up to the lines they missed")
    disconnects = [l for l in log if "watcher disconnected" in l]
    print(f"master log: {len(disconnects)} watcher disconnections" + (f" (first: {disconnects[0].strip()})" if disconnects else ""))
    proc.terminate()
    proc.wait(15)


if __name__ == "__main__":
    raise_nofile()
    watchers_bin = os.path.join(args.work, "bench-watchers")
    subprocess.run(["gcc", "-O2", "-o", watchers_bin, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_watchers.c")],
                   check=True)
    if os.environ.get("BENCH_ONLY") != "flood":
        # Issue 13: the same fan-out on the loop alone and with the automatic send threads.
        # Rounds alternate the two and which goes first (ABBA), so a noisy machine, and whatever
        # the previous master's 10,000 closed connections leave behind, weigh on both alike.
        singles, shareds = [], []
        for r in range(args.rounds):
            def single():
                singles.append(fanout_phase(f"round {r + 1}, loop only (OPENCTRL_TEST_FANOUT_HELPERS=0)",
                                            {"OPENCTRL_TEST_FANOUT_HELPERS": "0"}))

            def shared():
                shareds.append(fanout_phase(f"round {r + 1}, automatic send threads", {}))
            for phase in ((single, shared) if r % 2 == 0 else (shared, single)):
                phase()
        single = [statistics.median(x) for x in zip(*singles)]
        shared = [statistics.median(x) for x in zip(*shareds)]
        print(f"fan-out comparison (medians of {args.rounds} rounds): p99 {shared[0]:.1f} ms / {single[0]:.1f} ms = "
              f"{shared[0] / single[0]:.2f}x; CPU per watcher per event {shared[1]:.2f} / {single[1]:.2f} us = "
              f"{shared[1] / single[1]:.2f}x")
    if os.environ.get("BENCH_ONLY") != "fanout":
        flood_phase()
