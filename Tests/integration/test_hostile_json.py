"""Invalid UTF-8 in every string field of every JSON body route (CONTRACT §7.2 "Our rule":
invalid UTF-8 inside a JSON string, or anywhere in the body, is `400`
`{"error":"Invalid request body"}`; the original silently replaced it with U+FFFD).

Each field is attacked with every malformed sequence class: a stray byte, a lone continuation,
overlong encodings, an encoded UTF-16 surrogate, a code point above U+10FFFF, a 5-byte form and
truncated sequences (mid-string and right before the closing quote). Each attack must be
rejected exactly so and change nothing; valid multi-byte text in the same fields is stored byte
for byte, so a master that rejects every non-ASCII byte fails too.
"""

from __future__ import annotations

import json

import pytest

from harness import Master, assert_error

BAD = {
    "ff": b"\xff",
    "fe": b"\xfe",
    "lone-continuation": b"\x80",
    "overlong-slash": b"\xc0\xaf",
    "overlong-c1": b"\xc1\xbf",
    "overlong-3-byte": b"\xe0\x80\xaf",
    "surrogate": b"\xed\xa0\x80",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "five-byte": b"\xf8\x88\x80\x80\x80",
    "truncated-mid": b"\xe2\x82",
}
KEY_ID = "********"
KEY_PATH = "/instances/%2A%2A%2A%2A%2A%2A%2A%2A"
GOOD = "héllo € 😀 \u2028 ü"


@pytest.fixture(scope="module")
def hj(tmp_path_factory):
    """A master without `bin` (nothing is spawned), with one instance that never restarts."""
    m = Master(tmp_path_factory.mktemp("hostile-json"))
    m.start()
    status, _, snap = m.json("POST", "/instances", {"url": "fixture://target", "alias": "target"})
    assert status == 201, snap
    status, _, snap = m.json("PATCH", f"/instances/{snap['id']}", {"restart": False})
    assert status == 200, snap
    m.target = snap["id"]
    yield m
    m.cleanup()


def world(m) -> tuple:
    """Everything a body could change: the instances (statuses aside, they move on their own
    after a start attempt), the master alias, and the key (a rotation would change it)."""
    status, _, lst = m.json("GET", "/instances")
    assert status == 200, lst
    for rec in lst:
        rec.pop("status")
    return json.dumps(lst, sort_keys=True), m.info()["alias"]


# (method, path, template); `@` is where the bad bytes go, always inside a JSON string.
FIELDS = [
    ("POST", "/instances", b'{"url":"fixture://h@st","alias":"a"}'),
    ("POST", "/instances", b'{"url":"fixture://host/p?q=@"}'),
    ("POST", "/instances", b'{"url":"fixture://host","alias":"@"}'),
    ("POST", "/instances", b'{"url":"fixture://host","meta":{"peer":{"sid":"@"},"tags":{"k":"v"}}}'),
    ("POST", "/instances", b'{"url":"fixture://host","@":"unknown field"}'),
    ("PATCH", "{target}", b'{"alias":"@"}'),
    ("PATCH", "{target}", b'{"action":"@"}'),
    ("PATCH", "{target}", b'{"meta":{"peer":{"sid":"@","type":"t","alias":"a"}}}'),
    ("PATCH", "{target}", b'{"meta":{"peer":{"sid":"s","type":"@","alias":"a"}}}'),
    ("PATCH", "{target}", b'{"meta":{"peer":{"sid":"s","type":"t","alias":"@"}}}'),
    ("PATCH", "{target}", b'{"meta":{"tags":{"@":"v"}}}'),
    ("PATCH", "{target}", b'{"meta":{"tags":{"k":"@"}}}'),
    ("PATCH", "{target}", b'{"restart":true,"note":"@"}'),
    ("PATCH", KEY_PATH, b'{"alias":"@"}'),
    ("PATCH", KEY_PATH, b'{"action":"restart","alias":"@"}'),
    ("PUT", "{target}", b'{"url":"fixture://other/@"}'),
    ("PUT", "{target}", b'{"url":"fixture://other?q=@"}'),
    ("PUT", "{target}", b'{"url":"fixture://other","@":1}'),
    ("POST", "/info", b'{"alias":"@"}'),
    ("POST", "/info", b'{"@":"x"}'),
]


