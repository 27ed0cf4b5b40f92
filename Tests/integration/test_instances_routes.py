"""Instance routes and their error answers (CONTRACT §6 rule 6, §8.3–§8.8, §8.11, §9.1, §9.3, §20).

These run against a master without `bin`: nothing is spawned, so the tests see only the API.
"""

from __future__ import annotations

import json
import re

from harness import assert_cors, assert_error, assert_json
from instances_helpers import FIELDS, ID_RE, Kit, ordered

EMPTY_META = {"peer": {"sid": "", "type": "", "alias": ""}, "tags": {}}


def post(m, obj=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(obj).encode()
    return m.api("POST", "/instances", body=body)


def new(m, url="fixture://host/a", alias=""):
    r = post(m, {"alias": alias, "url": url})
    assert r.status == 201, r
    return r.json()


def test_create_answers_201_with_a_stopped_snapshot(started):
    r = post(started, {"alias": "edge-a", "url": "Fixture://Host:1/p?q=1&x=%41"})
    assert_json(r, 201)
    assert ordered(r.body) == FIELDS
    snap = r.json()
    assert ID_RE.match(snap["id"]), snap
    assert snap == {
        "id": snap["id"], "alias": "edge-a", "type": "fixture", "status": "stopped",
        "url": "fixture://Host:1/p?q=1&x=%41", "config": "", "restart": True, "meta": EMPTY_META,
        "mode": 0, "ping": 0, "pool": 0, "tcps": 0, "udps": 0,
        "tcprx": 0, "tcptx": 0, "udprx": 0, "udptx": 0,
    }
    # The meta object keeps its inner order too.
    inner = json.loads(r.body, object_pairs_hook=lambda p: p)
    meta = dict(inner)["meta"]
    assert [k for k, _ in meta] == ["peer", "tags"]
    assert [k for k, _ in dict(meta)["peer"]] == ["sid", "type", "alias"]
    # Alias may be absent; ids differ.
    r2 = post(started, {"url": "other:opaque"})
    assert r2.status == 201, r2
    assert r2.json()["alias"] == "" and r2.json()["type"] == "other"
    assert r2.json()["url"] == "other:opaque"
    assert r2.json()["id"] != snap["id"]


def test_create_rejects_bad_bodies(started):
    bad = [
        b"", b"{", b"null", b"[]", b'"x"', b"5", b"{}",
        b'{"alias":"a"}', b'{"url":""}', b'{"url":null}', b'{"url":5}', b'{"url":["a://b"]}',
        b'{"url":"a://b","alias":5}', b'{"url":"a://b"} trailing', b'{"url":"a://\xff"}',
    ]
    for body in bad:
        assert_error(post(started, raw=body), 400, "Invalid request body")
    # Nothing was created by any of them.
    status, _, lst = started.json("GET", "/instances")
    assert status == 200 and [i["id"] for i in lst] == ["********"], lst


def test_create_url_validation_messages(started):
    p = "Master.normalizeInstanceURL: "
    cases = {
        "edge-a": p + "missing URL scheme",
        "//host/x": p + "missing URL scheme",
        "MASTER://x": p + "master cannot manage master URL",
        "master://127.0.0.1:1": p + "master cannot manage master URL",
        "Master:opaque": p + "master cannot manage master URL",
        ":bad": p + 'invalid URL format: parse ":bad": missing protocol scheme',
        "a://h/%zz": p + 'invalid URL format: parse "a://h/%zz": invalid URL escape "%zz"',
        "a://h:x/": p + 'invalid URL format: parse "a://h:x/": invalid port ":x" after host',
        "a://h/\x01": p + 'invalid URL format: parse "a://h/\\x01": net/url: invalid control character in URL',
    }
    for url, message in cases.items():
        assert_error(post(started, {"url": url}), 400, message)
    status, _, lst = started.json("GET", "/instances")
    assert [i["id"] for i in lst] == ["********"], lst


def test_create_length_limits(started):
    ok = new(started, alias="é" * 128)  # 256 bytes
    assert ok["alias"] == "é" * 128
    assert_error(post(started, {"url": "a://b", "alias": "é" * 128 + "a"}), 400,
                 "instance alias exceeds maximum length 256")
    assert_error(post(started, {"url": "a://b", "alias": "x" * 257}), 400,
                 "instance alias exceeds maximum length 256")
    head = "fixture://h/"
    exact = head + "a" * (8192 - len(head))
    assert new(started, url=exact)["url"] == exact
    assert_error(post(started, {"url": exact + "a"}), 400, "instance URL exceeds maximum length 8192")
    status, _, lst = started.json("GET", "/instances")
    assert len(lst) == 3, [i["id"] for i in lst]


def test_list_is_sorted_with_the_key_record_first(started):
    ids = {new(started, alias=f"n{i}")["id"] for i in range(5)}
    r = started.api("GET", "/instances")
    assert_json(r, 200)
    lst = r.json()
    got = [i["id"] for i in lst]
    assert got[0] == "********"
    assert got == sorted(got), got
    assert set(got[1:]) == ids
    key = lst[0]
    assert key["url"] == started.key and key["status"] == "" and key["type"] == ""
    assert key["config"] == started.info()["mid"]
    for item in lst:
        assert list(item) == FIELDS


def test_get_one_and_unknown(started):
    snap = new(started, url="fixture://h/one", alias="one")
    r = started.api("GET", f"/instances/{snap['id']}")
    assert_json(r, 200)
    assert ordered(r.body) == FIELDS
    got = r.json()
    assert {k: v for k, v in got.items() if k != "status"} == \
        {k: v for k, v in snap.items() if k != "status"}
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        body = b"{}" if method in ("PATCH", "PUT") else None
        assert_error(started.api(method, "/instances/zzzzzzzz", body=body), 404, "instance not found")


def test_post_on_a_known_instance_is_405_and_on_an_unknown_one_404(started):
    snap = new(started)
    r = started.api("POST", f"/instances/{snap['id']}", body=b"{}")
    assert_error(r, 405, "Method not allowed")
    assert started.api("HEAD", f"/instances/{snap['id']}").status == 405
    assert_error(started.api("POST", "/instances/zzzzzzzz", body=b"{}"), 404, "instance not found")
    assert started.api("HEAD", "/instances/zzzzzzzz").status == 404


def test_patch_validation_messages(started):
    snap = new(started, alias="keep")
    iid = snap["id"]
    long = "x" * 257
    tags129 = {f"k{i:03d}": "v" for i in range(129)}
    big = {("k%03d" % i) + "k" * 246: "v" * 250 for i in range(128)}  # ~64 KiB encoded
    cases = [
        (b"", "Invalid request body"),
        (b"{", "Invalid request body"),
        (b'{"restart":"yes"}', "Invalid request body"),
        (b'{"alias":5}', "Invalid request body"),
        (b'{"meta":{"tags":{"a":1}}}', "Invalid request body"),
        (b'{"action":"stop"} x', "Invalid request body"),
        ({"alias": long}, "instance alias exceeds maximum length 256"),
        ({"alias": long, "action": "bogus"}, "instance alias exceeds maximum length 256"),
        ({"action": "bogus"}, "Invalid action: bogus"),
        ({"action": "Start"}, "Invalid action: Start"),
        ({"action": "bogus", "meta": {"peer": {"sid": long}}}, "Invalid action: bogus"),
        ({"meta": {"peer": {"sid": long}}}, "meta peer.sid exceeds maximum length 256"),
        ({"meta": {"peer": {"type": long}}}, "meta peer.type exceeds maximum length 256"),
        ({"meta": {"peer": {"alias": long}}}, "meta peer.alias exceeds maximum length 256"),
        ({"meta": {"peer": {"alias": long, "type": long, "sid": long}}},
         "meta peer.sid exceeds maximum length 256"),
        ({"meta": {"peer": {"alias": long, "type": long}}}, "meta peer.type exceeds maximum length 256"),
        ({"meta": {"peer": {"sid": long}, "tags": {long: "v"}}}, "meta peer.sid exceeds maximum length 256"),
        ({"meta": {"tags": {long: "v"}}}, "meta tag key exceeds maximum length 256"),
        ({"meta": {"tags": {"k": long}}}, "meta tag value exceeds maximum length 256"),
        # Sorted key order decides which violation is reported.
        ({"meta": {"tags": {"b": long, "a" + long: "v"}}}, "meta tag key exceeds maximum length 256"),
        ({"meta": {"tags": {"a": long, "b" + long: "v"}}}, "meta tag value exceeds maximum length 256"),
        ({"meta": {"tags": tags129}}, "meta tags exceed maximum count 128"),
        ({"meta": {"tags": big}}, "instance too large"),
    ]
    for body, message in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = started.api("PATCH", f"/instances/{iid}", body=raw)
        assert_error(r, 400, message)
    after = started.api("GET", f"/instances/{iid}").json()
    assert after["alias"] == "keep" and after["meta"] == EMPTY_META, after
    # The limits themselves are accepted.
    exact = {"meta": {"peer": {"sid": "s" * 256, "type": "t" * 256, "alias": "é" * 128},
                      "tags": {f"k{i:03d}": "v" for i in range(128)}}, "alias": "a" * 256,
             "action": ""}
    status, _, body = started.json("PATCH", f"/instances/{iid}", exact)
    assert status == 200, body
    assert len(body["meta"]["tags"]) == 128 and body["alias"] == "a" * 256
    assert body["meta"]["peer"]["alias"] == "é" * 128


def test_patch_changes(started):
    k = Kit(started, started.workdir)
    snap = new(started, alias="a1")
    iid = snap["id"]
    updated = r"Master\.handlePatchInstance: instance updated \[" + iid + r"\]$"

    def patch(obj):
        r = started.api("PATCH", f"/instances/{iid}", body=json.dumps(obj).encode())
        assert_json(r, 200)
        assert ordered(r.body) == FIELDS
        got = r.json()
        now = started.api("GET", f"/instances/{iid}").json()
        assert {**now, "status": ""} == {**got, "status": ""}
        return r, got

    _, got = patch({"alias": "a2"})
    assert got["alias"] == "a2"
    k.wait_count(updated, 1, 5)

    _, got = patch({"alias": ""})  # cannot clear
    assert got["alias"] == "a2"

    _, got = patch({"restart": False})
    assert got["restart"] is False
    k.wait_count(updated, 2, 5)

    _, got = patch({"restart": None})  # null = absent
    assert got["restart"] is False

    _, got = patch({"meta": {"peer": {"sid": "s1", "alias": "Site 1"}}})
    assert got["meta"] == {"peer": {"sid": "s1", "type": "", "alias": "Site 1"}, "tags": {}}
    k.wait_count(updated, 3, 5)

    # peer replaces all three fields.
    _, got = patch({"meta": {"peer": {"type": "edge"}}})
    assert got["meta"]["peer"] == {"sid": "", "type": "edge", "alias": ""}

    r, got = patch({"meta": {"tags": {"zone": "b", "region": "us", "A": "1"}}})
    assert got["meta"]["tags"] == {"A": "1", "region": "us", "zone": "b"}
    assert b'"tags":{"A":"1","region":"us","zone":"b"}' in r.body  # keys sorted by byte value
    assert got["meta"]["peer"] == {"sid": "", "type": "edge", "alias": ""}  # tags alone keep peer

    _, got = patch({"meta": {"tags": {"only": "x"}}})  # replace, not merge
    assert got["meta"]["tags"] == {"only": "x"}

    _, got = patch({"meta": {"peer": None, "tags": None}})
    assert got["meta"] == {"peer": {"sid": "", "type": "edge", "alias": ""}, "tags": {"only": "x"}}

    _, got = patch({"meta": {"tags": {}}})  # clears
    assert got["meta"]["tags"] == {}
    n = k.count(updated)
    assert n == 7, started.stderr_text()

    # No-change PATCHes log nothing: meta {}, same alias, same restart, same tags, null meta.
    for obj in ({"meta": {}}, {"alias": "a2"}, {"restart": False}, {"meta": {"tags": {}}},
                {"meta": None}, {}, {"action": ""}):
        _, got = patch(obj)
        assert got["alias"] == "a2" and got["restart"] is False
    # A final real change proves the log is caught up; exactly one more line.
    patch({"alias": "a3"})
    k.wait_count(updated, n + 1, 5)
    assert k.count(updated) == n + 1, "a PATCH without change was logged as an update:\n" + \
        started.stderr_text()
    final = started.api("GET", f"/instances/{iid}").json()
    assert final["alias"] == "a3" and final["restart"] is False
    assert final["meta"] == {"peer": {"sid": "", "type": "edge", "alias": ""}, "tags": {}}


def test_put_conflict_validation_and_update(started):
    k = Kit(started, started.workdir)
    snap = new(started, url="fixture://h/one")
    iid = snap["id"]
    assert_error(started.api("PUT", f"/instances/{iid}", body=b'{"url":"fixture://h/one"}'), 409,
                 "instance URL conflict")
    # Normalised comparison: the scheme case does not matter.
    assert_error(started.api("PUT", f"/instances/{iid}", body=b'{"url":"FIXTURE://h/one"}'), 409,
                 "instance URL conflict")
    for body in (b"", b"{", b"{}", b'{"url":""}', b'{"url":7}', b"null"):
        assert_error(started.api("PUT", f"/instances/{iid}", body=body), 400, "Invalid request body")
    assert_error(started.api("PUT", f"/instances/{iid}", body=b'{"url":"MASTER://x"}'), 400,
                 "Master.normalizeInstanceURL: master cannot manage master URL")
    assert_error(started.api("PUT", f"/instances/{iid}", body=b'{"url":"noscheme"}'), 400,
                 "Master.normalizeInstanceURL: missing URL scheme")
    r = started.api("PUT", f"/instances/{iid}", body=b'{"url":"Other://h/two"}')
    assert_json(r, 200)
    got = r.json()
    assert got["url"] == "other://h/two" and got["type"] == "other" and got["id"] == iid
    k.wait_count(r"Master\.handlePutInstance: instance URL updated: other://h/two \[" + iid + r"\]$",
                 1, 5)
    again = started.api("GET", f"/instances/{iid}").json()
    assert again["url"] == "other://h/two" and again["type"] == "other"


def test_key_record_is_protected_from_put_and_delete(started):
    for method, body in (("PUT", b'{"url":"a://b"}'), ("PUT", b""), ("DELETE", None)):
        r = started.api(method, "/instances/********", body=body)
        assert_error(r, 403, "Forbidden: API Key")
    status, _, lst = started.json("GET", "/instances")
    assert lst[0]["id"] == "********" and lst[0]["url"] == started.key
    assert started.info()  # the key still works


def test_delete_then_404(started):
    keep = new(started, alias="keep")
    gone = new(started, alias="gone")
    r = started.api("DELETE", f"/instances/{gone['id']}")
    assert r.status == 204, r
    assert r.body == b""
    assert r.header_values("Content-Type") == []
    assert_cors(r)
    assert_error(started.api("GET", f"/instances/{gone['id']}"), 404, "instance not found")
    assert_error(started.api("DELETE", f"/instances/{gone['id']}"), 404, "instance not found")
    assert_error(started.api("PATCH", f"/instances/{gone['id']}", body=b"{}"), 404,
                 "instance not found")
    ids = [i["id"] for i in started.api("GET", "/instances").json()]
    assert ids == ["********", keep["id"]]
    assert not re.search(r"instance starting.*\[" + gone["id"], started.stderr_text())
