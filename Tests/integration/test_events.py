"""The event stream's wire format and event types (CONTRACT §8.9, §13.1–13.4, §13.6, §20).

Every check reads the bytes the master wrote on a real socket (`sse.SSEClient`); children are
`Tests/fixtures/sse_runtime.py`, which prints when the test tells it to.
"""

from __future__ import annotations

import re
import signal

from events_helpers import (  # noqa: F401  (ev, kit: fixtures)
    KEY_ID, RETRY, assert_frame_grammar, ev, go_json, kit,
)
from harness import CORS_HEADERS, assert_error
from sse import is_log_of, kind, logs, seq

FRAME_LIMIT = 65000
FRACTION = re.compile(r"T[\d:]+\.(\d+)")


def of(iid: str):
    return lambda f: f["data"] and f["data"]["instance"] and f["data"]["instance"]["id"] == iid


def test_headers_and_first_bytes_are_exact(ev):
    m = ev.start()
    c = ev.watch()
    assert c.read_head() == 200
    assert c.version == "HTTP/1.1"
    h = c.headers
    assert h.get_all("Content-Type") == ["text/event-stream"]
    assert h.get_all("Cache-Control") == ["no-cache"]
    assert h.get_all("Connection") == ["keep-alive"]
    assert h.get_all("Transfer-Encoding") == ["chunked"]
    assert h.get_all("Content-Length") is None
    for name, value in CORS_HEADERS.items():
        assert h.get_all(name) == [value], name
    first = c.next_frame()
    assert first["raw"] == RETRY
    assert bytes(c.body).startswith(RETRY)
    initial = c.next_frame()
    assert initial["data"]["type"] == "initial" and initial["data"]["instance"]["url"] == m.key
    c.close()


def test_every_frame_follows_the_grammar(ev):
    """Initial, create, update and log frames: LF only, one data line, compact JSON with Go's
    escaping, payload fields in order, RFC 3339 times with nanosecond precision."""
    ev.start()
    c = ev.watch_ready()
    iid, ctl = ev.child(alias="a<b>&c")
    ctl.send("lines 2 hello<&>")
    frames = c.read_until(lambda f: logs(f) == "hello<&> 2")
    ev.patch_alias(iid, "renamed")
    frames += c.read_until(lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == "renamed")
    c2 = ev.watch()
    assert c2.read_head() == 200
    frames += c2.snapshot(2)[1]
    for f in frames:
        assert_frame_grammar(f)
    kinds = {kind(f) for f in frames}
    assert {"initial", "create", "update", "log"} <= kinds, kinds
    assert any(b"\\u003c" in f["raw"] and b"\\u0026" in f["raw"] for f in frames if kind(f) == "log")
    # Trailing zeros are removed, so a nanosecond clock gives more than 6 digits almost always.
    digits = [len(m.group(1)) for m in (FRACTION.search(f["data"]["time"]) for f in frames) if m]
    assert max(digits, default=0) > 6, [f["data"]["time"] for f in frames]
    c.close()
    c2.close()


def test_initial_snapshot_is_sorted_and_equals_the_list(ev):
    m = ev.start()
    ids = [ev.child(alias=f"i{n}")[0] for n in range(3)]
    records = ev.records()
    assert [r["id"] for r in records][0] == KEY_ID and len(records) == 4
    c = ev.watch()
    assert c.read_head() == 200
    retry, initial = c.snapshot(4)
    assert retry["raw"] == RETRY
    got = [f["data"]["instance"] for f in initial]
    assert [r["id"] for r in got] == sorted([KEY_ID, *ids], key=lambda s: s.encode())
    assert got[0]["id"] == KEY_ID and got[0]["url"] == m.key
    assert got == records
    for f in initial:
        assert f["id"] is None and f["data"]["type"] == "initial" and f["data"]["logs"] == ""
        assert_frame_grammar(f)
    # Nothing else is pending: the next frame is the live event this test causes next.
    ev.patch_alias(ids[0], "next")
    nxt = c.next_frame()
    assert kind(nxt) == "update" and nxt["data"]["instance"]["alias"] == "next"
    c.close()


