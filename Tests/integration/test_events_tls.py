"""The event stream over TLS (issue 5): the same framing, snapshot, live events and rotation as
over plain HTTP, through `bufferevent_openssl` instead of direct socket writes."""

from __future__ import annotations

import signal

from events_helpers import (  # noqa: F401  (ev, kit: fixtures)
    KEY_ID,
    assert_frame_grammar,
    ev,
    kit,
)
from harness import assert_error
from sse import Collector, kind, logs, seq


def test_stream_over_tls_carries_snapshot_and_every_live_event(ev):
    m = ev.start(tls=True)
    assert m.scheme == "https"
    c = ev.watch_ready()
    iid, ctl = ev.child(alias="tls")
    ctl.send("lines 3 over-tls")
    frames = c.read_until(lambda f: logs(f) == "over-tls 3")
    kinds = [kind(f) for f in frames if f["data"]["instance"] and f["data"]["instance"]["id"] == iid]
    assert kinds[0] == "create" and "update" in kinds and kinds.count("log") == 3, kinds
    ids = [seq(f) for f in frames if f["id"]]
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids
    for f in frames:
        assert_frame_grammar(f)
    c.close()


def test_flood_over_tls_keeps_order_and_accounts_for_every_skipped_line(ev):
    """Over TLS, libevent encrypts and writes a stream's output only between turns of the loop,
    so a burst bigger than the 256 KiB skip mark within one turn is skipped even for a reader
    that keeps up; whatever is skipped is counted in a gap notice, and the rest is in order."""
    m = ev.start(tls=True)
    reader = Collector(ev.watch_ready(rcvbuf=4 << 20))
    _, ctl = ev.child()
    ctl.send("flood 5000 120 t")
    ctl.send("lines 1 after")
    reader.wait_for(lambda f: logs(f) == "after 1", 30, "the line after the flood")
    frames = reader.stop()
    numbers = [int(logs(f).split()[1]) for f in frames if kind(f) == "log" and logs(f).startswith("t ")]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers[:20]
    notices = [logs(f) for f in frames if kind(f) == "log" and f["data"]["instance"] is None]
    skipped = sum(int(text.split()[2]) for text in notices)
    assert len(numbers) + skipped == 5000, (len(numbers), notices, m.stderr_text()[-500:])
    assert len(numbers) >= 2500, f"only {len(numbers)} of 5000 lines reached a reader that keeps up"


def test_rotation_over_tls_closes_old_streams_and_the_new_key_works(ev):
    m = ev.start(tls=True)
    old = m.key
    w = ev.watch_ready()
    status, _, body = m.json("PATCH", f"/instances/{KEY_ID}", {"action": "restart"})
    assert status == 200
    new = body["url"]
    frames = w.drain(timeout=5)
    assert [kind(f) for f in frames] == ["shutdown"], [f["raw"][:200] for f in frames]
    assert new.encode() not in bytes(w.body)
    assert w.closed_by_peer(5)
    w.close()
    assert_error(m.api("GET", "/info", key=old), 401, "Unauthorized: Invalid API key")
    m.key = new
    c = ev.watch()
    assert c.read_head() == 200
    _, initial = c.snapshot(1)
    assert initial[0]["data"]["instance"]["url"] == new
    c.close()


def test_shutdown_over_tls_sends_final_updates_then_shutdown(ev):
    m = ev.start(tls=True)
    iid, _ = ev.child()
    w = ev.watch_ready()
    m.send_signal(signal.SIGTERM)
    frames = w.drain(timeout=12)
    kinds = [kind(f) for f in frames]
    assert kinds[-1] == "shutdown", kinds
    stopped = [i for i, f in enumerate(frames)
               if kind(f) == "update" and f["data"]["instance"]["id"] == iid
               and f["data"]["instance"]["status"] == "stopped"]
    assert stopped and stopped[-1] < len(frames) - 1, kinds
    assert m.wait_exit() == 0
