"""Malformed and oversized requests against the real binary (CONTRACT §3, §6, §7.2, §20): every
kind of broken request line, version, header and framing; request smuggling through ambiguous
framing; garbage pipelined after a valid request; a swarm of random-byte connections.

A broken request gets a 4xx (evhttp's own HTML page is acceptable: the contract only fixes the
JSON answers of the routes) or a close without an answer, never a 2xx, and the connection is
closed so nothing after the broken framing is ever read as a request. Where the contract says
nothing, the Go original (net/http, which the contract follows unless it says otherwise) and
RFC 9112 decide which answers are correct. After every attack a fresh client is served.
"""

from __future__ import annotations

import json
import random

import pytest

from harness import Master, assert_json
from swarm import Swarm

HEADER, BODY, IDLE = 2, 3, 3
REJECT = {400}
NONE = None  # closed without any answer


@pytest.fixture(scope="module")
def hq(tmp_path_factory):
    m = Master(tmp_path_factory.mktemp("hostile-requests"))
    m.env["OPENCTRL_TEST_HTTP_TIMEOUTS"] = f"{HEADER},{BODY},{IDLE}"
    m.start()
    yield m
    m.cleanup()


def fill(m, template: bytes) -> bytes:
    return template.replace(b"{P}", m.base.encode()).replace(b"{K}", m.key.encode())


def served(m) -> None:
    """A normal request on a fresh connection is answered correctly."""
    assert m.alive(), "the master died:\n" + m.stderr_text()
    r = m.api("GET", "/info")
    assert_json(r, 200)
    assert r.json()["mid"]


GET = b"GET {P}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n"
POST = b"POST {P}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n"


def row(name, data, allowed, closes=True, bug=None):
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(data, set(allowed), closes, id=name, marks=marks)


