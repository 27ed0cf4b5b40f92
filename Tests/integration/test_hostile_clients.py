"""Hostile clients that hold connections (CONTRACT §3 "Our rule", §20): slowloris headers, bodies
trickled byte by byte, thousands of idle keep-alive connections, header floods and pipelined
bursts, all against the real binary while a normal client keeps being served.

The read deadlines are shortened through OPENCTRL_TEST_HTTP_TIMEOUTS (docs/master.md); the
master sweeps them once a second, so a deadline is enforced between its value and about a
second later. Malformed requests are in test_hostile_requests.py, bodies in test_hostile_json.py.

The idle-connection test opens 2,000 connections in the suite. The issue's full figure is
10,000; run it by hand with

    OPENCTRL_HOSTILE_IDLE_CONNS=10000 OPENCTRL_BIN=$PWD/.build/debug/openctrl \\
        python3 -m pytest -q -p no:cacheprovider Tests/integration/test_hostile_clients.py -k idle

(the test lifts its own descriptor soft limit; the hard limit must allow count + 100).
"""

from __future__ import annotations

import os
import time

import pytest

from harness import assert_json
from swarm import Swarm, fd_count, raise_fd_limit

HEADER, BODY, IDLE = 2, 3, 3
# Sweep period (1 s) plus scheduling noise on a loaded 2-core machine.
SLACK = 2.5
IDLE_CONNS = int(os.environ.get("OPENCTRL_HOSTILE_IDLE_CONNS", "2000"))


@pytest.fixture
def short(master):
    master.env["OPENCTRL_TEST_HTTP_TIMEOUTS"] = f"{HEADER},{BODY},{IDLE}"
    return master.start()


def info_request(m) -> bytes:
    return f"GET {m.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {m.key}\r\n\r\n".encode()


def timed_info(m) -> float:
    """One GET /info on a fresh connection, checked; returns its latency in seconds."""
    t0 = time.monotonic()
    r = m.api("GET", "/info")
    elapsed = time.monotonic() - t0
    assert_json(r, 200)
    assert r.json()["mid"]
    return elapsed


def baseline_fds(m) -> int:
    """The master's descriptor count once no client connection is open."""
    timed_info(m)
    deadline = time.monotonic() + 3
    count = fd_count(m.pid)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = fd_count(m.pid)
        if now == count:
            return count
        count = now
    return count


