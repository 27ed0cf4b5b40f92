"""Resuming with `Last-Event-ID` (CONTRACT §13.5): missed `log` events are replayed with their
original bytes; anything the ring cannot vouch for gets exactly one resume gap notice.

Each check ends with a marker `update` caused by the test: the frames between the snapshot and
the marker are exactly what the resume added, with no waiting on silence.
"""

from __future__ import annotations

from events_helpers import (  # noqa: F401  (ev, kit: fixtures)
    RESUME_GAP, assert_frame_grammar, ev, kit,
)
from sse import Collector, boot, kind, live, logs, seq

RING = 1024


class Resumer:
    """One instance with a FIFO child, and a reference watcher that sees every event."""

    def __init__(self, ev):
        self.ev = ev
        ev.start()
        self.iid, self.ctl = ev.child()
        self.ref = Collector(ev.watch_ready(rcvbuf=4 << 20))
        self.markers = 0

    def print_lines(self, count: int, prefix: str) -> None:
        self.ctl.send(f"lines {count} {prefix}")
        self.ref.wait_for(lambda f: logs(f) == f"{prefix} {count}", 10, f"{prefix} {count}")

    def last(self) -> dict:
        return live(self.ref.snapshot())[-1]

    def resume(self, header: str | None) -> list[dict]:
        """Connect with `header`, read the snapshot, cause a marker update; returns the frames
        that came between the snapshot and the marker."""
        c = self.ev.watch(last_event_id=header)
        assert c.read_head() == 200
        _, initial = c.snapshot(2)
        assert [kind(f) for f in initial] == ["initial", "initial"]
        self.markers += 1
        alias = f"marker{self.markers}"
        self.ev.patch_alias(self.iid, alias)
        frames = c.read_until(lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == alias)
        c.close()
        self.ref.wait_for(lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == alias, 5)
        return frames[:-1]

    def log_frames_after(self, sequence: int) -> list[dict]:
        return [f for f in live(self.ref.snapshot()) if seq(f) > sequence and kind(f) == "log"]


def assert_resume_gap(frames: list[dict], header) -> None:
    assert len(frames) == 1, (header, [f["raw"][:120] for f in frames])
    (notice,) = frames
    assert_frame_grammar(notice)
    assert notice["id"] is None
    assert notice["data"]["type"] == "log" and notice["data"]["instance"] is None
    assert notice["data"]["logs"] == RESUME_GAP


def test_missed_log_events_are_replayed_with_their_original_bytes(ev):
    r = Resumer(ev)
    w = ev.watch_ready()
    r.ctl.send("lines 5 a")
    seen = w.read_until(lambda f: logs(f) == "a 5")
    w.close()
    r.print_lines(4, "b")
    ev.patch_alias(r.iid, "moved")
    r.print_lines(2, "c")
    missed = r.log_frames_after(seq(seen[-1]))
    assert [logs(f) for f in missed] == ["b 1", "b 2", "b 3", "b 4", "c 1", "c 2"]
    replayed = r.resume(seen[-1]["id"])
    # Same ids, same times, same snapshots: the very frames the reference watcher got.
    assert [f["raw"] for f in replayed] == [f["raw"] for f in missed]


def test_without_a_usable_id_nothing_or_one_gap_notice(ev):
    r = Resumer(ev)
    r.print_lines(3, "a")
    current = boot(r.last())
    other = "0" * 8 if current != "0" * 8 else "1" * 8
    cases = [
        # (Last-Event-ID value or None for no header, gap notice expected)
        (None, False),
        ("", False),
        (lambda: r.last()["id"], False),
        (lambda: f"{other}.1", True),
        (lambda: f"{other}.{seq(r.last())}", True),
        ("garbage", True),
        (lambda: current, True),
        (lambda: f"{current}.", True),
        (lambda: f"{current}.x1", True),
        (lambda: f"{current}.-1", True),
        (lambda: f"{current}.1.2", True),
        (lambda: f"{current}.{seq(r.last()) + 1}", True),
        (lambda: f"{current}.{seq(r.last()) + 1000}", True),
        (lambda: f"{current}.99999999999999999999999", True),
    ]
    for value, gap in cases:
        header = value() if callable(value) else value
        frames = r.resume(header)
        if gap:
            assert_resume_gap(frames, header)
        else:
            assert frames == [], (header, [f["raw"][:120] for f in frames])


def test_evicted_successors_give_a_gap_notice_at_the_ring_boundary(ev):
    """The ring keeps the last 1024 live events: an id whose successors are all still in it is
    replayed; one more back, and the first successor is gone."""
    r = Resumer(ev)
    r.print_lines(1, "start")
    early = r.last()
    r.print_lines(RING + 100, "e")
    newest = seq(r.last())
    assert_resume_gap(r.resume(early["id"]), early["id"])
    newest += 1  # the marker of that resume is in the ring too
    inside = f"{boot(early)}.{newest - RING}"
    replayed = r.resume(inside)
    expected = r.log_frames_after(newest - RING)
    expected = [f for f in expected if seq(f) <= newest]
    assert len(expected) == RING - 1, len(expected)  # the marker is the one state event
    assert [f["raw"] for f in replayed] == [f["raw"] for f in expected]
    newest += 1
    outside = f"{boot(early)}.{newest - RING - 1}"
    assert_resume_gap(r.resume(outside), outside)
