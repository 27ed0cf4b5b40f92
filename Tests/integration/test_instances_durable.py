"""Acknowledged means durable for every instance change (CONTRACT §21.4): a `kill -9` right
after the answer never loses what the answer confirmed. Also the checkpoint-silence rule (T7),
which needs 15–20 s of wall time."""

from __future__ import annotations

from instances_helpers import kit, pid_alive, read_pidfile  # noqa: F401  (kit is a fixture)


def test_kill9_after_each_acknowledged_change_keeps_it(kit):
    kit.start()
    kept = kit.create(kit.url("kept", sleep="30"), alias="kept")
    gone = kit.create(kit.url("gone", sleep="30"), alias="gone")
    kit.wait_status(gone["id"], "running")
    status, _, _ = kit.m.json("PATCH", f"/instances/{kept['id']}", {"alias": "renamed", "restart": False,
                                                                     "meta": {"tags": {"k": "v"}}})
    assert status == 200
    assert kit.m.api("DELETE", f"/instances/{gone['id']}").status == 204
    kit.m.kill9()
    kit.sweep()
    kit.start()
    ids = [r["id"] for r in kit.m.json("GET", "/instances")[2]]
    assert gone["id"] not in ids
    record = kit.get(kept["id"])
    assert record["alias"] == "renamed"
    assert record["restart"] is False
    assert record["meta"]["tags"] == {"k": "v"}


def test_checkpoint_silence_marks_error_and_keeps_the_process(kit):
    """T7: running, at least one checkpoint in this run, then none for more than 15 s (checked
    every 5 s) → `error`, live metrics kept, the child left running."""
    kit.start()
    pidfile = kit.pidfile()
    created = kit.create(kit.url("quiet", checkpoints="1", pidfile=str(pidfile), sleep="120"))
    iid = created["id"]
    kit.patch(iid, {"restart": False})
    snapshot = kit.wait(iid, lambda s: s["status"] == "running" and s["tcprx"] == 100, 10, "first checkpoint")
    assert snapshot["ping"] == 5
    errored = kit.wait_status(iid, "error", timeout=25)
    assert errored["ping"] == 5 and errored["tcps"] == 3
    pid, _ = read_pidfile(pidfile)
    assert pid_alive(pid)
