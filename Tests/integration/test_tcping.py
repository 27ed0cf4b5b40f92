"""`GET <P>/tcping`: results, Go's error strings, the 256-slot cap with its 1 s wait, and
cancellation when the client goes away (CONTRACT §8.10, §14, §20).

Every target is on this machine: an open port is a socket the test listens on, a closed port one
it bound and released, and a connect that hangs is one to a listener with backlog 0 whose only
queue place is already taken (the kernel drops further SYNs, so the connect waits for the 5 s
budget). Waits poll with deadlines.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import time
import urllib.parse
from contextlib import closing, contextmanager

import pytest

from harness import assert_error, assert_json, assert_no_cors

FIELD_ORDER = ["target", "connected", "latency", "error"]
SLOTS = 256
SLOT_WAIT = 1.0
BUDGET = 5.0


def tcping_path(master, target: str | None = None, raw_query: str | None = None) -> str:
    if raw_query is not None:
        return master.api_path("/tcping?" + raw_query)
    if target is None:
        return master.api_path("/tcping")
    return master.api_path("/tcping?target=" + urllib.parse.quote(target, safe=""))


def probe(master, target: str):
    """One probe on a fresh connection: (decoded result, raw response)."""
    r = master.request("GET", tcping_path(master, target), timeout=BUDGET + 5)
    assert_json(r, 200)
    pairs = json.loads(r.body, object_pairs_hook=list)
    assert [k for k, _ in pairs] == FIELD_ORDER, r.body
    return dict(pairs), r


def request_bytes(master, target: str) -> bytes:
    return (f"GET {tcping_path(master, target)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-API-Key: {master.key}\r\n\r\n").encode()


@contextmanager
def listener(backlog: int = 128):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    try:
        yield s, s.getsockname()[1]
    finally:
        s.close()


def closed_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect_completes(port: int, within: float) -> bool:
    with closing(socket.socket()) as c:
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        _, writable, _ = select.select([], [c], [], within)
        return bool(writable) and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


@pytest.fixture
def hanging_port():
    """A port whose connects hang: backlog 0 and its one queue place taken by a connection nobody
    accepts. Verified before use, since the trick depends on the kernel dropping SYNs."""
    with listener(backlog=0) as (_, port):
        filler = socket.create_connection(("127.0.0.1", port), timeout=2)
        try:
            assert not connect_completes(port, 0.3), "a backlog-0 listener with a full queue accepted a connect"
            yield port
        finally:
            filler.close()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(predicate, timeout: float, what: str, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def send_probes(master, target: str, count: int):
    conns = []
    for _ in range(count):
        c = master.raw(timeout=BUDGET + 5)
        c.send(request_bytes(master, target))
        conns.append(c)
    return conns


def hold_all_slots(master, port: int):
    """256 probes stuck in connect; returns their connections once the master holds 256 sockets
    for them (one accepted HTTP connection and one probe socket each)."""
    baseline = open_fds(master.pid)
    conns = send_probes(master, f"127.0.0.1:{port}", SLOTS)
    wait_until(lambda: open_fds(master.pid) >= baseline + 2 * SLOTS, 3.0, "256 probes in flight")
    return baseline, conns


def read_result(conn, timeout: float):
    r = conn.read_response(timeout=timeout)
    assert_json(r, 200)
    return json.loads(r.body)


# ----- results -------------------------------------------------------------------------------
def test_open_port_connects(started):
    with listener() as (_, port):
        target = f"127.0.0.1:{port}"
        result, r = probe(started, target)
    assert re.fullmatch(rb'\{"target":"127\.0\.0\.1:\d+","connected":true,"latency":\d+,"error":null\}\n', r.body)
    assert result == {"target": target, "connected": True, "latency": result["latency"], "error": None}
    assert type(result["latency"]) is int and 0 <= result["latency"] < 1000


def test_open_port_by_name_and_by_empty_host(started):
    with listener() as (_, port):
        for target in (f"localhost:{port}", f":{port}", f"127.0.0.1:0{port}"):
            result, _ = probe(started, target)
            assert result["connected"] is True, result
            assert result["target"] == target


def test_closed_port_is_refused(started):
    port = closed_port()
    result, _ = probe(started, f"127.0.0.1:{port}")
    assert result == {"target": f"127.0.0.1:{port}", "connected": False, "latency": 0,
                      "error": f"dial tcp 127.0.0.1:{port}: connect: connection refused"}
    result, _ = probe(started, f":{port}")
    assert result["error"] == f"dial tcp :{port}: connect: connection refused"


def test_closed_port_over_ipv6(started):
    try:
        with closing(socket.socket(socket.AF_INET6)) as s:
            s.bind(("::1", 0))
            port = s.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    result, _ = probe(started, f"[::1]:{port}")
    assert result["error"] == f"dial tcp [::1]:{port}: connect: connection refused"


def test_unresolvable_name(started):
    result, _ = probe(started, "nonexistent.invalid:80")
    assert result["connected"] is False and result["latency"] == 0
    assert result["error"].startswith("dial tcp: lookup nonexistent.invalid"), result
    assert result["error"].endswith((": no such host", ": i/o timeout", ": server misbehaving")), result


def test_names_that_are_not_dns_syntax_never_reach_a_server(started):
    result, r = probe(started, "<bad>_name!:80")
    assert result["error"] == "dial tcp: lookup <bad>_name!: no such host"
    # Echoed verbatim, escaped as Go's encoder does.
    assert b'"target":"\\u003cbad\\u003e_name!:80"' in r.body


STATIC_ERRORS = [
    ("example.com", "dial tcp: address example.com: missing port in address"),
    ("[::1]", "dial tcp: address [::1]: missing port in address"),
    ("a:b:c", "dial tcp: address a:b:c: too many colons in address"),
    ("[::1]:80:81", "dial tcp: address [::1]:80:81: too many colons in address"),
    ("[::1:80", "dial tcp: address [::1:80: missing ']' in address"),
    ("a[b:80", "dial tcp: address a[b:80: unexpected '[' in address"),
    ("a]b:80", "dial tcp: address a]b:80: unexpected ']' in address"),
    ("example.com:65536", "dial tcp: address 65536: invalid port"),
    ("example.com:-1", "dial tcp: address -1: invalid port"),
    ("example.com:99999999999", "dial tcp: address 99999999999: invalid port"),
    ("example.com:nosuchservice", "dial tcp: lookup tcp/nosuchservice: unknown port"),
    ("example.com:8o", "dial tcp: lookup tcp/8o: unknown port"),
]


@pytest.mark.parametrize("target,error", STATIC_ERRORS, ids=[t for t, _ in STATIC_ERRORS])
def test_target_errors_use_go_strings(started, target, error):
    result, _ = probe(started, target)
    assert result == {"target": target, "connected": False, "latency": 0, "error": error}


def test_named_port_and_percent_decoding(started):
    # `http` is port 80 in Go's tables; nothing listens on it here, so the refusal names port 80.
    if connect_completes(80, 0.2):
        pytest.skip("something listens on port 80 here")
    r = started.request("GET", tcping_path(started, raw_query="target=127.0.0.1%3Ahttp&target=ignored"))
    assert_json(r, 200)
    assert json.loads(r.body) == {"target": "127.0.0.1:http", "connected": False, "latency": 0,
                                  "error": "dial tcp 127.0.0.1:80: connect: connection refused"}


# ----- request validation --------------------------------------------------------------------
@pytest.mark.parametrize("query", [None, "", "target=", "target", "target=&target=127.0.0.1:1", "other=1"])
def test_missing_or_empty_target(started, query):
    path = tcping_path(started) if query is None else tcping_path(started, raw_query=query)
    assert_error(started.request("GET", path), 400, "Target address required")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_are_405(started, method):
    r = started.request(method, tcping_path(started, "127.0.0.1:1"))
    assert r.status == 405
    assert r.header_values("Allow") == ["GET, OPTIONS"]
    if method != "HEAD":
        assert_error(r, 405, "Method not allowed")


def test_authentication_is_required(started):
    assert_error(started.request("GET", tcping_path(started, "127.0.0.1:1"), key=False), 401,
                 "Unauthorized: API key required")
    assert_error(started.request("GET", tcping_path(started, "127.0.0.1:1"), key="0" * 32), 401,
                 "Unauthorized: Invalid API key")


def test_trailing_slash_is_not_the_route(started):
    r = started.request("GET", started.api_path("/tcping/?target=127.0.0.1:1"))
    assert r.status == 404 and r.body == b"404 page not found\n"
    assert_no_cors(r)


# ----- the slot cap --------------------------------------------------------------------------
def test_256_slots_then_one_second_wait(started, hanging_port):
    _, held = hold_all_slots(started, hanging_port)
    sent = time.monotonic()
    extra = send_probes(started, f"127.0.0.1:{hanging_port}", 300 - SLOTS)
    try:
        for conn in extra:
            result = read_result(conn, timeout=BUDGET)
            assert result == {"target": f"127.0.0.1:{hanging_port}", "connected": False, "latency": 0,
                              "error": "too many requests"}
        waited = time.monotonic() - sent
        assert SLOT_WAIT - 0.05 <= waited < BUDGET - 1, waited
        timeout_error = f"dial tcp 127.0.0.1:{hanging_port}: i/o timeout"
        for conn in held:
            result = read_result(conn, timeout=BUDGET + 3)
            assert result == {"target": f"127.0.0.1:{hanging_port}", "connected": False, "latency": 0,
                              "error": timeout_error}
        assert time.monotonic() - sent >= BUDGET - 1
    finally:
        for conn in held + extra:
            conn.close()


def test_client_disconnect_frees_its_slot(started, hanging_port):
    baseline, held = hold_all_slots(started, hanging_port)
    for conn in held:
        conn.close()
    with listener() as (_, port):
        started_at = time.monotonic()
        result, _ = probe(started, f"127.0.0.1:{port}")
        elapsed = time.monotonic() - started_at
    assert result["connected"] is True, result
    assert elapsed < SLOT_WAIT, elapsed
    # Every probe socket and every abandoned connection is closed long before the 5 s budget.
    wait_until(lambda: open_fds(started.pid) <= baseline + 1, 2.0, "abandoned probes to be closed")


def test_disconnect_after_more_bytes_is_still_noticed(started, hanging_port):
    """Bytes in front of the FIN (a pipelined request, a TLS close_notify) hide the EOF from a
    read; the probe must be cancelled all the same."""
    baseline = open_fds(started.pid)
    conn = started.raw()
    conn.send(request_bytes(started, f"127.0.0.1:{hanging_port}"))
    wait_until(lambda: open_fds(started.pid) >= baseline + 2, 2.0, "the probe to start")
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
    # A round trip on another connection: the loop has seen those bytes before it answers.
    started.info()
    conn.close()
    wait_until(lambda: open_fds(started.pid) <= baseline, 2.0, "the probe to be cancelled")


def test_waiting_client_that_leaves_gives_up_its_place(started, hanging_port):
    baseline, held = hold_all_slots(started, hanging_port)
    try:
        sent = time.monotonic()
        waiter = send_probes(started, f"127.0.0.1:{hanging_port}", 1)[0]
        wait_until(lambda: open_fds(started.pid) >= baseline + 2 * SLOTS + 1, 0.5, "the waiter's connection")
        waiter.close()
        # Released at once, not when its 1 s wait for a slot would have run out.
        wait_until(lambda: open_fds(started.pid) <= baseline + 2 * SLOTS, sent + 0.9 - time.monotonic(),
                   "the waiter to leave")
    finally:
        for conn in held:
            conn.close()


# ----- the resolver --------------------------------------------------------------------------
def traced_text(path, needle: str | None = None, timeout: float = 3.0) -> str:
    """The trace so far; with `needle`, waits until it shows up (strace writes as it goes)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        if needle is None or needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.02)


