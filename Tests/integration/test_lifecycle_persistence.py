"""Instances across master restarts, crashes and shutdowns (CONTRACT §11, §16, §18, §21.4)."""

from __future__ import annotations

import re
import time

from instances_helpers import (  # noqa: F401  (kit: fixture)
    COUNTERS, LIVE, group_alive, group_members, kit, read_pidfile, starting_re, wait_until,
)

KEEP = ("id", "alias", "type", "url", "config", "restart", "meta")


def esc(iid: str) -> str:
    return r" \[" + re.escape(iid) + r"\]$"


def auto_re(iid: str) -> str:
    return r"Master\.loadState: auto-starting instance: .*" + esc(iid)


def test_instances_survive_a_master_restart(kit):
    m = kit.start()
    a = kit.create(kit.url("a", checkpoints=1, step=100), alias="alpha")["id"]
    b = kit.create(kit.url("b", checkpoints=1, step=7), alias="beta")["id"]
    kit.patch(a, {"meta": {"peer": {"sid": "s", "type": "t", "alias": "Peer A"},
                           "tags": {"region": "eu", "tier": "1"}}})
    kit.patch(b, {"restart": False, "meta": {"tags": {"k": "v"}}})
    kit.wait(a, lambda s: s["tcprx"] == 100, 5, "a checkpoint")
    kit.wait(b, lambda s: s["tcprx"] == 7, 5, "b checkpoint")
    _, _, before = m.json("GET", "/instances")

    kit.restart_master()
    assert m.key_event == "loaded"
    m.wait_for_log(r"Master\.loadState: auto-starting instance: "
                   r"fixture://a\?tok=\*\*\*&checkpoints=\*\*\*&step=\*\*\*" + esc(a))
    _, _, after = m.json("GET", "/instances")
    assert [i["id"] for i in after] == [i["id"] for i in before]
    for old, new in zip(before, after):
        assert {k: new[k] for k in KEEP} == {k: old[k] for k in KEEP}, (old, new)
    # b: restart false → not auto-started, counters kept, live metrics cleared at boot.
    snap_b = kit.get(b)
    assert snap_b["status"] == "stopped"
    assert tuple(snap_b[c] for c in COUNTERS) == (7, 14, 21, 28), snap_b
    assert all(snap_b[f] == 0 for f in LIVE) and snap_b["mode"] == 1, snap_b
    assert kit.count(auto_re(b)) == 0 and kit.count(starting_re(b)) == 0
    # a: auto-started; its persisted 100 plus the new run's 100.
    snap_a = kit.wait(a, lambda s: s["tcprx"] == 200, 5, "a counted across the restart")
    assert snap_a["status"] == "running"
    assert tuple(snap_a[c] for c in COUNTERS) == (200, 400, 600, 800), snap_a
    assert kit.count(auto_re(a)) == 1
    assert kit.count(starting_re(b)) == 0


def test_kill9_after_acknowledged_changes_keeps_them(kit):
    m = kit.start(with_bin=False)
    x = kit.create("fixture://x/1", alias="x")["id"]
    y = kit.create("fixture://y/2", alias="y")["id"]
    kit.patch(x, {"alias": "x2", "restart": False, "meta": {"tags": {"t": "1"}}})
    assert m.api("DELETE", f"/instances/{y}").status == 204
    status, _, z = m.json("POST", "/instances", {"alias": "zed", "url": "fixture://z/3"})
    assert status == 201, z
    m.kill9()

    m.start()
    snap = kit.get(z["id"])
    assert (snap["alias"], snap["url"], snap["type"], snap["restart"]) == \
        ("zed", "fixture://z/3", "fixture", True)
    sx = kit.get(x)
    assert (sx["alias"], sx["restart"], sx["meta"]["tags"]) == ("x2", False, {"t": "1"})
    assert m.api("GET", f"/instances/{y}").status == 404
    # restart: true → auto-started at boot (no bin here, so it ends in error); x is not.
    m.wait_for_log(auto_re(z["id"]))
    kit.wait_status(z["id"], "error", timeout=5)
    assert kit.count(auto_re(x)) == 0
    assert kit.get(x)["status"] == "stopped"


def test_master_shutdown_leaves_no_child_or_grandchild(kit):
    m = kit.start()
    pfa, pfb = kit.pidfile(), kit.pidfile()
    a = kit.create(kit.url("a", lines=1, grandchild=1, pidfile=pfa))["id"]
    b = kit.create(kit.url("b", lines=1, grandchild=1, ignoreterm=1, pidfile=pfb))["id"]
    for iid in (a, b):
        m.wait_for_log("^" + re.escape(f"line 1 [{iid}]") + "$", stream="stdout")
    groups = [read_pidfile(pfa)[1], read_pidfile(pfb)[1]]
    for g in groups:
        wait_until(lambda: len(group_members(g)) >= 2, 5, "grandchild started")
    t0 = time.monotonic()
    assert m.stop(timeout=12) == 0
    elapsed = time.monotonic() - t0
    for g in groups:
        wait_until(lambda: not group_alive(g), 5, f"process group {g} gone")
    lines = m.stderr_lines()
    text = "\n".join(lines)
    assert re.search(r"Master\.stopInstanceLocked: instance stopped" + esc(a), text, re.M), text
    assert re.search(r"Master\.stopInstanceLocked: instance force killed" + esc(b), text, re.M), text
    assert any(l.endswith(f" Master.shutdown: state saved: {m.primary}") for l in lines), text
    assert lines[-1].endswith(" Master.run: shutdown complete"), text
    assert 4.5 <= elapsed <= 9.0, f"shutdown took {elapsed:.2f}s"
