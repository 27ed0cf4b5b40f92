"""Time from exec to the first answered GET /info, over repeated cold starts.

The master prints its bound port and key on stderr; the client polls with a fresh connection
until /info answers 200. State from the first run is kept, so later runs measure a normal
restart (load + bind), not first-start key creation.
"""
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import time

binary = sys.argv[1]
runs = int(os.environ.get("RUNS", "20"))
samples = []
for i in range(runs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, f"master://127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True)
    key = None
    while key is None:
        line = proc.stderr.readline()
        if not line:
            sys.exit("master exited early")
        m = re.search(r"API key (?:created|loaded): ([0-9a-f]{32})", line)
        if m:
            key = m.group(1)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/v2/info", headers={"X-API-Key": key})
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
    elapsed = (time.perf_counter() - t0) * 1000
    proc.terminate()
    proc.wait()
    if i > 0:
        samples.append(elapsed)
samples.sort()
print(f"first GET /info after exec (ms, {len(samples)} restarts): "
      f"min={samples[0]:.1f} median={statistics.median(samples):.1f} max={samples[-1]:.1f}")
