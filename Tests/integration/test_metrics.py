"""`GET <P>/metrics` (CONTRACT §22.4): the Prometheus text exposition, its families following
real activity, its label escaping, its authentication, and `promtool check metrics`.

Values are compared against what the test itself caused, on a private master: every counter it
reads starts at a value the test knows.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.parse

from instances_helpers import kit  # noqa: F401  (fixture)
from sse import SSEClient

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

FAMILIES = {
    "openctrl_build_info": "gauge",
    "openctrl_start_time_seconds": "gauge",
    "openctrl_instances": "gauge",
    "openctrl_instance_info": "gauge",
    "openctrl_instance_up": "gauge",
    "openctrl_instance_restarts_total": "counter",
    "openctrl_instance_ping_seconds": "gauge",
    "openctrl_instance_pool": "gauge",
    "openctrl_instance_tcp_connections": "gauge",
    "openctrl_instance_udp_connections": "gauge",
    "openctrl_instance_tcp_received_bytes_total": "counter",
    "openctrl_instance_tcp_sent_bytes_total": "counter",
    "openctrl_instance_udp_received_bytes_total": "counter",
    "openctrl_instance_udp_sent_bytes_total": "counter",
    "openctrl_instance_cpu_seconds_total": "counter",
    "openctrl_instance_resident_memory_bytes": "gauge",
    "openctrl_event_watchers": "gauge",
    "openctrl_events_published_total": "counter",
    "openctrl_event_logs_skipped_total": "counter",
    "openctrl_event_watchers_dropped_total": "counter",
    "openctrl_http_requests_total": "counter",
    "openctrl_state_writes_total": "counter",
    "openctrl_state_write_duration_seconds": "histogram",
    "openctrl_tcping_probes_total": "counter",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
}

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def unescape(value: str) -> str:
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


class Exposition:
    """The parsed text: family headers in order and every sample keyed by name and labels."""

    def __init__(self, text: str):
        self.text = text
        self.help: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.samples: dict[tuple[str, frozenset], float] = {}
        assert text.endswith("\n")
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, doc = line[7:].partition(" ")
                assert name not in self.help, f"second HELP for {name}"
                self.help[name] = doc
            elif line.startswith("# TYPE "):
                name, _, kind = line[7:].partition(" ")
                assert name in self.help and name not in self.types, line
                self.types[name] = kind
            else:
                m = SAMPLE_RE.match(line)
                assert m, f"unparsable line: {line!r}"
                labels = {}
                if m.group(2):
                    pairs = LABEL_RE.findall(m.group(2))
                    assert ",".join(f'{k}="{v}"' for k, v, _ in pairs) == m.group(2), line
                    labels = {k: unescape(v) for k, v, _ in pairs}
                key = (m.group(1), frozenset(labels.items()))
                assert key not in self.samples, f"duplicate series {line!r}"
                self.samples[key] = float(m.group(3))

    def value(self, name: str, **labels) -> float:
        return self.samples[(name, frozenset(labels.items()))]

    def get(self, name: str, default: float | None = None, **labels) -> float | None:
        return self.samples.get((name, frozenset(labels.items())), default)

    def series(self, name: str) -> list[dict]:
        return [dict(labels) for (n, labels) in self.samples if n == name]


def scrape(m, **kw) -> Exposition:
    r = bearer_get(m, m.key) if not kw else m.api("GET", "/metrics", **kw)
    assert r.status == 200, r
    assert r.headers["Content-Type"] == CONTENT_TYPE
    return Exposition(r.body.decode())


def bearer_get(m, key: str, path: str = "/metrics", scheme: str = "Bearer"):
    return m.api("GET", path, headers={"Authorization": f"{scheme} {key}"}, key=False)


def wait_for(m, pred, what: str, timeout: float = 12.0) -> Exposition:
    deadline = time.monotonic() + timeout
    while True:
        e = scrape(m)
        if pred(e):
            return e
        assert time.monotonic() < deadline, f"{what}; last scrape:\n{e.text}"
        time.sleep(0.1)


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool not installed (Debian package prometheus): skipping its check")
        return
    run = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                         capture_output=True, timeout=30)
    assert run.returncode == 0 and not run.stdout.strip() and not run.stderr.strip(), (
        run.returncode, run.stdout.decode(), run.stderr.decode())


def test_every_family_follows_real_activity_and_passes_promtool(kit):
    m = kit.start()
    weird = 'a "quoted" \\ back\nslash ü'
    steady = kit.create(kit.url(checkpoints=3, step=100), alias="steady")
    odd = kit.create(kit.url(), alias=weird)
    crash = kit.m.json("POST", "/instances", {"alias": "crash", "url": kit.url(exit=1), "restart": True})[2]
    kit.wait(steady["id"], lambda r: r["status"] == "running" and r["tcprx"] == 300, what="checkpoints")

    watcher = SSEClient(m.port, m.base + "/events", key=m.key)
    assert watcher.read_head() == 200
    watcher.snapshot(4)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        open_port = s.getsockname()[1]
        for target in (f"127.0.0.1:{open_port}", f"127.0.0.1:{open_port}", "not a target", ""):
            m.request("GET", m.api_path("/tcping?target=" + urllib.parse.quote(target)))

    # A failing write: a directory where the temporary state file must go (test_durability).
    m.tmp.mkdir()
    assert m.api("POST", "/info", body='{"alias":"during"}').status == 500
    m.tmp.rmdir()

    assert m.api("GET", "/nowhere").status == 404
    assert m.api("GET", "//api/v2/info").status == 301 if m.base == "/api/v2" else True
    assert m.api("GET", "/info").status == 200

    # The crashing instance is restarted by its timer after 5 s.
    e = wait_for(m, lambda e: e.get("openctrl_instance_restarts_total", 0, id=crash["id"]) >= 1,
                 "an automatic restart")

    assert list(e.types) == list(FAMILIES), "families in the documented order"
    assert e.types == FAMILIES
    assert all(e.help[name] for name in FAMILIES)

    assert e.value("openctrl_build_info", version=m.info()["ver"]) == 1
    assert abs(e.value("openctrl_start_time_seconds") - time.time()) < 120

    ids = {steady["id"], odd["id"], crash["id"]}
    statuses = {s["status"]: e.value("openctrl_instances", **s) for s in e.series("openctrl_instances")}
    assert set(statuses) == {"running", "stopped", "error"}
    assert sum(statuses.values()) == 3 and statuses["running"] >= 2
    infos = e.series("openctrl_instance_info")
    assert {i["id"] for i in infos} == ids, "every instance and never the key record"
    assert "********" not in e.text
    by_id = {i["id"]: i for i in infos}
    assert by_id[odd["id"]]["alias"] == weird
    assert by_id[steady["id"]] == {"id": steady["id"], "alias": "steady", "type": steady["type"], "status": "running"}
    escaped = weird.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    assert f'alias="{escaped}"' in e.text

    sid = steady["id"]
    assert e.value("openctrl_instance_up", id=sid) == 1
    assert e.value("openctrl_instance_restarts_total", id=sid) == 0
    assert e.value("openctrl_instance_ping_seconds", id=sid) == 0.007
    assert e.value("openctrl_instance_pool", id=sid) == 2
    assert e.value("openctrl_instance_tcp_connections", id=sid) == 3
    assert e.value("openctrl_instance_udp_connections", id=sid) == 4
    assert e.value("openctrl_instance_tcp_received_bytes_total", id=sid) == 300
    assert e.value("openctrl_instance_tcp_sent_bytes_total", id=sid) == 600
    assert e.value("openctrl_instance_udp_received_bytes_total", id=sid) == 900
    assert e.value("openctrl_instance_udp_sent_bytes_total", id=sid) == 1200
    assert e.value("openctrl_instance_cpu_seconds_total", id=sid) >= 0
    assert e.value("openctrl_instance_resident_memory_bytes", id=sid) > 1 << 20
    running = {i["id"] for i in infos if i["status"] == "running"}
    assert {s["id"] for s in e.series("openctrl_instance_resident_memory_bytes")} == running

    assert e.value("openctrl_event_watchers") == 1
    assert e.value("openctrl_events_published_total", type="initial") == 4
    assert e.value("openctrl_events_published_total", type="create") == 3
    assert e.value("openctrl_events_published_total", type="update") >= 4
    assert e.value("openctrl_events_published_total", type="log") >= 0
    assert e.value("openctrl_events_published_total", type="delete") == 0
    assert e.value("openctrl_events_published_total", type="shutdown") == 0
    assert e.value("openctrl_event_logs_skipped_total") == 0
    assert e.value("openctrl_event_watchers_dropped_total", reason="cap") == 0
    assert e.value("openctrl_event_watchers_dropped_total", reason="stall") == 0

    assert e.value("openctrl_http_requests_total", route="instances", code="201") == 3
    assert e.value("openctrl_http_requests_total", route="events", code="200") == 1
    assert e.value("openctrl_http_requests_total", route="tcping", code="200") == 3
    assert e.value("openctrl_http_requests_total", route="tcping", code="400") == 1
    assert e.value("openctrl_http_requests_total", route="info", code="500") == 1
    assert e.value("openctrl_http_requests_total", route="other", code="404") == 1
    assert e.value("openctrl_http_requests_total", route="other", code="301") == 1
    assert e.value("openctrl_http_requests_total", route="metrics", code="200") >= 1

    assert e.value("openctrl_tcping_probes_total", result="connected") == 2
    assert e.value("openctrl_tcping_probes_total", result="failed") == 1
    assert e.value("openctrl_tcping_probes_total", result="busy") == 0

    assert e.value("openctrl_state_writes_total", result="failed") == 1
    ok = e.value("openctrl_state_writes_total", result="ok")
    assert ok >= 3
    count = e.value("openctrl_state_write_duration_seconds_count")
    assert count == ok + 1
    assert e.value("openctrl_state_write_duration_seconds_bucket", le="+Inf") == count
    buckets = [e.value("openctrl_state_write_duration_seconds_bucket", le=le) for le in
               ("0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1")]
    assert buckets == sorted(buckets) and buckets[-1] <= count
    assert 0 < e.value("openctrl_state_write_duration_seconds_sum") < count

    assert e.value("process_resident_memory_bytes") > 1 << 20
    assert e.value("process_virtual_memory_bytes") >= e.value("process_resident_memory_bytes")
    assert 5 <= e.value("process_open_fds") < e.value("process_max_fds")
    assert e.value("process_cpu_seconds_total") > 0
    assert abs(e.value("process_start_time_seconds") - e.value("openctrl_start_time_seconds")) < 2

    promtool_check(e.text)

    # Deleting and watching follow too; the watcher that leaves is no longer counted.
    watcher.close()
    assert m.api("DELETE", f"/instances/{odd['id']}").status == 204
    e = wait_for(m, lambda e: e.value("openctrl_event_watchers") == 0, "the watcher leaving")
    assert e.value("openctrl_events_published_total", type="delete") == 1
    assert odd["id"] not in {i["id"] for i in e.series("openctrl_instance_info")}
    promtool_check(e.text)


def test_bearer_and_key_rules(started):
    m = started
    assert bearer_get(m, m.key).status == 200
    assert bearer_get(m, m.key, scheme="bearer").status == 200
    assert bearer_get(m, "0" * 32).status == 401
    assert m.api("GET", "/metrics", key=False).status == 401
    # X-API-Key wins when both are present.
    both = {"Authorization": f"Bearer {m.key}"}
    assert m.api("GET", "/metrics", headers=both, key="0" * 32).status == 401
    wrong_bearer = {"Authorization": "Bearer " + "0" * 32}
    assert m.api("GET", "/metrics", headers=wrong_bearer).status == 200
    # Only /metrics reads Authorization.
    assert bearer_get(m, m.key, path="/info").status == 401


def test_methods(started):
    m = started
    for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD"):
        r = m.api(method, "/metrics")
        assert r.status == 405, (method, r)
        assert r.headers["Allow"] == "GET"
    r = m.api("OPTIONS", "/metrics", key=False)
    assert r.status == 200
    e = scrape(m)
    assert e.value("openctrl_http_requests_total", route="metrics", code="405") == 5
    assert e.value("openctrl_http_requests_total", route="metrics", code="200") == 1
