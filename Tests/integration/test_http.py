"""Authentication, CORS, routing, canonicalisation and method checks (CONTRACT §4.3, §5, §6, §7.1).

Read-only tests share one master per module to keep the suite fast; tests that change state get
their own.
"""

from __future__ import annotations

import socket
import struct

import pytest

from harness import Master, assert_cors, assert_error, assert_json, assert_no_cors

NOT_FOUND = b"404 page not found\n"
REQUIRED = "Unauthorized: API key required"
INVALID = "Unauthorized: Invalid API key"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    m = Master(tmp_path_factory.mktemp("http"))
    m.start()
    yield m
    m.cleanup()


def p(srv, path: str) -> str:
    return path.replace("{P}", srv.base)


def body_for(method: str, body: bytes = b"{}") -> bytes | None:
    """Only methods that carry a body get one, so no stray bytes are left on the wire."""
    return body if method in ("POST", "PUT", "PATCH") else None


PROTECTED = [
    ("GET", "/info"),
    ("POST", "/info"),
    ("PUT", "/info"),
    ("GET", "/instances"),
    ("POST", "/instances"),
    ("DELETE", "/instances"),
    ("GET", "/instances/"),
    ("GET", "/instances/zzzz"),
    ("PATCH", "/instances/********"),
    ("GET", "/events"),
    ("POST", "/events"),
    ("GET", "/tcping?target=127.0.0.1:1"),
]


# ----- authentication ------------------------------------------------------------------------
@pytest.mark.parametrize("method, sub", PROTECTED)
def test_missing_key(srv, method, sub):
    assert_error(srv.api(method, sub, body=body_for(method, b'{"alias":"x"}'), key=False), 401, REQUIRED)


@pytest.mark.parametrize("method, sub", PROTECTED)
def test_empty_key(srv, method, sub):
    assert_error(srv.api(method, sub, body=body_for(method), key=""), 401, REQUIRED)


@pytest.mark.parametrize("variant", ["zeros", "upper", "short", "long", "other-header-value"])
def test_wrong_key(srv, variant):
    key = {
        "zeros": "0" * 32,
        "upper": srv.key.upper(),
        "short": srv.key[:-1],
        "long": srv.key + "0",
        "other-header-value": "Bearer " + srv.key,
    }[variant]
    assert_error(srv.api("GET", "/info", key=key), 401, INVALID)


@pytest.mark.parametrize("name", ["x-api-key", "X-API-KEY", "X-Api-Key", "x-API-kEY"])
def test_header_name_is_case_insensitive(srv, name):
    r = srv.api("GET", "/info", headers={name: srv.key}, key=False)
    assert_json(r, 200)


@pytest.mark.parametrize("query", ["X-API-Key={k}", "key={k}", "api_key={k}", "apikey={k}", "token={k}"])
def test_query_string_key_is_not_accepted(srv, query):
    r = srv.api("GET", "/info?" + query.format(k=srv.key), key=False)
    assert_error(r, 401, REQUIRED)


@pytest.mark.parametrize("value", ["Bearer {k}", "{k}"])
def test_authorization_header_is_never_read(srv, value):
    r = srv.api("GET", "/info", headers={"Authorization": value.format(k=srv.key)}, key=False)
    assert_error(r, 401, REQUIRED)


@pytest.mark.parametrize("first_good, status", [(True, 200), (False, 401)])
def test_only_the_first_key_header_counts(srv, first_good, status):
    good, bad = srv.key, "f" * 32
    first, second = (good, bad) if first_good else (bad, good)
    req = (
        f"GET {srv.base}/info HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-API-Key: {first}\r\nx-api-key: {second}\r\nConnection: close\r\n\r\n"
    ).encode()
    r = srv.raw_request(req)
    assert r.status == status, r.body
    assert_cors(r)


# ----- CORS and OPTIONS ----------------------------------------------------------------------
def test_cors_on_success_and_errors(srv):
    assert_json(srv.api("GET", "/info"), 200)
    assert_error(srv.api("GET", "/info", key=False), 401, REQUIRED)
    assert_error(srv.api("PUT", "/info"), 405, "Method not allowed")
    assert_error(srv.api("POST", "/instances/"), 400, "instance ID is required")
    assert_error(srv.api("GET", "/instances/zzzz"), 404, "instance not found")


