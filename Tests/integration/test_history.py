"""Per-instance history, `GET <P>/instances/{id}/logs` (CONTRACT §22.1, §22.2).

Children are `Tests/fixtures/sse_runtime.py` (output when the test asks, through a FIFO) or
`Tests/fixtures/runtime.py` (output chosen by the URL); every read is a real HTTP request to a
private master, and every wait polls with a deadline.
"""

from __future__ import annotations

import re
import time

from events_helpers import RFC3339, ev, go_json  # noqa: F401  (ev: fixture)
from harness import LOG_PREFIX, assert_cors, assert_error, assert_json
from instances_helpers import kit  # noqa: F401  (kit: fixture)

ENTRY_KEYS = ["seq", "time", "source", "text"]
TEXT_TYPE = "text/plain; charset=utf-8"


def logs(m, iid: str, query: str = "", **kw):
    return m.api("GET", f"/instances/{iid}/logs" + (f"?{query}" if query else ""), **kw)


def history(m, iid: str, query: str = "") -> dict:
    r = logs(m, iid, query)
    assert_json(r, 200)
    body = r.json()
    # Invalid bytes are escaped as `\ufffd`, as in events; no test prints a literal U+FFFD.
    assert r.body[:-1] == go_json(body).replace("\ufffd".encode(), b"\\ufffd"), r.body[:300]
    assert list(body) == ["id", "first", "next", "lines"], list(body)
    for entry in body["lines"]:
        assert list(entry) == ENTRY_KEYS, entry
        assert entry["source"] in ("output", "master"), entry
        assert RFC3339.match(entry["time"]), entry["time"]
    return body


