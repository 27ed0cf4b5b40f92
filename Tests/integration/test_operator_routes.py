"""The operator routes' shared rules (CONTRACT §22.1), `GET <P>/instances/{id}/process` (§22.3) and
`GET <P>/health` (§22.5), against the real binary and real children."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

from harness import assert_json
from instances_helpers import kit, read_pidfile, wait_until  # noqa: F401

RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})"
PROCESS_FIELDS = ["id", "status", "pid", "started", "uptime", "restarts", "last_exit", "next_restart", "cpu", "rss"]


def get(m, sub: str, **kw):
    return m.request("GET", m.api_path(sub), **kw)


def process(m, iid: str) -> dict:
    r = get(m, f"/instances/{iid}/process")
    assert_json(r, 200)
    assert [k for k, _ in json.loads(r.body, object_pairs_hook=list)] == PROCESS_FIELDS, r.body
    assert b'": ' not in r.body and b'", "' not in r.body and r.body.endswith(b"}\n"), r.body
    facts = json.loads(r.body)
    if facts["last_exit"] is not None:
        assert list(facts["last_exit"]) == ["time", "code", "signal", "reason"], r.body
    return facts


def health(m):
    r = get(m, "/health")
    return r, json.loads(r.body)


# ----- routing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sub", ["/instances/{id}/process", "/health", "/metrics", "/instances/{id}/logs"])
def test_other_methods_are_405_with_allow_get(kit, sub):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD"):
        r = m.request(method, m.api_path(sub.format(id=iid)), body=b"{}" if method != "HEAD" else None)
        assert r.status == 405, (method, r)
        assert r.headers.get("Allow") == "GET"
        assert r.headers.get("Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize("sub", ["/instances/{id}/process", "/health", "/metrics", "/instances/{id}/logs"])
def test_key_required_and_options_short_circuit(kit, sub):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    path = m.api_path(sub.format(id=iid))
    r = m.request("GET", path, key=False)
    assert r.status == 401 and json.loads(r.body) == {"error": "Unauthorized: API key required"}
    r = m.request("GET", path, key="0" * 32)
    assert r.status == 401 and json.loads(r.body) == {"error": "Unauthorized: Invalid API key"}
    r = m.request("OPTIONS", path, key=False)
    assert r.status == 200 and r.headers.get("Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize("sub", ["process", "logs"])
def test_unknown_id_and_key_record_are_404_before_the_method(kit, sub):
    m = kit.start()
    for iid in ("deadbeef", "%2A%2A%2A%2A%2A%2A%2A%2A"):
        for method in ("GET", "POST"):
            r = m.request(method, m.api_path(f"/instances/{iid}/{sub}"), body=b"{}" if method == "POST" else None)
            assert r.status == 404 and json.loads(r.body) == {"error": "instance not found"}, (iid, method, r)


def test_deeper_paths_are_not_subroutes(kit):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    # `<id>/process/` is the detail route with that whole remainder as its ID.
    r = get(m, f"/instances/{iid}/process/")
    assert r.status == 404 and json.loads(r.body) == {"error": "instance not found"}
    r = get(m, f"/instances/{iid}%2Fprocess")
    assert r.status == 404 and json.loads(r.body) == {"error": "instance not found"}


def test_authorization_bearer_counts_on_metrics_only(kit):
    m = kit.start()
    bearer = {"Authorization": f"Bearer {m.key}"}
    r = get(m, "/health", key=False, headers=bearer)
    assert r.status == 401 and json.loads(r.body) == {"error": "Unauthorized: API key required"}
    r = get(m, "/info", key=False, headers=bearer)
    assert r.status == 401
    # X-API-Key wins over a valid bearer credential.
    r = get(m, "/metrics", key="0" * 32, headers=bearer)
    assert r.status == 401 and json.loads(r.body) == {"error": "Unauthorized: Invalid API key"}
    r = get(m, "/metrics", key=False, headers={"Authorization": "Bearer " + "0" * 32})
    assert r.status == 401 and json.loads(r.body) == {"error": "Unauthorized: Invalid API key"}
    r = get(m, "/metrics", key=False, headers={"Authorization": "Basic " + m.key})
    assert r.status == 401 and json.loads(r.body) == {"error": "Unauthorized: API key required"}
    r = get(m, "/metrics", key=False, headers=bearer)
    assert r.status == 200 and r.headers.get("Content-Type").startswith("text/plain; version=0.0.4"), r


# ----- process ---------------------------------------------------------------------------------
def test_process_of_a_running_child(kit):
    m = kit.start()
    pidfile = kit.pidfile()
    iid = kit.create(kit.url(pidfile=pidfile))["id"]
    kit.wait_status(iid, "running")
    pid, pgid = read_pidfile(pidfile)
    facts = process(m, iid)
    assert facts["id"] == iid and facts["status"] == "running"
    assert facts["pid"] == pid == pgid
    assert re.fullmatch(RFC3339, facts["started"]), facts
    assert 0 <= facts["uptime"] < 60 and facts["restarts"] == 0
    assert facts["last_exit"] is None and facts["next_restart"] is None
    assert facts["rss"] > 1 << 20, facts  # a Python interpreter
    assert facts["cpu"] >= 0
    with open(f"/proc/{pid}/statm") as f:
        pages = int(f.read().split()[1])
    assert abs(facts["rss"] - pages * os.sysconf("SC_PAGESIZE")) < 8 << 20
    time.sleep(1.1)
    assert process(m, iid)["uptime"] >= 1


def test_process_after_a_graceful_stop(kit):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    kit.wait_status(iid, "running")
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped")
    facts = process(m, iid)
    assert (facts["pid"], facts["started"], facts["uptime"], facts["cpu"], facts["rss"]) == (0, None, 0, 0, 0)
    exit_ = facts["last_exit"]
    assert re.fullmatch(RFC3339, exit_["time"])
    # The fixture exits 0 on SIGTERM once its handler is installed, and dies of it before.
    assert exit_ in ({"time": exit_["time"], "code": 0, "signal": None, "reason": "exit status 0"},
                     {"time": exit_["time"], "code": None, "signal": "SIGTERM", "reason": "signal: terminated"}), exit_
    assert facts["restarts"] == 0


def test_crashing_child_counts_automatic_restarts(kit):
    m = kit.start()
    iid = kit.create(kit.url(signal="KILL"))["id"]
    # Killed by itself: `error`, then a restart after the backoff (1 s, then 2 s, …).
    kit.wait_status(iid, "error")
    facts = process(m, iid)
    assert facts["last_exit"]["signal"] == "SIGKILL" and facts["last_exit"]["code"] is None
    assert facts["last_exit"]["reason"] == "signal: killed"
    if facts["next_restart"] is not None:
        assert re.fullmatch(RFC3339, facts["next_restart"])
    deadline = time.monotonic() + 10
    while process(m, iid)["restarts"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process(m, iid)["restarts"] >= 1
    # An operator start is not an automatic restart.
    before = process(m, iid)["restarts"]
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped")
    assert process(m, iid)["restarts"] == before


def test_exit_code_is_reported(kit):
    m = kit.start()
    iid = kit.create(kit.url(exit=3))["id"]
    kit.wait_status(iid, "error")
    exit_ = process(m, iid)["last_exit"]
    assert (exit_["code"], exit_["signal"], exit_["reason"]) == (3, None, "exit status 3")


# ----- health ----------------------------------------------------------------------------------
def test_health_reports_instances_and_watchers(kit):
    m = kit.start()
    r, body = health(m)
    assert_json(r, 200)
    assert list(body) == ["status", "shutting_down", "state", "instances", "watchers", "uptime"]
    assert body["status"] == "ok" and body["shutting_down"] is False and body["state"] == "ok"
    assert body["instances"] == {"running": 0, "stopped": 0, "error": 0} and body["watchers"] == 0
    a = kit.create(kit.url())["id"]
    b = kit.create(kit.url(exit=2))["id"]
    kit.wait_status(a, "running")
    kit.wait_status(b, "error")
    kit.patch(b, {"restart": False})
    stream = m.raw()
    stream.send(f"GET {m.api_path('/events')} HTTP/1.1\r\nHost: x\r\nX-API-Key: {m.key}\r\n\r\n".encode())
    wait_until(lambda: health(m)[1]["watchers"] == 1, 5, "one watcher")
    r, body = health(m)
    assert r.status == 200 and body["status"] == "ok", body
    assert body["instances"]["running"] == 1 and body["instances"]["running"] + body["instances"]["error"] \
        + body["instances"]["stopped"] == 2
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    stream.close()


def test_health_is_503_while_state_writes_fail(kit):
    m = kit.start()
    # A directory where the temporary file must go makes every write fail (EISDIR).
    m.tmp.mkdir()
    r = m.api("POST", "/info", body='{"alias":"pending"}')
    assert r.status == 500
    r, body = health(m)
    assert r.status == 503, r
    assert (body["status"], body["state"], body["shutting_down"]) == ("unavailable", "failing", False)
    m.tmp.rmdir()
    assert m.api("POST", "/info", body='{"alias":"written"}').status == 200
    r, body = health(m)
    assert r.status == 200 and body["state"] == "ok"


def test_health_answers_503_with_its_body_during_shutdown(kit):
    m = kit.start()
    iid = kit.create(kit.url(ignoreterm=1))["id"]
    kit.wait_status(iid, "running")
    conn = m.connection()
    conn.request("GET", m.api_path("/health"), headers={"X-API-Key": m.key})
    first = conn.getresponse()
    assert first.status == 200 and json.loads(first.read())["shutting_down"] is False
    # The child ignores SIGTERM, so the shutdown waits out its 5 s grace with this connection open.
    m.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 3
    while True:
        conn.request("GET", m.api_path("/health"), headers={"X-API-Key": m.key})
        r = conn.getresponse()
        body = json.loads(r.read())
        if r.status == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status == 503, body
    assert (body["status"], body["shutting_down"], body["state"]) == ("unavailable", True, "ok")
    conn.request("GET", m.api_path("/info"), headers={"X-API-Key": m.key})
    r = conn.getresponse()
    assert r.status == 503 and json.loads(r.read()) == {"error": "master shutting down"}
    conn.close()