def wait_fds(m, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while (n := fd_count(m.pid)) > expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return n


@pytest.mark.parametrize("upfront", [False, True], ids=["from-request-line", "in-a-header"])
def test_slowloris_headers_are_cut_at_the_header_deadline(short, upfront):
    """200 connections each send one header byte every 0.2 s, never finishing the block (from
    the first byte, or after a complete request line and key header): all are closed,
    unanswered, between the header deadline and a sweep later; a normal client is served
    throughout and the master's descriptors return to their baseline."""
    m = short
    fds = baseline_fds(m)
    slow = f"GET {m.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {m.key}\r\nX-Slow: ".encode()
    latencies: list[float] = []
    with Swarm(m.port) as swarm:
        swarm.open(200, slow if upfront else b"")
        feed = iter(b"a" * 10_000 if upfront else slow + b"a" * 10_000)

        def tick():
            swarm.trickle(bytes([next(feed)]))
            if len(latencies) < 5:
                latencies.append(timed_info(m))

        assert swarm.run_until(lambda: swarm.open_count() == 0, HEADER + SLACK + 2, tick, 0.2), (
            f"{swarm.open_count()} slowloris connections still open after {HEADER + SLACK + 2}s")
        lifetimes = [c.closed - c.opened for c in swarm.clients]
        sent = [c.sent for c in swarm.clients]
        assert all(c.received == b"" for c in swarm.clients), "a slowloris connection got a response"
    assert min(lifetimes) >= HEADER - 0.1, f"closed before the header deadline: {min(lifetimes):.2f}s"
    assert max(lifetimes) <= HEADER + SLACK, f"closed late: {max(lifetimes):.2f}s"
    assert max(latencies) < 0.5, latencies
    assert wait_fds(m, fds, 3) == fds
    print(f"\nslowloris: 200 conns, closed after {min(lifetimes):.2f}-{max(lifetimes):.2f}s, "
          f"{min(sent)}-{max(sent)} bytes each; /info {max(latencies) * 1000:.1f} ms max")
    timed_info(m)


def test_bodies_trickled_byte_by_byte_are_cut_at_the_body_deadline(short):
    """50 POST /info whose complete headers announce 198 body bytes, then one byte every 0.2 s:
    each is closed without an answer once the body deadline passes, nothing is applied, and a
    normal client is served meanwhile."""
    m = short
    body = b'{"alias":"' + b"t" * 186 + b'"}'
    head = (f"POST {m.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {m.key}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    latencies: list[float] = []
    with Swarm(m.port) as swarm:
        swarm.open(50, head)
        feed = iter(body)

        def tick():
            swarm.trickle(bytes([next(feed)]))
            if len(latencies) < 5:
                latencies.append(timed_info(m))

        assert swarm.run_until(lambda: swarm.open_count() == 0, BODY + SLACK + 2, tick, 0.2), (
            f"{swarm.open_count()} trickling connections still open")
        lifetimes = [c.closed - c.connected for c in swarm.clients]
        assert all(c.received == b"" for c in swarm.clients), "a trickled body was answered"
        sent = [c.sent - len(head) for c in swarm.clients]
    assert min(lifetimes) >= BODY - 0.1, f"closed before the body deadline: {min(lifetimes):.2f}s"
    assert max(lifetimes) <= BODY + SLACK, f"closed late: {max(lifetimes):.2f}s"
    assert max(sent) < len(body)
    assert max(latencies) < 0.5, latencies
    assert m.info()["alias"] == ""
    print(f"\ntrickled bodies: 50 conns, closed after {min(lifetimes):.2f}-{max(lifetimes):.2f}s "
          f"having sent {min(sent)}-{max(sent)} of {len(body)} body bytes")


def test_idle_connections_are_held_then_closed_at_the_idle_deadline(master):
    """`IDLE_CONNS` keep-alive connections each make one request and then stay silent: all are
    answered and held open together, a fresh client is served quickly meanwhile, every one is
    closed between the idle deadline and a sweep later, and the master's descriptors return to
    the baseline. The idle deadline here is long enough for all of them to be open at once
    (the master answers a few hundred new connections a second in a debug build)."""
    raise_fd_limit(IDLE_CONNS + 200)
    idle = max(8, IDLE_CONNS // 250)
    master.env["OPENCTRL_TEST_HTTP_TIMEOUTS"] = f"{HEADER},{BODY},{idle}"
    m = master.start()
    fds = baseline_fds(m)
    with Swarm(m.port) as swarm:
        t0 = time.monotonic()
        swarm.open(IDLE_CONNS, info_request(m), in_flight=100, timeout=60)
        assert swarm.run_until(lambda: swarm.answered_count() + sum(
            1 for c in swarm.clients if c.closed is not None) >= IDLE_CONNS, 20), "requests unanswered"
        opened = time.monotonic() - t0
        early = [c for c in swarm.clients if c.closed is not None]
        assert not early, f"{len(early)} connections closed before all were answered"
        assert all(c.status() == 200 for c in swarm.clients)
        held_fds = fd_count(m.pid)
        latencies = [timed_info(m) for _ in range(10)]
        assert swarm.run_until(lambda: swarm.open_count() == 0, idle + SLACK + 5), (
            f"{swarm.open_count()} idle connections still open")
        quiet = [c.closed - c.answered for c in swarm.clients]
    assert held_fds >= fds + IDLE_CONNS
    # `answered` is when this client finished reading, which lags the master's write a little
    # when thousands of sockets share one selector.
    assert min(quiet) >= idle - 0.5, f"closed before the idle deadline: {min(quiet):.2f}s"
    assert max(quiet) <= idle + SLACK + 1, f"closed late: {max(quiet):.2f}s"
    assert max(latencies) < 0.25, latencies
    assert wait_fds(m, fds, 5) == fds, "descriptors leaked after the idle connections closed"
    print(f"\nidle: {IDLE_CONNS} conns answered in {opened:.2f}s; /info meanwhile "
          f"{min(latencies) * 1000:.1f}-{max(latencies) * 1000:.1f} ms; closed after "
          f"{min(quiet):.2f}-{max(quiet):.2f}s idle (deadline {idle} s)")
    timed_info(m)


def test_header_flood_within_the_limit_is_served(short):
    """1,500 tiny headers (about 13 KB with line endings, under 16 KiB): a valid request."""
    m = short
    flood = b"".join(b"A%d:v\r\n" % i for i in range(1500))
    assert len(flood) < 15 * 1024
    with m.raw() as c:
        t0 = time.monotonic()
        c.send(info_request(m)[:-2] + flood + b"\r\n")
        r = c.read_response()
        elapsed = time.monotonic() - t0
    assert_json(r, 200)
    assert elapsed < 0.5, elapsed


@pytest.mark.parametrize("count", [3000, 20000])
def test_header_flood_over_the_limit_is_rejected(short, count):
    """Thousands of tiny headers past 16 KiB: a 4xx (evhttp's own page is fine) and a close,
    never a 2xx; then a fresh client is served."""
    m = short
    flood = b"".join(b"X-F%d: v\r\n" % i for i in range(count))
    with m.raw() as c:
        try:
            c.send(info_request(m)[:-2] + flood + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            assert c.read_response().status in (400, 413, 431)
        except (EOFError, ConnectionError):
            pass
        assert c.wait_closed(2)
    timed_info(m)


def test_header_block_limit_counts_the_whole_block(short):
    """CONTRACT §3/§20: the request header block is limited to 16 KiB. 4,000 lines `A:b` make a
    20 KB block (12 KB without the CRLFs)."""
    m = short
    flood = b"A:b\r\n" * 4000
    with m.raw() as c:
        c.send(info_request(m)[:-2] + flood + b"\r\n")
        try:
            status = c.read_response().status
        except (EOFError, ConnectionError):
            status = None
    assert status in (None, 400, 413, 431), status
    timed_info(m)


def test_pipelined_burst_is_answered_in_order(short):
    """1,000 requests in one write, alternating keyed and unkeyed: 1,000 answers in order."""
    m = short
    keyed = info_request(m)
    anon = f"GET {m.base}/info HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with m.raw(timeout=20) as c:
        t0 = time.monotonic()
        c.send((keyed + anon) * 500)
        statuses = [c.read_response(timeout=20).status for _ in range(1000)]
        elapsed = time.monotonic() - t0
    assert statuses == [200, 401] * 500
    print(f"\npipelined: 1000 requests answered in {elapsed:.2f}s")
    timed_info(m)