def path_of(m, path: str) -> str:
    return path.replace("{target}", f"/instances/{m.target}")


@pytest.mark.parametrize("method,path,template", FIELDS,
                         ids=[f"{m} {p} {t.decode()}" for m, p, t in FIELDS])
def test_invalid_utf8_in_a_string_is_rejected_and_changes_nothing(hj, method, path, template):
    before = world(hj)
    for name, bad in {**BAD, "truncated-at-quote": b"\xc3"}.items():
        body = template.replace(b"@", b"x" + bad + b"y") if name != "truncated-at-quote" \
            else template.replace(b"@", b"x" + bad)
        r = hj.api(method, path_of(hj, path), body=body)
        assert_error(r, 400, "Invalid request body")
        assert world(hj) == before, name
    # The key was not rotated by a rejected `restart`: it still authenticates.
    assert hj.api("GET", "/info").status == 200


@pytest.mark.parametrize("where", ["between-tokens", "after-the-value", "before-the-value"])
def test_invalid_utf8_outside_strings_is_rejected(hj, where):
    body = {"between-tokens": b'{"alias":"a",\xff"x":1}', "after-the-value": b'{"alias":"a"}\xff',
            "before-the-value": b'\xef\xbb\xbf\xff{"alias":"a"}'}[where]
    before = world(hj)
    assert_error(hj.api("POST", "/info", body=body), 400, "Invalid request body")
    assert world(hj) == before


def test_valid_multibyte_text_is_stored_byte_for_byte(hj):
    status, _, created = hj.json("POST", "/instances", {"url": "fixture://host/p?q=" + GOOD,
                                                        "alias": GOOD})
    assert status == 201, created
    assert created["alias"] == GOOD
    assert created["url"] == "fixture://host/p?q=" + GOOD
    iid = created["id"]
    meta = {"peer": {"sid": GOOD, "type": GOOD + "t", "alias": GOOD + "a"}, "tags": {GOOD: GOOD + "v"}}
    status, _, patched = hj.json("PATCH", f"/instances/{iid}", {"alias": GOOD + "2", "meta": meta,
                                                               "restart": False})
    assert status == 200, patched
    assert patched["alias"] == GOOD + "2" and patched["meta"] == meta
    status, _, again = hj.json("GET", f"/instances/{iid}")
    assert again["alias"] == GOOD + "2" and again["meta"] == meta
    # Raw bytes on the wire: non-ASCII emitted as is, U+2028 escaped (§7.1).
    raw = hj.api("GET", f"/instances/{iid}").body
    assert "héllo € 😀 \\u2028 ü".encode() in raw
    status, _, info = hj.json("POST", "/info", {"alias": GOOD})
    assert status == 200 and info["alias"] == GOOD
    hj.json("POST", "/info", {"alias": ""})
    assert hj.api("DELETE", f"/instances/{iid}").status == 204


@pytest.mark.parametrize("escape,stored", [
    (b"\\ud800", "\ufffd"), (b"\\udc00x", "\ufffdx"), (b"\\ud800\\ud800", "\ufffd\ufffd"),
    (b"\\ud83d\\ude00", "😀"), (b"\\u0000", "\x00"), (b"\\u00e9", "é"),
])
def test_escaped_surrogates_decode_as_go_does(hj, escape, stored):
    """`\\ud800` is valid JSON syntax naming no character: the original's decoder stores U+FFFD,
    and so do we (only raw invalid bytes are rejected)."""
    r = hj.api("POST", "/info", body=b'{"alias":"' + escape + b'"}')
    assert r.status == 200, r.body
    assert r.json()["alias"] == stored
    assert hj.info()["alias"] == stored
    hj.json("POST", "/info", {"alias": ""})