def test_literal_targets_never_touch_the_resolver(started, tmp_path):
    """Literal addresses are connected without evdns: no resolver is made, so neither
    resolv.conf nor the hosts file is read and no UDP socket opened. A name then does all of
    that, which shows the trace would have seen it."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (Debian package strace)")
    trace = tmp_path / "trace"
    tracer = subprocess.Popen([strace, "-f", "-qq", "-e", "trace=openat,socket", "-o", str(trace),
                               "-p", str(started.pid)], stderr=subprocess.DEVNULL)
    try:
        # /info reads /proc: once its opens are in the trace, strace is attached.
        deadline = time.monotonic() + 5
        while "/proc/" not in traced_text(trace) and time.monotonic() < deadline:
            started.info()
            time.sleep(0.05)
        assert "/proc/" in traced_text(trace), "strace did not attach"
        with listener() as (_, port):
            for target in (f"127.0.0.1:{port}", f":{port}", f"127.0.0.1:{closed_port()}", f"[::1]:{port}",
                           f"127.0.0.1:{port}"):
                probe(started, target)
            literal = traced_text(trace)
            assert "resolv.conf" not in literal and "/etc/hosts" not in literal, literal
            assert "SOCK_DGRAM" not in literal, literal
            result, _ = probe(started, f"localhost:{port}")
            assert result["connected"] is True
            assert "/etc/hosts" in traced_text(trace, "/etc/hosts")
    finally:
        tracer.terminate()
        tracer.wait(timeout=10)
