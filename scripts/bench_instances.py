"""Instance benchmarks (issue 3): output flood cost, create burst, lifecycle cycles, RSS with
many idle instances. Loopback only, bounded in count and time.

usage: bench_instances.py <openctrl binary> <work dir>
"""
import http.client
import json
import os
import re
import statistics
import sys
import threading
import time

import benchlib
from benchlib import cpu_seconds

binary, work = sys.argv[1], sys.argv[2]
idle_runtime = benchlib.idle_runtime(work)
flood_runtime = os.path.join(work, "flood-runtime")
with open(flood_runtime, "w") as f:
    # 200,000 lines of ~60 bytes (a checkpoint every 100th line), then exit 0.
    f.write("#!/usr/bin/env python3\nimport sys\nout=sys.stdout\n"
            "for i in range(2000):\n"
            "    out.write(''.join(f'2026/01/01 00:00:00 runtime event number {i*100+j} ok\\n' for j in range(99)))\n"
            "    out.write(f'CHECK_POINT|MODE=1|PING=5ms|POOL=1|TCPS=1|UDPS=1|TCPRX={i}|TCPTX={i}|UDPRX={i}|UDPTX={i}\\n')\n"
            "out.flush()\n")
os.chmod(flood_runtime, 0o755)


def start(bin_path):
    return benchlib.start_master(binary, f"?bin={bin_path}")


def call(port, key, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, "/api/v2" + path, body=json.dumps(body) if body is not None else None,
              headers={"X-API-Key": key})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def wait_all(port, key, ids, status, deadline_s):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        _, rows = call(port, key, "GET", "/instances")
        by_id = {r["id"]: r["status"] for r in rows}
        if all(by_id.get(i) == status for i in ids):
            return True
        time.sleep(0.001)
    return False


# 1. Flood: 200,000 lines from one child; master CPU per 100,000 lines; /info p99 meanwhile.
proc, port, key = start(flood_runtime)
latencies = []
stop = threading.Event()


def prober():
    while not stop.is_set():
        t = time.perf_counter()
        call(port, key, "GET", "/info")
        latencies.append((time.perf_counter() - t) * 1000)


before = cpu_seconds(proc.pid)
t0 = time.monotonic()
probe = threading.Thread(target=prober)
probe.start()
_, rec = call(port, key, "POST", "/instances", {"url": "flood://x"})
assert wait_all(port, key, [rec["id"]], "running", 10) or True
while True:
    _, r = call(port, key, "GET", f"/instances/{rec['id']}")
    if r["status"] == "stopped" and r["tcprx"] >= 1999:
        break
    time.sleep(0.05)
stop.set()
probe.join()
used = cpu_seconds(proc.pid) - before
latencies.sort()
print(f"flood: 200000 lines in {time.monotonic() - t0:.2f} s; master CPU {used:.3f} s "
      f"= {used / 2:.3f} s per 100,000 lines (incl. {len(latencies)} /info probes); "
      f"/info during flood p50={statistics.median(latencies):.2f} ms "
      f"p99={latencies[int(len(latencies) * 0.99) - 1]:.2f} ms")
proc.terminate()
proc.wait()

# 2. Burst of 500 concurrent creates until all running; 3. sequential cycles; 4. RSS.
proc, port, key = start(idle_runtime)
# A single-threaded client: 500 sockets opened first, then all requests written, then all
# answers read, so the figure measures the master rather than Python threads.
import socket
import selectors

socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
t0 = time.monotonic()
for i, sock in enumerate(socks):
    body = json.dumps({"alias": f"b{i}", "url": f"idle://{i}"}).encode()
    sock.sendall(b"POST /api/v2/instances HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key.encode()
                 + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
selector = selectors.DefaultSelector()
buffers = {}
for sock in socks:
    selector.register(sock, selectors.EVENT_READ)
    buffers[sock] = b""
ids = []
while len(ids) < 500:
    for key_, _ in selector.select(timeout=30):
        sock = key_.fileobj
        buffers[sock] += sock.recv(65536)
        head, sep, rest = buffers[sock].partition(b"\r\n\r\n")
        if not sep:
            continue
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        if len(rest) >= length:
            assert head.startswith(b"HTTP/1.1 201"), head[:40]
            ids.append(json.loads(rest[:length])["id"])
            selector.unregister(sock)
            sock.close()
acked = time.monotonic() - t0
ok = wait_all(port, key, ids, "running", 60)
print(f"burst: 500 creates acknowledged (durable) in {acked:.2f} s, all running after "
      f"{time.monotonic() - t0:.2f} s (ok={ok})")
for i in ids:
    call(port, key, "DELETE", f"/instances/{i}")

cycles = 0
t0 = time.monotonic()
while time.monotonic() - t0 < 10:
    _, r = call(port, key, "POST", "/instances", {"url": "idle://cycle"})
    wait_all(port, key, [r["id"]], "running", 10)
    assert call(port, key, "DELETE", f"/instances/{r['id']}")[0] == 204
    cycles += 1
print(f"cycles: {cycles / (time.monotonic() - t0):.0f} create→running→delete per second (durable)")

proc.terminate()
proc.wait(timeout=30)
proc, port, key = start(idle_runtime)
time.sleep(1)
base_rss = rss_kib(proc.pid)
ids = []
for i in range(1000):
    ids.append(call(port, key, "POST", "/instances", {"alias": f"idle {i}", "url": f"idle://{i}"})[1]["id"])
wait_all(port, key, ids, "running", 120)
time.sleep(1)
print(f"rss: {base_rss} KiB before, {rss_kib(proc.pid)} KiB with 1000 idle running instances")
proc.terminate()
proc.wait(timeout=30)