def test_create_update_log_delete_over_a_socket(ev):
    ev.start()
    c = ev.watch_ready()
    iid, ctl = ev.child(alias="one")
    frames = c.read_until(lambda f: kind(f) == "update" and f["data"]["instance"]["status"] == "running")
    mine = [f for f in frames if of(iid)(f)]
    assert [kind(f) for f in mine][0] == "create", [kind(f) for f in mine]
    assert mine[0]["data"]["instance"]["status"] == "stopped"
    assert mine[0]["data"]["instance"]["alias"] == "one"
    ev.patch_alias(iid, "two")
    upd = c.read_until(lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == "two")[-1]
    assert upd["data"]["instance"]["status"] == "running"
    ctl.send("lines 3 out")
    lines = [f for f in c.read_until(lambda f: logs(f) == "out 3") if is_log_of(iid)(f)]
    assert [logs(f) for f in lines] == ["out 1", "out 2", "out 3"]
    assert all(f["data"]["instance"]["status"] == "running" for f in lines)
    r = ev.m.api("DELETE", f"/instances/{iid}")
    assert r.status == 204
    tail = [f for f in c.read_until(lambda f: kind(f) == "delete") if of(iid)(f)]
    assert [kind(f) for f in tail][-2:] == ["update", "delete"], [kind(f) for f in tail]
    assert tail[-2]["data"]["instance"]["status"] == "stopped"
    assert tail[-1]["data"]["instance"]["status"] == "stopped"
    assert tail[-1]["data"]["instance"]["alias"] == "two"
    c.close()


def test_shutdown_follows_the_final_updates_then_the_stream_ends(ev):
    """§13.6, §18 (our rule): children are stopped and their `stopped` updates delivered before
    `shutdown`, which carries an id, a null instance and empty logs; then the stream ends."""
    ev.start()
    a, _ = ev.child(alias="a")
    b, _ = ev.child(alias="b")
    c = ev.watch_ready()
    ev.m.send_signal(signal.SIGTERM)
    frames = c.drain(timeout=12)
    assert frames, "no frame before the stream ended"
    shutdown = frames[-1]
    assert kind(shutdown) == "shutdown", [kind(f) for f in frames]
    assert shutdown["id"] is not None and shutdown["data"]["instance"] is None
    assert shutdown["data"]["logs"] == ""
    assert_frame_grammar(shutdown)
    stopped = {f["data"]["instance"]["id"] for f in frames
               if kind(f) == "update" and f["data"]["instance"]["status"] == "stopped"}
    assert {a, b} <= stopped, [(kind(f), f["data"]["instance"]) for f in frames]
    assert [kind(f) for f in frames].count("shutdown") == 1
    assert ev.m.wait_exit() == 0


def test_long_log_line_is_truncated_to_the_frame_limit(ev):
    """A 60,000-byte line of `<` escapes to 360,000 bytes; 65,400 bytes of `€` (sent raw)
    barely overflow; `€<` mixes both; and a record near its 32 KiB limit leaves less room for
    the line. Each frame is cut to at most 65,000 bytes, at a character boundary, keeping as
    much as fits, with the exact count of bytes cut."""
    ev.start()
    c = ev.watch_ready()
    iid, ctl = ev.child()
    big_tags = {f"k{i:03d}" + "a" * 196: "v" * 200 for i in range(70)}
    cases = [("<", 60000, None), ("€", 21800, None), ("€<", 15000, None), ("<", 60000, big_tags)]
    for unit, count, tags in cases:
        if tags:
            ev.kit.patch(iid, {"meta": {"tags": tags}})
        ctl.send(f"long {count} {unit}")
        frame = c.read_until(lambda f: is_log_of(iid)(f) and logs(f).startswith(unit))[-1]
        assert_frame_grammar(frame)
        assert frame["data"]["instance"]["meta"]["tags"] == (tags or {})
        size = len(frame["raw"])
        assert size <= FRAME_LIMIT, (unit, size)
        assert size > FRAME_LIMIT - 16, f"{unit}: cut more than needed: {size}"
        line = unit * count
        kept, sep, marker = logs(frame).rpartition(" [truncated ")
        assert sep and marker.endswith(" bytes]"), logs(frame)[-60:]
        cut = int(marker[: -len(" bytes]")])
        assert kept == line[: len(kept)], "the kept text must be whole characters of the line"
        assert len(kept.encode()) + cut == len(line.encode()), (unit, len(kept), cut)
    c.close()


