"""Server read deadlines (CONTRACT §3 "Our rule"): header, body and keep-alive idle.

The master shortens them only for tests, through OPENCTRL_TEST_HTTP_TIMEOUTS=<header>,<body>,<idle>
(seconds). Assertions are about what happens (closed without an answer, or answered), with
generous upper bounds; no test depends on precise timing.
"""

from __future__ import annotations

import time

import pytest

from harness import RawConn

HEADER, BODY, IDLE = 1, 2, 3
# The sweep runs once a second, so a deadline is enforced within about a second after it passes.
SLACK = 3.0


@pytest.fixture
def short(master):
    master.env["OPENCTRL_TEST_HTTP_TIMEOUTS"] = f"{HEADER},{BODY},{IDLE}"
    return master.start()


def info_request(m) -> bytes:
    return f"GET {m.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {m.key}\r\n\r\n".encode()


def assert_still_serving(m):
    status, _, _ = m.request("GET", m.base + "/info")
    assert status == 200


def test_connection_that_sends_nothing_is_closed(short):
    with RawConn(short.port) as c:
        assert c.wait_closed(timeout=HEADER + SLACK)
    assert_still_serving(short)


def test_headers_trickled_past_the_header_deadline_are_cut_off(short):
    request = info_request(short)
    with RawConn(short.port) as c:
        started = time.monotonic()
        closed = False
        for byte in request:
            try:
                c.send(bytes([byte]))
            except OSError:
                closed = True
                break
            if c.readable(0.2):
                break
        if not closed:
            assert c.wait_closed(timeout=HEADER + SLACK)
        # Never answered: the request was not complete when the deadline passed.
        assert not c.buf.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < len(request) * 0.2
    assert_still_serving(short)


def test_body_trickled_past_the_body_deadline_is_cut_off(short):
    head = (
        f"POST {short.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {short.key}\r\n"
        f"Content-Length: 100\r\n\r\n{{\"alias\":"
    ).encode()
    with RawConn(short.port) as c:
        c.send(head)
        assert c.wait_closed(timeout=BODY + SLACK)
        assert c.buf == b""
    assert_still_serving(short)
    assert short.info()["alias"] == ""


def test_keep_alive_connection_is_reused_within_idle_and_closed_after(short):
    with RawConn(short.port) as c:
        c.send(info_request(short))
        assert c.read_response().status == 200
        # Well under the idle deadline: the connection still serves.
        time.sleep(0.5)
        c.send(info_request(short))
        assert c.read_response().status == 200
        # Silent for longer than the idle deadline: the master closes it.
        assert c.wait_closed(timeout=IDLE + SLACK)
    assert_still_serving(short)


def test_slow_but_steady_client_within_deadlines_is_served(short):
    request = info_request(short)
    with RawConn(short.port) as c:
        half = len(request) // 2
        c.send(request[:half])
        time.sleep(0.3)
        c.send(request[half:])
        assert c.read_response().status == 200
