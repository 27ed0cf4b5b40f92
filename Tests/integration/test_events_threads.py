"""The event hub's send threads (issue 13): none until a flush needs them, the forced count when
the test variable asks, and an idle master keeps its single thread.

Runs under whatever `OPENCTRL_TEST_FANOUT_HELPERS` the suite sets, except where a test sets its
own value on its master.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from events_helpers import KEY_ID, ev, kit  # noqa: F401  (fixtures)
from sse import kind

SEND_THREAD = "openctrl-send"


def thread_names(pid: int) -> list[str]:
    names = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except FileNotFoundError:
            pass  # the thread ended between the listing and the read
    return names


def deliver_one_update(ev, watchers: int) -> None:
    """Opens `watchers` streams, changes an alias, and checks every stream saw it."""
    iid, _ = ev.child()
    clients = [ev.watch_ready() for _ in range(watchers)]
    ev.patch_alias(iid, "seen-by-all")
    for c in clients:
        c.read_until(lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == "seen-by-all")
        c.close()


def test_idle_master_has_one_thread(ev):
    """No send thread, no worker: the idle master is the loop and nothing else."""
    m = ev.start()
    assert thread_names(m.pid) == [Path(f"/proc/{m.pid}/comm").read_text().strip()]


def test_forced_helpers_start_with_the_first_shared_flush(ev):
    ev.m.env["OPENCTRL_TEST_FANOUT_HELPERS"] = "3"
    m = ev.start()
    assert SEND_THREAD not in thread_names(m.pid), "send threads before any flush"
    deliver_one_update(ev, 3)
    assert thread_names(m.pid).count(SEND_THREAD) == 3
    # They stay parked for the next flushes rather than being made again.
    deliver_one_update(ev, 2)
    assert thread_names(m.pid).count(SEND_THREAD) == 3


def test_forced_zero_never_starts_a_send_thread(ev):
    ev.m.env["OPENCTRL_TEST_FANOUT_HELPERS"] = "0"
    m = ev.start()
    deliver_one_update(ev, 4)
    assert SEND_THREAD not in thread_names(m.pid)


def test_automatic_mode_keeps_few_watchers_on_the_loop(ev):
    """Below the threshold (256 direct-write watchers) a flush is the loop's alone, whatever the
    number of cores."""
    # An empty value is ignored like any malformed one: the automatic policy.
    ev.m.env["OPENCTRL_TEST_FANOUT_HELPERS"] = ""
    m = ev.start()
    deliver_one_update(ev, 5)
    assert SEND_THREAD not in thread_names(m.pid)


@pytest.mark.parametrize("end", ["rotation", "sigterm"])
def test_shared_flushes_then_rotation_or_shutdown_end_every_stream(ev, end):
    """Past the automatic threshold (256 direct-write watchers) the flush is shared; the
    stream endings that follow (key rotation, SIGTERM with the final `stopped` update) still
    reach every watcher in order, and every connection closes."""
    ev.m.env["OPENCTRL_TEST_FANOUT_HELPERS"] = ""
    m = ev.start()
    iid, _ = ev.child()
    clients = [ev.watch_ready() for _ in range(300)]
    ev.patch_alias(iid, "shared")
    for c in clients:
        c.read_until(lambda f: kind(f) == "update" and f["data"]["instance"]["alias"] == "shared")
    assert SEND_THREAD in thread_names(m.pid), "300 watchers did not share the flush"
    if end == "rotation":
        status, _, _ = m.json("PATCH", f"/instances/{KEY_ID}", {"action": "restart"})
        assert status == 200
    else:
        m.send_signal(signal.SIGTERM)
    for i, c in enumerate(clients):
        frames = c.drain(timeout=10)
        kinds = [kind(f) for f in frames]
        assert kinds and kinds[-1] == "shutdown", (i, kinds)
        if end == "sigterm":
            stopped = [f for f in frames if kind(f) == "update" and f["data"]["instance"]["status"] == "stopped"]
            assert [f["data"]["instance"]["id"] for f in stopped] == [iid], (i, kinds)
        assert c.closed_by_peer(5), f"watcher {i}: the stream ended but its connection stayed open"
        c.close()
    if end == "sigterm":
        assert m.wait_exit() == 0