def test_heartbeat_after_idle(ev):
    """With the heartbeat shortened to 1 s: an idle stream carries a `retry` frame about every
    second, never before a second of silence."""
    ev.start(sse_timing="1,5")
    c = ev.watch_ready()
    t0 = c.initial[-1]["t"]
    beats = [c.next_frame(timeout=4) for _ in range(2)]
    for b in beats:
        assert b["raw"] == RETRY, b["raw"]
    assert beats[0]["t"] - t0 >= 0.9, f"heartbeat after {beats[0]['t'] - t0:.2f}s of idleness"
    assert beats[1]["t"] - beats[0]["t"] >= 0.9
    assert beats[1]["t"] - t0 <= 4.0
    c.close()


def test_stream_outlives_the_idle_read_deadline(ev):
    """The HTTP layer's 2 s idle deadline (shortened) is for connections waiting for a request,
    not for a stream the master is writing to."""
    ev.start(http_timeouts="2,2,2")
    c = ev.watch_ready()
    assert c.quiet_for(4.0) == []
    iid, _ = ev.child(wait_running=False)
    f = c.read_until(lambda f: kind(f) == "create")[-1]
    assert f["data"]["instance"]["id"] == iid
    c.close()


def test_http10_watcher_gets_raw_frames(ev):
    """HTTP/1.0 has no chunked encoding: the frames follow the head as they are."""
    ev.start()
    c = ev.watch(http10=True)
    assert c.read_head() == 200
    assert c.headers.get_all("Transfer-Encoding") is None
    assert c.headers.get_all("Content-Type") == ["text/event-stream"]
    first = c.next_frame()
    assert first["raw"] == RETRY
    c.next_frame()
    iid, _ = ev.child(wait_running=False)
    frames = c.read_until(lambda f: kind(f) == "create")
    for f in frames:
        assert_frame_grammar(f)
    assert frames[-1]["data"]["instance"]["id"] == iid
    assert bytes(c.body[: len(RETRY)]) == RETRY
    c.close()


def test_methods_and_authentication(ev):
    m = ev.start()
    r = m.api("POST", "/events", body=b"{}")
    assert_error(r, 405, "Method not allowed")
    assert r.header_values("Allow") == ["GET, OPTIONS"]
    assert_error(m.api("GET", "/events", key=False), 401, "Unauthorized: API key required")
    assert_error(m.api("GET", "/events", key="0" * 32), 401, "Unauthorized: Invalid API key")
    for method in ("PUT", "PATCH", "DELETE", "HEAD"):
        r = m.api(method, "/events")
        assert r.status == 405, (method, r.status)
        assert r.header_values("Allow") == ["GET, OPTIONS"], method
    r = m.api("OPTIONS", "/events", key=False)
    assert r.status == 200 and r.body == b""
    for name, value in CORS_HEADERS.items():
        assert r.header_values(name) == [value]


def test_rotation_ends_old_streams_without_leaking_the_new_key(ev):
    m = ev.start()
    old = m.key
    watchers = [ev.watch_ready(), ev.watch_ready(http10=True)]
    status, _, body = m.json("PATCH", f"/instances/{KEY_ID}", {"action": "restart"})
    assert status == 200 and body["id"] == KEY_ID
    new = body["url"]
    assert new != old and len(new) == 32
    for w in watchers:
        frames = w.drain(timeout=5)
        assert [kind(f) for f in frames] == ["shutdown"], [f["raw"][:200] for f in frames]
        assert frames[0]["id"] is not None and frames[0]["data"]["instance"] is None
        assert new.encode() not in bytes(w.body)
        assert w.closed_by_peer(5), "the old key's stream ended but its connection stayed open"
        w.close()
    shutdown_seq = seq(frames[0])
    assert_error(m.api("GET", "/info", key=old), 401, "Unauthorized: Invalid API key")
    assert_error(m.api("GET", "/events", key=old), 401, "Unauthorized: Invalid API key")
    m.key = new
    assert m.api("GET", "/info").status == 200
    c = ev.watch()
    assert c.read_head() == 200
    _, initial = c.snapshot(1)
    assert initial[0]["data"]["instance"]["url"] == new
    # The key's `update` was published after the shutdown, to nobody: it consumed the next id.
    iid, _ = ev.child(wait_running=False)
    create = c.read_until(lambda f: kind(f) == "create")[-1]
    assert seq(create) == shutdown_seq + 2
    assert go_json(create["data"]) in create["raw"]
    c.close()

