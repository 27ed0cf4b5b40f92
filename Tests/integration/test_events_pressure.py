"""Back-pressure (CONTRACT §13.5): a watcher that falls behind skips log events, is told how
many, and is disconnected only when it stops taking bytes; a fast watcher on the same master
loses nothing; a lagging watcher still gets its backlog and `shutdown` when its stream ends.

The floods are 20,000 lines of 200 bytes (about 12 MB of frames): more than the kernel's socket
buffers can hide, so the master's own per-watcher buffer is what fills up.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from events_helpers import (  # noqa: F401  (ev, kit: fixtures)
    DISCONNECT_RE, GAP_RE, KEY_ID, assert_frame_grammar, ev, kit,
)
from sse import Collector, is_log_of, kind, live, logs, seq

FLOOD = 20000
FLOOD_SIZE = 200
# 200 lines (about 130 KB of frames) every 5 ms: fast enough to overrun a reader that is not
# reading, slow enough for the reference reader (a Python thread parsing every frame) to keep up.
PACE_MS = 5


def test_slow_watcher_is_disconnected_while_a_fast_one_gets_everything(ev):
    """A watcher that takes nothing is dropped (by the 2 s no-progress rule, or the 1 MiB cap
    if state events pile up); a fast one on the same master gets every line, in order."""
    m = ev.start(sse_timing="15,2")
    iid, ctl = ev.child()
    fast = Collector(ev.watch_ready(rcvbuf=4 << 20))
    slow = ev.watch_ready(rcvbuf=4096)
    ctl.send(f"flood {FLOOD} {FLOOD_SIZE} f {PACE_MS}")
    last = f"f {FLOOD} "
    fast.wait_for(lambda f: logs(f).startswith(last), 20, "last flood line")
    m.wait_for_log(DISCONNECT_RE + r"(pending output over 1 MiB|no progress for 2 s)$", timeout=10)
    assert slow.closed_by_peer(5), "the slow watcher's connection was not closed"
    frames = fast.stop()
    lines = [logs(f) for f in frames if is_log_of(iid)(f)]
    assert len(lines) == FLOOD, f"{len(lines)} of {FLOOD} lines"
    assert all(line.startswith(f"f {i} ") and len(line) == FLOOD_SIZE
               for i, line in enumerate(lines, start=1))
    ids = [seq(f) for f in live(frames)]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert not any(f["data"]["instance"] is None for f in frames), "the fast watcher got a gap notice"
    assert m.info()


@pytest.mark.parametrize("http10", [False, True], ids=["chunked", "http10"])
def test_paused_watcher_gets_a_gap_notice_with_the_exact_count(ev, http10):
    """A watcher that stops reading during a flood skips log events (never state events) and,
    once it catches up, gets notices counting exactly the log events it missed."""
    ev.start(sse_timing="15,30")
    iid, ctl = ev.child(alias="p0")
    ref = Collector(ev.watch_ready(rcvbuf=4 << 20))
    paused = ev.watch_ready(rcvbuf=4096, http10=http10)
    ctl.send(f"flood {FLOOD} {FLOOD_SIZE} g {PACE_MS}")
    for n in range(1, 4):
        ev.patch_alias(iid, f"p{n}")
    ref.wait_for(lambda f: logs(f).startswith(f"g {FLOOD} "), 20, "last flood line")
    ref.wait_for(lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == "p3", 5)
    # Back to reading: everything held for it, then the notice, then live logs again.
    got = catch_up(ev, iid, paused)
    ctl.send("lines 2 tail")
    got += paused.read_until(lambda f: logs(f) == "tail 2", timeout=10)
    reference = ref.stop()
    paused.close()
    assert_gaps_account_for_skipped_logs(got, reference)


def catch_up(ev, iid: str, watcher) -> list[dict]:
    """Reads a lagging watcher up to a barrier: a state event is never skipped, so once it
    arrives the master holds nothing more for this watcher, and its next log event comes
    after any pending gap notice."""
    ev.patch_alias(iid, "barrier")
    return watcher.read_until(
        lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == "barrier", timeout=15)


def assert_gaps_account_for_skipped_logs(got: list[dict], reference: list[dict]) -> None:
    """Each gap notice counts exactly the log ids missing between the last log event received
    before it and the first one after it; no state event is ever missing; order is kept.
    (The kernel's send buffer can grow while a watcher is paused, letting the master's own
    backlog fall under 64 KiB more than once, so there may be several notices.)"""
    types = {seq(f): kind(f) for f in live(reference)}
    received = [seq(f) for f in live(got)]
    assert received == sorted(set(received)), "frames out of order or repeated"
    have = set(received)
    notices = [i for i, f in enumerate(got) if kind(f) == "log" and f["id"] is None]
    assert notices, "the watcher skipped nothing: the test did not create pressure"
    accounted = 0
    for index in notices:
        notice = got[index]
        assert_frame_grammar(notice)
        assert notice["data"]["instance"] is None
        match = GAP_RE.match(logs(notice))
        assert match, logs(notice)
        before = max(seq(f) for f in got[:index] if f["id"] and kind(f) == "log")
        after = min(seq(f) for f in got[index + 1:] if f["id"] and kind(f) == "log")
        missing = [s for s in range(before + 1, after) if s not in have]
        assert all(types[s] == "log" for s in missing), "a state event was skipped"
        assert int(match.group(1)) == len(missing), (logs(notice), len(missing), before, after)
        accounted += len(missing)
    skipped = [s for s in range(received[0], received[-1]) if s not in have]
    assert accounted == len(skipped), "log events went missing without a notice"


def test_trickling_watcher_is_slowed_down_not_disconnected(ev):
    """Reading slowly is progress: with a 3 s no-progress rule, a watcher with a 4 KiB receive
    buffer taking at most 4 KiB every 20 ms throughout a flood (megabytes wait in the kernel in
    front of it, so the master's own buffer does not move for seconds) falls behind and skips
    log events, but stays connected."""
    m = ev.start(sse_timing="15,3")
    iid, ctl = ev.child()
    ref = Collector(ev.watch_ready(rcvbuf=4 << 20))
    slow = ev.watch_ready(rcvbuf=4 * 1024)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set() and not slow.eof:
            slow.read_some(4 * 1024, timeout=0.02)
            time.sleep(0.02)  # the deliberately slow client

    reader = threading.Thread(target=trickle, daemon=True)
    reader.start()
    ctl.send(f"flood {FLOOD} {FLOOD_SIZE} t {PACE_MS}")
    ref.wait_for(lambda f: logs(f).startswith(f"t {FLOOD} "), 20, "last flood line")
    # Keep trickling a little longer than the no-progress window after the flood.
    end = time.monotonic() + 4
    while time.monotonic() < end and not slow.eof:
        time.sleep(0.1)
    stop.set()
    reader.join(5)
    assert not slow.eof, "the trickling watcher was disconnected:\n" + m.stderr_text()[-1000:]
    got = catch_up(ev, iid, slow)
    ctl.send("lines 1 after")
    got += slow.read_until(lambda f: logs(f) == "after 1", timeout=5)
    assert not [line for line in m.stderr_lines() if "watcher disconnected" in line]
    assert_gaps_account_for_skipped_logs(got, ref.stop())
    slow.close()


@pytest.mark.parametrize("end", ["rotation", "sigterm"])
def test_lagging_watcher_gets_its_backlog_and_shutdown(ev, end):
    """A watcher still holding a backlog when its stream ends receives every byte held for it,
    then `shutdown`, then the connection closes: ending a stream must not discard output."""
    m = ev.start(sse_timing="15,30")
    iid, ctl = ev.child()
    ref = Collector(ev.watch_ready(rcvbuf=4 << 20))
    lagging = ev.watch_ready(rcvbuf=4096)
    ctl.send(f"flood {FLOOD} {FLOOD_SIZE} s {PACE_MS}")
    ref.wait_for(lambda f: logs(f).startswith(f"s {FLOOD} "), 20, "last flood line")
    if end == "rotation":
        status, _, body = m.json("PATCH", f"/instances/{KEY_ID}", {"action": "restart"})
        assert status == 200
    else:
        m.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # a client that is slow to come back: the master must wait for it
    frames = lagging.drain(timeout=15)
    assert lagging.closed_by_peer(5)
    assert frames and kind(frames[-1]) == "shutdown", (
        "the stream ended without `shutdown`: the output held for this watcher was discarded; "
        f"last frames: {[f['raw'][:100] for f in frames[-2:]]}")
    for f in frames[-3:]:
        assert_frame_grammar(f)
    ids = [seq(f) for f in live(frames)]
    assert ids == sorted(set(ids)), "frames out of order or repeated"
    if end == "rotation":
        assert body["url"].encode() not in bytes(lagging.body)
    else:
        stopped = [f for f in frames if kind(f) == "update" and f["data"]["instance"]["status"] == "stopped"]
        assert [f["data"]["instance"]["id"] for f in stopped] == [iid]
        assert m.wait_exit() == 0
    ref.stop()
    lagging.close()
