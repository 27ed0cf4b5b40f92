"""Event ids and the snapshot/publication race (CONTRACT §13.3, §13.5)."""

from __future__ import annotations

import threading

from events_helpers import ID_RE, ev, kit  # noqa: F401  (ev, kit: fixtures)
from sse import boot, kind, logs, seq


def alias_n(frame: dict) -> int:
    return int(frame["data"]["instance"]["alias"][1:])


def test_ids_count_every_event_even_without_watchers(ev):
    ev.start()
    first = ev.watch_ready()
    iid, ctl = ev.child(alias="x")
    seen = first.read_until(lambda f: kind(f) == "update" and f["data"]["instance"]["status"] == "running")
    assert [seq(f) for f in seen] == list(range(1, len(seen) + 1)), [f["id"] for f in seen]
    first.close()
    # Two events while nobody watches.
    ev.patch_alias(iid, "y")
    ev.patch_alias(iid, "z")
    w = ev.watch_ready()
    ctl.send("lines 3 a")
    ev.patch_alias(iid, "w")
    second, _ = ev.child(wait_running=False)
    assert ev.m.api("DELETE", f"/instances/{second}").status == 204
    ctl.send("lines 2 b")
    frames = w.read_until(lambda f: logs(f) == "b 2")
    assert all(ID_RE.match(f["id"]) for f in frames)
    assert {boot(f) for f in frames} == {boot(seen[0])}
    assert [seq(f) for f in frames] == list(range(seq(seen[-1]) + 3, seq(seen[-1]) + 3 + len(frames)))
    assert {"log", "update", "create", "delete"} <= {kind(f) for f in frames}
    w.close()


def test_snapshot_is_atomic_with_publication(ev):
    """A watcher connecting while an alias changes continuously: its first live update is newer
    than its snapshot (§13.3 our rule), and updates never go back."""
    ev.start()
    iid, _ = ev.child(alias="a0")
    stop = threading.Event()
    errors: list[BaseException] = []

    def patcher() -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                ev.patch_alias(iid, f"a{n}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    t = threading.Thread(target=patcher, daemon=True)
    t.start()
    try:
        for _ in range(30):
            c = ev.watch()
            assert c.read_head() == 200
            _, initial = c.snapshot(2)
            (snap,) = [f for f in initial if f["data"]["instance"]["id"] == iid]
            updates = []
            while len(updates) < 3:
                f = c.next_frame()
                assert kind(f) == "update", f["raw"][:200]
                updates.append(alias_n(f))
            c.close()
            assert alias_n(snap) < updates[0], (alias_n(snap), updates)
            assert updates == sorted(set(updates)), updates
            assert not errors, errors
    finally:
        stop.set()
        t.join(5)
    assert not errors, errors
