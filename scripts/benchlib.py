"""What the benchmark drivers share: starting a master and reading its port and key, a keep-alive
API client, the master's CPU time, a cheap idle runtime, and a listener for /tcping to probe."""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time


def start_master(binary, url_suffix="", deadline_s=10, env=None, preexec_fn=None, log=None):
    """Runs `binary master://127.0.0.1:0<url_suffix>` (stdout discarded, `env` added to this
    environment) and returns (process, port, key) once the key is logged; stderr keeps being
    drained, into `log` when a list is given."""
    proc = subprocess.Popen([binary, f"master://127.0.0.1:0{url_suffix}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})),
                            preexec_fn=preexec_fn)
    lines = log if log is not None else []
    port = key = None
    deadline = time.monotonic() + deadline_s
    while key is None:
        if time.monotonic() > deadline:
            proc.kill()
            sys.exit("the master did not start")
        line = proc.stderr.readline()
        lines.append(line)
        m = re.search(r"started: http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
        m = re.search(r"API key (?:created|loaded): ([0-9a-f]{32})", line)
        if m:
            key = m.group(1)

    def drain():
        for line in proc.stderr:
            if log is not None:
                log.append(line)
    threading.Thread(target=drain, daemon=True).start()
    return proc, port, key


class Client:
    """One keep-alive connection to the API."""

    def __init__(self, port, key):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.key = key

    def call(self, method, path, body=None):
        self.conn.request(method, "/api/v2" + path, body=json.dumps(body) if body is not None else None,
                          headers={"X-API-Key": self.key})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data else None)


def cpu_seconds(pid):
    """User plus system CPU time of a process, from /proc/<pid>/stat."""
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_runtime(work):
    """A static C program that waits for a signal (cheap to exec, so starting many children
    measures the master, not shells), or a shell script where gcc is missing."""
    path = os.path.join(work, "idle-runtime")
    source = os.path.join(work, "idle.c")
    with open(source, "w") as f:
        f.write("#include <unistd.h>\nint main(void) { for (;;) pause(); }\n")
    if subprocess.run(["gcc", "-O2", "-static", "-o", path, source], capture_output=True).returncode != 0:
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexec sleep 3600\n")
        os.chmod(path, 0o755)
        print("idle runtime: shell script (gcc unavailable)")
    return path


def acceptor(port_out):
    """A listener that accepts and closes every connection; puts its port on `port_out`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port_out.put(listener.getsockname()[1])
    while True:
        conn, _ = listener.accept()
        conn.close()
