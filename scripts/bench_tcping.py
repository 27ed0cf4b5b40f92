"""`GET /tcping` benchmark: throughput and latency with 50 concurrent keep-alive clients probing a
port on this machine that accepts every connection. Loopback only, bounded in time.

usage: bench_tcping.py <openctrl binary> [seconds]

The clients are 5 processes of 10 threads (so the GIL of one client process does not cap the
figures), each thread one keep-alive connection sending requests back to back. A separate
process accepts and closes the probed connections.
"""
import multiprocessing
import re
import socket
import sys
import threading
import time

from benchlib import acceptor, cpu_seconds, start_master

PROCESSES = 5
THREADS = 10
WARMUP = 1.0


def read_response(sock, buf):
    """One response on a keep-alive connection: (body, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        rest += chunk
    return rest[:length], rest[length:]


def client(port, request, start_at, stop_at, out, lock):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    latencies, failures, buf = [], 0, b""
    while time.monotonic() < start_at - WARMUP:
        time.sleep(0.001)
    while True:
        t = time.monotonic()
        if t >= stop_at:
            break
        sock.sendall(request)
        body, buf = read_response(sock, buf)
        done = time.monotonic()
        if t >= start_at:
            latencies.append(done - t)
            if b'"connected":true' not in body:
                failures += 1
    sock.close()
    with lock:
        out.append((latencies, failures))


def worker(port, request, start_at, stop_at, results):
    out, lock = [], threading.Lock()
    threads = [threading.Thread(target=client, args=(port, request, start_at, stop_at, out, lock))
               for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(out)


def main():
    binary = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    ports = multiprocessing.Queue()
    accepting = multiprocessing.Process(target=acceptor, args=(ports,), daemon=True)
    accepting.start()
    target_port = ports.get(timeout=5)
    proc, port, key = start_master(binary)
    try:
        request = (f"GET /api/v2/tcping?target=127.0.0.1:{target_port} HTTP/1.1\r\n"
                   f"Host: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n").encode()
        start_at = time.monotonic() + WARMUP + 0.5
        stop_at = start_at + seconds
        results = multiprocessing.Queue()
        workers = [multiprocessing.Process(target=worker, args=(port, request, start_at, stop_at, results))
                   for _ in range(PROCESSES)]
        for w in workers:
            w.start()
        time.sleep(max(0.0, start_at - time.monotonic()))
        cpu_start = cpu_seconds(proc.pid)
        time.sleep(max(0.0, stop_at - time.monotonic()))
        cpu_used = cpu_seconds(proc.pid) - cpu_start
        latencies, failures = [], 0
        for _ in workers:
            for lat, fail in results.get(timeout=seconds + 60):
                latencies.extend(lat)
                failures += fail
        for w in workers:
            w.join()
        latencies.sort()
        n = len(latencies)

        def pct(p):
            return latencies[min(n - 1, int(p * n))] * 1000

        print(f"tcping: clients={PROCESSES * THREADS} duration={seconds:.0f}s requests={n} "
              f"throughput={n / seconds:.0f} req/s not_connected={failures}")
        print(f"tcping master cpu: {cpu_used:.2f} s in {seconds:.0f} s, {cpu_used / max(n, 1) * 1e6:.0f} us per probe")
        print(f"tcping latency: p50={pct(0.50):.2f} ms p90={pct(0.90):.2f} ms p99={pct(0.99):.2f} ms "
              f"max={latencies[-1] * 1000:.2f} ms")
        status = open(f"/proc/{proc.pid}/status").read()
        rss = re.search(r"VmRSS:\s+(\d+)", status).group(1)
        threads = re.search(r"Threads:\s+(\d+)", status).group(1)
        print(f"tcping after load: rss_kib={rss} threads={threads}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        accepting.terminate()


if __name__ == "__main__":
    main()
