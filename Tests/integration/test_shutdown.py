"""Signal handling and shutdown with clients attached (CONTRACT §18)."""

from __future__ import annotations

import re
import signal
import time

import pytest

import statefile
from harness import LOG_PREFIX, assert_error


def get_info(m) -> bytes:
    return f"GET {m.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {m.key}\r\n\r\n".encode()


def assert_clean_exit(m) -> None:
    lines = m.stderr_lines()
    assert any(l.endswith(f" Master.shutdown: state saved: {m.primary}") for l in lines), "\n".join(lines)
    assert re.fullmatch(LOG_PREFIX + r"Master\.run: shutdown complete", lines[-1]), "\n".join(lines)


def test_idle_keep_alive_client_does_not_delay_exit(started):
    with started.raw() as c:
        c.send(get_info(started))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert started.stop(timeout=10) == 0
        elapsed = time.monotonic() - t0
        assert elapsed < 3.0, f"exit took {elapsed:.2f}s with an idle keep-alive connection"
        assert c.wait_closed(1)
    assert_clean_exit(started)


def test_half_sent_request_does_not_delay_exit(started):
    with started.raw() as c:
        c.send(f"GET {started.base}/info HTTP/1.1\r\nHost: x\r\n".encode())
        t0 = time.monotonic()
        assert started.stop(timeout=10) == 0
        assert time.monotonic() - t0 < 4.0
    assert_clean_exit(started)


def test_requests_racing_shutdown_get_200_or_503(started):
    """Whether a late request lands before or after the signal is processed is a race; what is
    fixed is that each answer is a normal 200 or the exact 503, that no 200 follows a 503 on a
    connection, and that the master still exits 0 within the contract's bound."""
    conns = [started.raw(timeout=3) for _ in range(3)]
    try:
        for c in conns:
            c.send(get_info(started))
            assert c.read_response().status == 200
        started.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        live = list(conns)
        seen_503 = set()
        while live and time.monotonic() - t0 < 8:
            for c in list(live):
                try:
                    c.send(get_info(started))
                    r = c.read_response(timeout=3)
                except (EOFError, ConnectionError, TimeoutError):
                    live.remove(c)
                    continue
                if r.status == 503:
                    assert_error(r, 503, "master shutting down")
                    seen_503.add(id(c))
                else:
                    assert r.status == 200 and id(c) not in seen_503, r
        assert started.wait_exit(timeout=max(1.0, 9 - (time.monotonic() - t0))) == 0
    finally:
        for c in conns:
            c.close()
    assert_clean_exit(started)


@pytest.mark.parametrize(
    "first, second",
    [
        (signal.SIGTERM, signal.SIGTERM),
        (signal.SIGINT, signal.SIGTERM),
        (signal.SIGTERM, signal.SIGINT),
        (signal.SIGHUP, signal.SIGTERM),
    ],
)
def test_second_signal_during_shutdown_still_exits_cleanly(started, first, second):
    assert started.api("POST", "/info", body=b'{"alias":"last words"}').status == 200
    started.send_signal(first)
    started.send_signal(second)
    assert started.wait_exit(timeout=10) == 0
    assert_clean_exit(started)
    rec = statefile.key_record(started.primary.read_bytes())
    assert (rec["url"], rec["alias"]) == (started.key, "last words")


def test_sigpipe_is_ignored(started):
    """A client that vanishes before reading its replies makes writes fail with EPIPE; the
    master must survive that, and a SIGPIPE from outside too."""
    for _ in range(20):
        with started.raw() as c:
            c.send(get_info(started) * 50)
    assert started.api("GET", "/info").status == 200
    started.send_signal(signal.SIGPIPE)
    assert started.api("GET", "/info").status == 200
    assert started.alive()


def test_shutdown_leaves_no_temporary_files(started):
    assert started.stop() == 0
    names = sorted(p.name for p in started.state_dir.iterdir())
    assert names in (["openctrl.gob", "openctrl.gob.log"], ["openctrl.gob", "openctrl.gob.backup", "openctrl.gob.log"]), names
    assert statefile.key_record(started.primary.read_bytes())["url"] == started.key