def wait_history(m, iid: str, pred, query: str = "", timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = history(m, iid, query)
        if pred(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"history condition not reached within {timeout}s; last: {str(body)[:2000]}")
        time.sleep(0.05)


def texts(body: dict, source: str | None = None) -> list[str]:
    return [e["text"] for e in body["lines"] if source is None or e["source"] == source]


def has_output(n: int):
    return lambda body: len(texts(body, "output")) >= n


def test_output_and_master_lines(ev):
    m = ev.start()
    iid, ctl = ev.child()
    ctl.send("lines 3 hello<&>")
    body = wait_history(m, iid, has_output(3))
    assert body["id"] == iid
    assert body["first"] == 1 and body["next"] == len(body["lines"]) + 1
    assert [e["seq"] for e in body["lines"]] == list(range(1, body["next"]))
    assert texts(body, "output") == ["hello<&> 1", "hello<&> 2", "hello<&> 3"]
    first = body["lines"][0]
    assert first["source"] == "master"
    assert first["text"].startswith("Master.startInstanceLocked: instance starting: fixture://x?"), first
    assert "ctl=***" in first["text"] and f"[{iid}]" not in first["text"]
    ev.kit.patch(iid, {"action": "stop"})
    ev.kit.wait_status(iid, "stopped")
    body = wait_history(m, iid, lambda b: b["lines"][-1]["source"] == "master")
    assert body["lines"][-1]["text"] == "Master.stopInstanceLocked: instance stopped"
    # The master lines are the stderr lines about this instance, prefix and suffix removed.
    suffix = f" [{iid}]"
    stderr = [re.sub("^" + LOG_PREFIX, "", line)[: -len(suffix)] for line in m.stderr_lines() if line.endswith(suffix)]
    assert texts(body, "master") == stderr
    times = [e["time"] for e in body["lines"]]
    assert times == sorted(times)


def test_output_entries_carry_their_log_event_time(ev):
    m = ev.start()
    c = ev.watch_ready()
    iid, ctl = ev.child()
    ctl.send("lines 3 same")
    frames = c.read_until(lambda f: f["data"] and f["data"]["logs"] == "same 3")
    c.close()
    events = {f["data"]["logs"]: f["data"]["time"] for f in frames if f["data"] and f["data"]["type"] == "log"}
    body = wait_history(m, iid, has_output(3))
    assert {e["text"]: e["time"] for e in body["lines"] if e["source"] == "output"} == events


def test_checkpoints_and_empty_lines_are_not_kept(kit):
    m = kit.start()
    iid = kit.create(kit.url(lines=2, checkpoints=3, error=1, exit=0))["id"]
    wait_history(m, iid, has_output(3))
    kit.wait(iid, lambda s: s["status"] in ("stopped", "error"), what="exit")
    body = history(m, iid, "tail=500")
    assert texts(body, "output") == ["line 1", "line 2", "something failed: ERROR here"]


def test_paging_without_gaps_and_first_shows_drops(ev):
    m = ev.start()
    iid, ctl = ev.child()
    ctl.send("flood 1200 20 p")
    body = wait_history(m, iid, lambda b: b["lines"] and b["lines"][-1]["text"].startswith("p 1200 "))
    assert len(body["lines"]) == 100
    next_seq = body["next"]
    assert body["first"] == next_seq - 500 > 1
    assert [e["seq"] for e in body["lines"]] == list(range(next_seq - 100, next_seq))
    assert history(m, iid, "tail=1")["lines"][0]["text"] == "p 1200 " + "x" * 13
    # A poller starting from 0 sees that entries were dropped, then pages forward without a gap.
    seen, after = [], 0
    while True:
        page = history(m, iid, f"after={after}&tail=7")
        if not page["lines"]:
            break
        assert page["first"] == next_seq - 500
        seen += page["lines"]
        after = page["lines"][-1]["seq"]
    assert page["first"] > 1
    assert [e["seq"] for e in seen] == list(range(next_seq - 500, next_seq))
    assert [e["text"].split()[1] for e in seen] == [str(n) for n in range(701, 1201)]
    assert history(m, iid, f"after={next_seq - 1}")["lines"] == []
    assert history(m, iid, "after=9223372036854775807")["lines"] == []
    assert len(history(m, iid, "tail=500")["lines"]) == 500


def test_at_most_64_kib_of_text(ev):
    m = ev.start()
    iid, ctl = ev.child()
    ctl.send("flood 300 1000 big")
    body = wait_history(m, iid, lambda b: b["lines"] and b["lines"][-1]["text"].startswith("big 300 "),
                        query="tail=500")
    assert sum(len(t.encode()) for t in texts(body)) <= 65536
    assert len(body["lines"]) == 65
    assert [t.split()[1] for t in texts(body)] == [str(n) for n in range(236, 301)]
    assert body["first"] == body["next"] - 65


def test_long_lines_are_cut_at_a_character_boundary(ev):
    m = ev.start()
    iid, ctl = ev.child()
    ctl.send("long 4096 a")
    ctl.send("long 5000 b")
    ctl.send("long 2000 \u20ac")
    body = wait_history(m, iid, has_output(3))
    assert texts(body, "output") == [
        "a" * 4096,
        "b" * 4096 + " [truncated 904 bytes]",
        "\u20ac" * 1365 + " [truncated 1905 bytes]",
    ]


def test_invalid_utf8_as_in_log_events(kit):
    m = kit.start()
    iid = kit.create(kit.url(binary=1))["id"]
    body = wait_history(m, iid, has_output(1))
    assert texts(body, "output") == ["bin \ufffd\ufffd \x00 end"]
    r = logs(m, iid, "format=text&tail=1")
    assert r.status == 200
    assert r.body.endswith(b" output bin \xef\xbf\xbd\xef\xbf\xbd \x00 end\n"), r.body


def test_text_format_is_exact(ev):
    m = ev.start()
    iid, ctl = ev.child()
    ctl.send("lines 4 t\u00e9xt<\t>")
    wait_history(m, iid, has_output(4))
    for query in ("", "tail=2", "after=2&tail=3"):
        body = history(m, iid, query)
        r = logs(m, iid, "format=text" + (f"&{query}" if query else ""))
        assert r.status == 200
        assert r.header_values("Content-Type") == [TEXT_TYPE]
        assert_cors(r)
        expected = "".join(f"{e['time']} {e['source']} {e['text']}\n" for e in body["lines"]).encode()
        assert r.body == expected, (r.body, expected)
    r = logs(m, iid, "format=text&after=99")
    assert r.status == 200 and r.body == b""


def test_bad_queries_are_400(kit):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    for query, message in (
        ("tail=0", "invalid tail"), ("tail=501", "invalid tail"), ("tail=abc", "invalid tail"),
        ("tail=", "invalid tail"), ("tail=-1", "invalid tail"),
        ("after=-1", "invalid after"), ("after=9223372036854775808", "invalid after"), ("after=x", "invalid after"),
        ("format=json", "invalid format"), ("format=", "invalid format"),
        ("tail=0&after=x&format=json", "invalid tail"),
    ):
        assert_error(logs(m, iid, query), 400, message)
    for query in ("tail=1", "tail=500", "after=0", "after=9223372036854775807", "foo=bar&Tail=0", "tail=5&tail=x"):
        assert logs(m, iid, query).status == 200, query


def test_unknown_instance_and_key_record_are_404(kit):
    m = kit.start()
    for target in ("zzzzzzzz", "********", "%2A%2A%2A%2A%2A%2A%2A%2A"):
        assert_error(logs(m, target), 404, "instance not found")
        assert_error(logs(m, target, "tail=0"), 404, "instance not found")
        assert_error(m.api("POST", f"/instances/{target}/logs"), 404, "instance not found")


def test_other_methods_are_405_with_allow(kit):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        r = m.api(method, f"/instances/{iid}/logs", body=b"{}")
        assert_error(r, 405, "Method not allowed")
        assert r.header_values("Allow") == ["GET"]
    r = m.api("HEAD", f"/instances/{iid}/logs")
    assert r.status == 405 and r.header_values("Allow") == ["GET"]


def test_cors_options_and_auth(kit):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    r = m.api("OPTIONS", f"/instances/{iid}/logs", key=False)
    assert r.status == 200 and r.body == b""
    assert_cors(r)
    assert_cors(logs(m, iid))
    assert_error(logs(m, iid, key=False), 401, "Unauthorized: API key required")
    assert_error(logs(m, iid, key="0" * 32), 401, "Unauthorized: Invalid API key")
    assert_error(logs(m, iid, headers={"Authorization": f"Bearer {m.key}"}, key=False), 401,
                 "Unauthorized: API key required")


def test_history_survives_a_child_restart(ev):
    m = ev.start()
    iid, ctl = ev.child()
    ctl.send("lines 2 before")
    wait_history(m, iid, has_output(2))
    ctl.close()
    ev.kit.patch(iid, {"action": "restart"})
    body = wait_history(m, iid, lambda b: len(texts(b, "master")) >= 3)
    ev.kit.wait_status(iid, "running")
    ctl.send("lines 1 after")
    body = wait_history(m, iid, has_output(3))
    assert texts(body, "output") == ["before 1", "before 2", "after 1"]
    starting = [t for t in texts(body, "master") if t.startswith("Master.startInstanceLocked: instance starting: ")]
    assert len(starting) == 2
    assert "Master.stopInstanceLocked: instance stopped" in texts(body, "master")
    assert [e["seq"] for e in body["lines"]] == list(range(1, body["next"]))


def test_patch_and_put_lines_are_kept(kit):
    m = kit.start()
    iid = kit.create(kit.url())["id"]
    kit.wait_status(iid, "running")
    kit.patch(iid, {"alias": "renamed"})
    status, _, _ = m.json("PUT", f"/instances/{iid}", {"url": kit.url(lines=1)})
    assert status == 200
    body = wait_history(m, iid, has_output(1))
    master = texts(body, "master")
    assert "Master.handlePatchInstance: instance updated" in master
    assert any(t.startswith("Master.handlePutInstance: instance URL updated: fixture://x?") for t in master), master


def test_history_is_gone_after_delete(kit):
    m = kit.start()
    iid = kit.create(kit.url(lines=2))["id"]
    wait_history(m, iid, has_output(2))
    assert m.api("DELETE", f"/instances/{iid}").status == 204
    assert_error(logs(m, iid), 404, "instance not found")
