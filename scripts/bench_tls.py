"""TLS figures: idle RSS, GET /info over HTTPS with keep-alive against plain HTTP in the same
run (wrk), and full TLS 1.3 handshakes per second with the master's CPU time per handshake.

Usage: bench_tls.py <openctrl binary> <work dir>. The binary is copied into the work dir (its
state lives beside it). Masters run one at a time so they never compete for the two cores.
"""
import multiprocessing
import os
import re
import socket
import ssl
import subprocess
import sys
import time

binary, work = sys.argv[1], sys.argv[2]
duration = int(os.environ.get("DURATION", "10"))
clients = int(os.environ.get("CLIENTS", "2"))
exe = os.path.join(work, "openctrl-tls-bench")
subprocess.run(["cp", binary, exe], check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(query: str):
    port = free_port()
    proc = subprocess.Popen([exe, f"master://127.0.0.1:{port}{query}"], stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stderr.readline()
        if not line:
            sys.exit(f"master exited early ({query})")
        m = re.search(r"API key (?:created|loaded): ([0-9a-f]{32})", line)
        if m:
            return proc, port, m.group(1)


def status(pid: int, field: str) -> str:
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1] for line in f if line.startswith(field + ":"))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, key: str) -> tuple[str, str]:
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{duration}s", "--latency", "-H", f"X-API-Key: {key}", url],
                         capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    return rps, p99


def handshakes(args) -> int:
    port, until = args
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    count = 0
    while time.monotonic() < until:
        with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw):
            count += 1
    return count


for name, query, scheme in (("http", "", "http"), ("tls=1", "?tls=1", "https")):
    proc, port, key = start(query)
    time.sleep(2)
    idle = status(proc.pid, "VmRSS")
    rps, p99 = wrk(f"{scheme}://127.0.0.1:{port}/api/v2/info", key)
    print(f"{name}: idle rss_kib={idle}  GET /info keep-alive wrk -t2 -c64: {rps} req/s, p99 {p99}, "
          f"rss after load {status(proc.pid, 'VmRSS')} KiB")
    if scheme == "https":
        before = cpu_seconds(proc.pid)
        until = time.monotonic() + duration
        with multiprocessing.Pool(clients) as pool:
            total = sum(pool.map(handshakes, [(port, until)] * clients))
        used = cpu_seconds(proc.pid) - before
        print(f"{name}: full TLS 1.3 handshakes ({clients} client processes, new connection each, "
              f"{duration} s): {total / duration:.0f}/s, master CPU {used / total * 1000:.2f} ms per handshake, "
              f"rss after {status(proc.pid, 'VmRSS')} KiB")
    proc.terminate()
    proc.wait()