@pytest.mark.parametrize(
    "sub",
    ["/info", "/instances", "/instances/", "/instances/unknown", "/instances/********",
     "/instances/a/b", "/events", "/tcping", "/info?x=1"],
)
@pytest.mark.parametrize("key", [False, "wrong"])
def test_options_needs_no_auth(srv, sub, key):
    r = srv.api("OPTIONS", sub, key=key)
    assert r.status == 200
    assert r.body == b""
    assert_cors(r)


# ----- unknown paths -------------------------------------------------------------------------
UNKNOWN = ["/", "{P}", "{P}/", "/api", "/api/", "{P}/info/", "{P}/events/", "{P}/tcping/", "{P}/nope",
           "{P}/INFO", "{P}/infox", "{P}/instancesx", "/api/v1/info", "/info", "/api/v2x/info"]


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("method, key", [("GET", True), ("GET", False), ("POST", True), ("OPTIONS", False)])
def test_unknown_path_is_plain_404(srv, path, method, key):
    r = srv.request(method, p(srv, path), key=key)
    assert r.status == 404
    assert r.body == NOT_FOUND
    assert r.header_values("Content-Type") == ["text/plain; charset=utf-8"]
    assert r.header_values("X-Content-Type-Options") == ["nosniff"]
    assert_no_cors(r)


# ----- canonicalisation ----------------------------------------------------------------------
REDIRECTS = [
    ("{P}//info", "{P}/info"),
    ("{P}/./info", "{P}/info"),
    ("{P}/x/../info", "{P}/info"),
    ("{P}/../v2/info", "{P}/info"),
    ("/{P}/info", "{P}/info"),
    ("{P}/info/.", "{P}/info"),
    ("{P}/info/./", "{P}/info/"),
    ("{P}//instances/", "{P}/instances/"),
    ("{P}/nope//x", "{P}/nope/x"),
]


@pytest.mark.parametrize("path, location", REDIRECTS)
@pytest.mark.parametrize("key", [True, False])
def test_unclean_paths_redirect(srv, path, location, key):
    loc = p(srv, location)
    r = srv.request("GET", p(srv, path), key=key)
    assert r.status == 301
    assert r.header_values("Location") == [loc]
    assert r.header_values("Content-Type") == ["text/html; charset=utf-8"]
    assert r.body == f'<a href="{loc}">Moved Permanently</a>.\n\n'.encode()
    assert_no_cors(r)


@pytest.mark.parametrize("query", ["?a=1", "?a=1&b=%20x", "?"])
def test_redirect_keeps_query(srv, query):
    r = srv.request("GET", srv.base + "//info" + query)
    assert r.status == 301
    expected = srv.base + "/info" + (query if query != "?" else "")
    assert r.header_values("Location") in ([expected], [srv.base + "/info" + query])


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_redirect_precedes_method_checks(srv, method):
    r = srv.request(method, srv.base + "/./info", body=body_for(method), key=False)
    assert r.status == 301
    assert r.header_values("Location") == [srv.base + "/info"]
    assert_no_cors(r)


# ----- percent-decoded matching ----------------------------------------------------------------
@pytest.mark.parametrize("path", ["{P}/%69nfo", "{P}/%69%6E%66%6F", "/%61pi/v2/info", "{P}/info?x=1&y"])
def test_segments_are_decoded_before_matching(srv, path):
    r = srv.request("GET", p(srv, path))
    assert_json(r, 200)
    assert r.json()["mid"] == srv.info()["mid"]


@pytest.mark.parametrize("sub", ["/instances/%2F", "/instances/%2f", "/instances/"])
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "PUT", "DELETE"])
def test_empty_instance_id(srv, sub, method):
    assert_error(srv.api(method, sub, body=body_for(method)), 400, "instance ID is required")


@pytest.mark.parametrize("sub", ["/instances/zzzz", "/instances/abcd1234/", "/instances/zz/yy",
                                 "/instances/%2A", "/instances/********x"])
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "PUT", "DELETE"])
def test_unknown_instance_id(srv, sub, method):
    assert_error(srv.api(method, sub, body=body_for(method)), 404, "instance not found")