ROWS = [
    # ----- request line ------------------------------------------------------------------------
    row("binary-line", bytes(b for b in range(1, 256) if b != 10) + b"\r\n\r\n", REJECT),
    row("nul-led-garbage", b"\x00\x01\x02garbage\r\n\r\n", REJECT),
    row("only-spaces", b" " * 5000 + b"\r\n\r\n", REJECT),
    row("empty-lines-first", b"\r\n\r\n" + GET + b"\r\n", REJECT),
    row("no-target", b"GET\r\n\r\n", REJECT),
    row("target-20k", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", {400, 414, 431}),
    row("nul-in-target", b"GET {P}/info\x00/../x HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", REJECT),
    row("nul-mid-target", b"GET {P}/in\x00fo HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", REJECT),
    row("spaces-around-target", b"GET  {P}/info  HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n",
        {400}),
    # ----- methods (evhttp answers 501 for methods it does not know; Go would route to 405) ------
    row("method-unknown", b"FOOBAR {P}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", {405, 501}),
    row("method-lowercase", b"get {P}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", {405, 501}),
    row("method-10k", b"A" * 10000 + b" {P}/info HTTP/1.1\r\nHost: x\r\n\r\n", {400, 405, 414, 501}),
    row("method-20k", b"A" * 20000 + b" {P}/info HTTP/1.1\r\nHost: x\r\n\r\n", {400, 414, 431}),
    # ----- versions ----------------------------------------------------------------------------
    row("http-2.0", b"GET {P}/info HTTP/2.0\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", {400, 505}),
    row("http-9.9", b"GET {P}/info HTTP/9.9\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", {400, 505}),
    row("https-1.1", b"GET {P}/info HTTPS/1.1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", REJECT),
    row("http-1", b"GET {P}/info HTTP/1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", REJECT),
    row("http-1.1.1", b"GET {P}/info HTTP/1.1.1\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", REJECT),
    row("http-0.9", b"GET {P}/info HTTP/0.9\r\nHost: x\r\nX-API-Key: {K}\r\n\r\n", {400, 505}),
    # ----- header lines ------------------------------------------------------------------------
    row("header-no-colon", GET + b"NoColonHere\r\n\r\n", REJECT),
    row("header-fold-first", b"GET {P}/info HTTP/1.1\r\n X-API-Key: {K}\r\nHost: x\r\n\r\n", REJECT),
    row("header-nul-in-name", GET + b"X-\x00Foo: bar\r\n\r\n", REJECT),
    row("header-nul-in-value", GET + b"X-Foo: b\x00ar\r\n\r\n", REJECT),
    row("key-with-nul-suffix", b"GET {P}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {K}\x00junk\r\n\r\n",
        {400, 401}),
    row("space-before-colon", GET + b"X-Foo : bar\r\n\r\n", REJECT),
    row("header-20k", GET + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n", {400, 413, 431}),
    row("cr-only-line-ends", b"GET {P}/info HTTP/1.1\rHost: x\rX-API-Key: {K}\r\r", {NONE, 400}),
    # ----- Content-Length ----------------------------------------------------------------------
    row("cl-negative", POST + b"Content-Length: -1\r\n\r\n{}", REJECT),
    row("cl-not-a-number", POST + b"Content-Length: abc\r\n\r\n{}", REJECT),
    row("cl-hex", POST + b"Content-Length: 0x2\r\n\r\n{}", REJECT),
    row("cl-empty", POST + b"Content-Length: \r\n\r\n{}", REJECT),
    row("cl-list", POST + b"Content-Length: 2, 2\r\n\r\n{}", REJECT),
    row("cl-two-numbers", POST + b"Content-Length: 1 2\r\n\r\n{}", REJECT),
    row("cl-plus-sign", POST + b"Content-Length: +2\r\n\r\n{}", REJECT),
    row("cl-huge", POST + b"Content-Length: 99999999999999999999999\r\n\r\n{}", {400, 413}),
    row("cl-2-pow-63", POST + b"Content-Length: 9223372036854775808\r\n\r\n{}", {400, 413}),
    row("cl-2mb-announced", POST + b"Content-Length: 2000000\r\n\r\n", {413}),
    row("cl-duplicate-equal", POST + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        {200, 400}, closes=False),
    # ----- chunked and other transfer codings --------------------------------------------------
    row("chunk-size-not-hex", POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", {400, 413}),
    row("chunk-size-negative", POST + b"Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n", {400, 413}),
    row("chunk-size-huge", POST + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
        {400, 413}),
    row("chunk-missing-crlf", POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
        {400, 413}),
    row("chunked-not-last", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        {400, 501}),
    row("te-twice", POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n", {400, 501}),
    # RFC 9112 §6.1: reject, or go by Transfer-Encoding alone; either way close afterwards.
    row("te-and-cl", POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        {200, 400}),
]


@pytest.mark.parametrize("template,allowed,closes", ROWS)
def test_malformed_request(hq, template, allowed, closes):
    with hq.raw(timeout=4) as c:
        try:
            c.send(fill(hq, template))
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            status = c.read_response(timeout=4).status
        except (EOFError, ConnectionError):
            status = NONE
        except ValueError as exc:
            pytest.fail(f"not an HTTP/1.x response: {exc}")
        assert status in allowed, (status, c.buf[:200])
        if closes:
            # Well before the header (2 s) and idle (3 s) deadlines: closed because of the error.
            assert c.wait_closed(1.5), "connection left open after a broken request"
    served(hq)


def big_alias_body(size: int) -> bytes:
    return b'{"alias":"' + b"a" * (size - 12) + b'"}'


@pytest.mark.parametrize("size,status", [(1 << 20, 400), ((1 << 20) + 1, 413), (2 << 20, 413)],
                         ids=["1MiB", "1MiB+1", "2MiB"])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_body_size_limit(hq, size, status, chunked):
    """1 MiB is accepted and reaches the handler (which rejects the 1 MiB alias by its own rule);
    a byte more is 413, whether announced or streamed in chunks."""
    body = big_alias_body(size)
    if chunked:
        step = 65536
        framing = b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(
            b"%x\r\n" % len(body[i:i + step]) + body[i:i + step] + b"\r\n"
            for i in range(0, len(body), step)) + b"0\r\n\r\n"
    else:
        framing = b"Content-Length: %d\r\n\r\n" % len(body) + body
    with hq.raw(timeout=5) as c:
        try:
            c.send(fill(hq, POST) + framing)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response(timeout=5)
    assert r.status == status, (r.status, r.body[:100])
    if status == 400:
        assert r.json() == {"error": "Master alias exceeds maximum length 256"}
    assert hq.info()["alias"] == ""
    served(hq)


def set_alias(alias: str) -> bytes:
    body = json.dumps({"alias": alias}).encode()
    return POST + b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.fixture
def clean_alias(hq):
    yield
    hq.request("POST", hq.base + "/info", body=b'{"alias":""}')


def smuggle(m, template: bytes) -> list:
    """Send one write, collect every answer until the server closes or goes quiet."""
    statuses = []
    with m.raw(timeout=4) as c:
        c.send(fill(m, template))
        while True:
            try:
                statuses.append(c.read_response(timeout=IDLE + 2).status)
            except (EOFError, ConnectionError, TimeoutError):
                return statuses


def test_differing_content_lengths_cannot_smuggle_a_request(hq, clean_alias):
    inner = set_alias("smuggled")
    outer = POST + b"Content-Length: 2\r\nContent-Length: %d\r\n\r\n{}" % (2 + len(fill(hq, inner))) + inner
    statuses = smuggle(hq, outer)
    assert hq.info()["alias"] == "", "the smuggled request was executed"
    assert statuses == [400], statuses


@pytest.mark.parametrize("coding", [b"gzip", b"identity", b"xchunked"])
def test_unknown_transfer_coding_cannot_smuggle_a_request(hq, clean_alias, coding):
    outer = POST + b"Transfer-Encoding: " + coding + b"\r\n\r\n" + set_alias("smuggled")
    statuses = smuggle(hq, outer)
    assert hq.info()["alias"] == "", "the smuggled request was executed"
    assert statuses in ([400], [501]), statuses


@pytest.mark.parametrize("garbage", [b"\x00\xffGARBAGE\r\n\r\n", b"BLAH\r\n\r\n",
                                     b"GET {P}/info HTTP/1.1\r\nBad Header\r\n\r\n"],
                         ids=["binary", "word", "bad-header"])
def test_garbage_pipelined_after_a_valid_request(hq, clean_alias, garbage):
    """The valid request is answered, the garbage rejected and the connection closed: a request
    pipelined behind the garbage is never executed."""
    statuses = smuggle(hq, GET + b"\r\n" + garbage + set_alias("after-garbage"))
    assert statuses == [200, 400], statuses
    assert hq.info()["alias"] == ""
    served(hq)


def test_random_byte_connections(hq):
    """300 connections of 1-4 KB of seeded random bytes at once: none is answered with anything
    but a 4xx/5xx error page, every one is closed by the header deadline, the master serves."""
    rng = random.Random(20260608)
    payloads = [rng.randbytes(rng.randint(1024, 4096)) for _ in range(300)]
    with Swarm(hq.port) as swarm:
        swarm.open(300, lambda i: payloads[i])
        assert swarm.run_until(lambda: swarm.open_count() == 0, HEADER + 4), (
            f"{swarm.open_count()} connections still open")
        statuses = [c.status() for c in swarm.clients]
    unexpected = [s for s in statuses if s is not None and s not in (400, 413, 414, 431, 501, 505)]
    assert not unexpected, unexpected
    for c in swarm.clients:
        assert c.received == b"" or c.received.startswith(b"HTTP/1.1 "), bytes(c.received[:60])
    served(hq)
    print(f"\nrandom bytes: 300 conns, {sum(1 for s in statuses if s)} answered 4xx/5xx, "
          f"{sum(1 for s in statuses if s is None)} closed silently")


def test_the_master_is_still_whole(hq):
    """Run last in this module: after every attack the master is alive and logs no crash."""
    served(hq)
    assert not [l for l in hq.stderr_lines() if "fatal" in l.lower() or "panic" in l.lower()]
