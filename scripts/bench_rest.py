"""REST benchmarks (issue 10): wrk on GET /info, GET /instances with 100 and 1,000 running
instances, GET /instances/{id}, /tcping against a listener in a separate process, sequential
durable create → running → delete cycles, and the cost of one GET /metrics scrape with 1,000
running instances. Loopback only, bounded in count and time.

usage: bench_rest.py <openctrl binary> <work dir> [seconds per wrk run] [section ...]
sections: info cycles list detail list1000 cycles1000 metrics tcping (default: all, in that
order); `cycles` runs on an empty registry, `cycles1000` beside the 1,000 running instances,
`metrics` starts the 1,000 itself when `list1000` did not

Every wrk run is `wrk -t2 -c64 -d<seconds>s --latency` (`-c50` for /tcping, as the original was
measured); the master's CPU time over the run comes from /proc/<pid>/stat.
"""
import http.client
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import benchlib
from benchlib import Client, acceptor, cpu_seconds, idle_runtime

binary, work = sys.argv[1], sys.argv[2]
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
sections = sys.argv[4:] or ["info", "cycles", "list", "detail", "list1000", "cycles1000", "metrics", "tcping"]

idle = idle_runtime(work)


def start_master():
    """A master in a directory of its own (state lives beside the binary, CONTRACT §21.1)."""
    state_dir = os.path.join(work, f"rest-{time.monotonic_ns()}")
    os.makedirs(state_dir)
    exe = os.path.join(state_dir, "openctrl")
    shutil.copy(binary, exe)
    return benchlib.start_master(exe, f"?bin={idle}")


def create_running(client, count, first=0):
    ids = []
    for i in range(first, first + count):
        status, rec = client.call("POST", "/instances", {
            "alias": f"edge-{i:04d}",
            "url": f"idle://0.0.0.0:{10000 + i}/127.0.0.1:{20000 + i}?log=info&tls=0&mode=1&read=30s&rate=100"})
        assert status == 201, status
        ids.append(rec["id"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _, rows = client.call("GET", "/instances")
        if sum(1 for r in rows if r["status"] == "running") >= first + count:
            return ids
        time.sleep(0.1)
    sys.exit("instances did not reach running")


def wrk(name, proc, port, key, path, connections=64):
    url = f"http://127.0.0.1:{port}/api/v2{path}"
    cpu0 = cpu_seconds(proc.pid)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"X-API-Key: {key}", url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    cpu = cpu_seconds(proc.pid) - cpu0
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockerr = re.search(r"Socket errors: (.*)", out)
    total = rate * seconds
    print(f"{name}: {rate:,.0f} req/s p50={p50} p99={p99} master_cpu={cpu:.2f}s "
          f"({cpu / max(total, 1) * 1e6:.1f} us/req)"
          + (f" non2xx={errors.group(1)}" if errors else "") + (f" socket_errors: {sockerr.group(1)}" if sockerr else ""),
          flush=True)


def scrapes(name, proc, port, key, count=200):
    """Sequential GET /metrics on one keep-alive connection: wall time per scrape as the client
    sees it (request to last byte) and the master's CPU per scrape. A scrape is rendered on the
    loop, so its wall time is how long it holds every other client up."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {key}"}
    times = []
    size = 0
    cpu0 = cpu_seconds(proc.pid)
    for _ in range(count):
        t0 = time.perf_counter()
        conn.request("GET", "/api/v2/metrics", headers=headers)
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - t0)
        assert response.status == 200, response.status
        size = len(body)
    cpu = cpu_seconds(proc.pid) - cpu0
    conn.close()
    times.sort()
    print(f"{name}: {size:,} bytes, p50={times[len(times) // 2] * 1e3:.2f} ms "
          f"p99={times[int(len(times) * 0.99)] * 1e3:.2f} ms max={times[-1] * 1e3:.2f} ms wall per scrape, "
          f"master_cpu={cpu / count * 1e3:.2f} ms per scrape ({count} scrapes)", flush=True)


def cycles(name, proc, client):
    """Sequential create → running → delete over one keep-alive connection; every 2xx durable."""
    count = 0
    cpu0 = cpu_seconds(proc.pid)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        status, rec = client.call("POST", "/instances", {"url": "idle://cycle"})
        assert status == 201, status
        while client.call("GET", f"/instances/{rec['id']}")[1]["status"] != "running":
            pass
        assert client.call("DELETE", f"/instances/{rec['id']}")[0] == 204
        count += 1
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(proc.pid) - cpu0
    print(f"{name}: {count / elapsed:,.0f} create→running→delete per second (durable, one keep-alive client), "
          f"master_cpu={cpu / count * 1e3:.2f} ms per cycle", flush=True)


def main():
    # A terminated bench still stops its master (and so its 1,000 children) in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    proc, port, key = start_master()
    client = Client(port, key)
    try:
        if "info" in sections:
            wrk("GET /info", proc, port, key, "/info")
        if "cycles" in sections:
            cycles("cycles (empty registry)", proc, client)
        ids = []
        if {"list", "detail", "list1000"} & set(sections):
            ids = create_running(client, 100)
            _, rows = client.call("GET", "/instances")
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.request("GET", "/api/v2/instances", headers={"X-API-Key": key})
            size = len(conn.getresponse().read())
            print(f"listing of {len(rows)} records: {size} bytes")
        if "list" in sections:
            wrk("GET /instances (100 running)", proc, port, key, "/instances")
        if "detail" in sections:
            wrk("GET /instances/{id}", proc, port, key, f"/instances/{ids[0]}")
        if "list1000" in sections or "metrics" in sections:
            create_running(client, 1000 - len(ids), first=len(ids))
        if "list1000" in sections:
            wrk("GET /instances (1,000 running)", proc, port, key, "/instances")
        if "cycles1000" in sections and "list1000" in sections:
            cycles("cycles (beside 1,000 running)", proc, client)
        if "metrics" in sections:
            scrapes("GET /metrics (1,000 running)", proc, port, key)
        if "tcping" in sections:
            ports = multiprocessing.Queue()
            accepting = multiprocessing.Process(target=acceptor, args=(ports,), daemon=True)
            accepting.start()
            target = ports.get(timeout=5)
            try:
                wrk("GET /tcping (50 connections)", proc, port, key, f"/tcping?target=127.0.0.1:{target}", connections=50)
                _, body = client.call("GET", f"/tcping?target=127.0.0.1:{target}")
                assert body["connected"] is True, body
            finally:
                accepting.terminate()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