def test_percent_encoded_key_record_id(srv):
    r = srv.api("GET", "/instances/%2A%2A%2A%2A%2A%2A%2A%2A")
    assert_json(r, 200)
    rec = r.json()
    assert (rec["id"], rec["url"], rec["config"], rec["status"]) == (
        "********", srv.key, srv.info()["mid"], "")


# ----- methods -------------------------------------------------------------------------------
METHODS = [
    ("PUT", "/info", {"GET", "POST"}),
    ("PATCH", "/info", {"GET", "POST"}),
    ("DELETE", "/info", {"GET", "POST"}),
    ("DELETE", "/instances", {"GET", "POST"}),
    ("PUT", "/instances", {"GET", "POST"}),
    ("PATCH", "/instances", {"GET", "POST"}),
    ("POST", "/events", {"GET"}),
    ("DELETE", "/events", {"GET"}),
    ("POST", "/tcping", {"GET"}),
    ("PUT", "/tcping", {"GET"}),
]


def allowed(resp) -> set[str]:
    values = resp.header_values("Allow")
    assert len(values) == 1, values
    return {m.strip() for m in values[0].split(",")}


@pytest.mark.parametrize("method, sub, methods", METHODS)
def test_wrong_method_is_405_with_allow(srv, method, sub, methods):
    r = srv.api(method, sub, body=body_for(method))
    assert_error(r, 405, "Method not allowed")
    got = allowed(r)
    assert methods <= got <= methods | {"OPTIONS"}, got


@pytest.mark.parametrize("sub, methods", [("/info", {"GET", "POST"}), ("/instances", {"GET", "POST"}),
                                          ("/events", {"GET"}), ("/tcping", {"GET"})])
def test_head_is_not_get(srv, sub, methods):
    r = srv.raw_request(
        f"HEAD {srv.base}{sub} HTTP/1.1\r\nHost: x\r\nX-API-Key: {srv.key}\r\nConnection: close\r\n\r\n".encode(),
        head_request=True,
    )
    assert r.status == 405
    assert_cors(r)
    assert methods <= allowed(r) <= methods | {"OPTIONS"}


# ----- custom prefix -------------------------------------------------------------------------
def test_custom_prefix(master):
    master.start("/control")
    assert master.base == "/control/v2"
    assert_json(master.request("GET", "/control/v2/info"), 200)
    for path in ("/api/v2/info", "/control/info", "/control/v2", "/control"):
        r = master.request("GET", path)
        assert (r.status, r.body) == (404, NOT_FOUND), path


# ----- connection level ----------------------------------------------------------------------
def test_keep_alive_and_pipelining(srv):
    one = f"GET {srv.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {srv.key}\r\n\r\n".encode()
    anon = f"GET {srv.base}/info HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with srv.raw() as c:
        c.send(one)
        assert c.read_response().status == 200
        c.send(one + anon + one)
        statuses = [c.read_response().status for _ in range(3)]
        assert statuses == [200, 401, 200]


def test_http10_request(srv):
    with srv.raw() as c:
        c.send(f"GET {srv.base}/info HTTP/1.0\r\nX-API-Key: {srv.key}\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 200
        assert r.json()["mid"]
        assert c.wait_closed(3)


def test_expect_100_continue(started):
    body = b'{"alias":"continued"}'
    with started.raw() as c:
        c.send(
            f"POST {started.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {started.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        interim = c.read_response(timeout=3)
        assert interim.status == 100
        c.send(body)
        r = c.read_response()
    assert_json(r, 200)
    assert r.json()["alias"] == "continued"


@pytest.mark.parametrize("junk", [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"\x16\x03\x01\x00\x05hello\r\n\r\n",
                                  b"GET /api/v2/info HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"])
def test_malformed_requests_do_not_hurt(srv, junk):
    with srv.raw(timeout=3) as c:
        c.send(junk)
        try:
            r = c.read_response(timeout=3)
            assert 400 <= r.status < 500, r.status
        except (EOFError, ConnectionError):
            pass
    assert srv.api("GET", "/info").status == 200


def test_client_reset_mid_request(srv):
    for partial in (b"GET " + srv.base.encode() + b"/info HTTP/1.1\r\nHo", b"POST " + srv.base.encode()
                    + b"/info HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"al"):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
        s.sendall(partial)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
    s.sendall(f"GET {srv.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {srv.key}\r\n\r\n".encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert srv.api("GET", "/info").status == 200
    assert srv.alive()
