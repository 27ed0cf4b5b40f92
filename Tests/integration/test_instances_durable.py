"""Acknowledged means durable for every instance change (CONTRACT §21.4): a `kill -9` right
after the answer never loses what the answer confirmed."""

from __future__ import annotations

from instances_helpers import kit  # noqa: F401  (fixture)


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
