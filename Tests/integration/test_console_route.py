"""`GET <P>/console` on the wire (CONTRACT §22.7): the page the repository holds, with exactly its
security headers, no key, no CORS, GET only, and nothing below it."""

from __future__ import annotations

import re

import pytest

from harness import REPO, assert_no_cors

PAGE = REPO / "Sources" / "OpenCtrlServer" / "Console" / "console.html"
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
       "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# What evhttp adds to every reply.
TRANSPORT_HEADERS = {"Date", "Content-Length"}


@pytest.mark.parametrize("prefix", ["", "/ops"])
def test_get_serves_the_repository_page_with_exactly_its_headers(master, prefix):
    m = master.start(url_suffix=prefix)
    r = m.request("GET", m.api_path("/console"), headers={"Origin": "http://elsewhere.example"}, key=False)
    assert r.status == 200, r
    for name, value in PAGE_HEADERS.items():
        assert r.header_values(name) == [value], name
    assert set(r.headers.keys()) == set(PAGE_HEADERS) | TRANSPORT_HEADERS, r.headers.keys()
    assert_no_cors(r)
    assert r.body == PAGE.read_bytes()
    assert int(r.headers["Content-Length"]) == len(r.body) <= 64 * 1024


def test_no_key_is_needed_and_a_wrong_one_changes_nothing(started):
    m = started
    bodies = {m.request("GET", m.api_path("/console"), key=key).body for key in (False, "", "0" * 32, True)}
    assert bodies == {PAGE.read_bytes()}
    # Segments are matched percent-decoded, as for every route (§6 rule 2).
    assert m.request("GET", m.api_path("/%63onsole"), key=False).status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_other_methods_are_405_with_allow_get_and_no_cors(started, method):
    m = started
    body = None if method in ("HEAD", "OPTIONS") else b"{}"
    r = m.request(method, m.api_path("/console"), body=body, headers={"Origin": "http://elsewhere.example"}, key=False)
    assert r.status == 405, r
    assert r.header_values("Allow") == ["GET"]
    assert_no_cors(r)
    if method != "HEAD":
        assert r.header_values("Content-Type") == ["application/json"]
        assert r.body == b'{"error":"Method not allowed"}\n'


@pytest.mark.parametrize("sub", ["/console/", "/console/x", "/console/x/y", "/consoles", "/Console"])
def test_paths_below_or_beside_it_are_the_plain_404(started, sub):
    m = started
    for key in (False, True):
        r = m.request("GET", m.api_path(sub), key=key)
        assert r.status == 404, (sub, r)
        assert r.body == b"404 page not found\n"
        assert r.header_values("Content-Type") == ["text/plain; charset=utf-8"]
        assert_no_cors(r)
    # Outside the API base there is no console either.
    assert m.request("GET", "/console", key=False).status == 404


def test_answers_are_counted_under_the_console_label(started):
    m = started
    m.request("GET", m.api_path("/console"), key=False)
    m.request("POST", m.api_path("/console"), body=b"", key=False)
    text = m.request("GET", m.api_path("/metrics")).body.decode()
    assert 'openctrl_http_requests_total{route="console",code="200"} 1' in text, text
    assert 'openctrl_http_requests_total{route="console",code="405"} 1' in text, text


def test_the_page_is_self_contained():
    """No external requests (§22.7): no absolute or scheme-relative URL, no remote script, style,
    image or font; everything the page fetches is relative to its own API base."""
    html = PAGE.read_text(encoding="utf-8")
    assert len(html.encode()) <= 64 * 1024
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""\b(?:src|href|action)\s*=\s*["']?\s*//""", html), "scheme-relative URL"
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?(?!data:|#)[^"'\s>]""", html), "a fetched resource"
    assert not re.search(r"url\(|@import", html), "CSS that loads something"
    assert not re.search(r"<(?:script|link|img|iframe)\b[^>]*\bsrc=", html), "an external element"
