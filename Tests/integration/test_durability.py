"""Acknowledged means durable, group commit, and a failing disk (CONTRACT §21.4).

A write is made to fail without privileges root could bypass: a directory sitting where the
temporary file must be created makes open(2) fail with EISDIR.
"""

from __future__ import annotations

import json
import threading
import time

from statefile import key_record


def alias_on_disk(m) -> str:
    return key_record(m.primary.read_bytes()).get("alias", "")


def test_concurrent_changes_are_all_acknowledged_and_the_last_applied_is_on_disk(started):
    results: list[int] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        r = started.api("POST", "/info", body=json.dumps({"alias": f"writer-{i}"}))
        with lock:
            results.append(r.status)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 40
    shown = started.info()["alias"]
    assert shown.startswith("writer-")
    # Every 200 was sent after a write containing its change; the last change applied is
    # therefore on disk already, before any shutdown save.
    assert alias_on_disk(started) == shown
    started.kill9()
    started.start()
    assert started.info()["alias"] == shown


def test_failed_write_answers_500_keeps_the_change_and_recovers(started):
    assert started.api("POST", "/info", body='{"alias":"before"}').status == 200
    started.tmp.mkdir()
    r = started.api("POST", "/info", body='{"alias":"during"}')
    assert r.status == 500
    message = json.loads(r.body)["error"]
    assert message.startswith("state save failed: open failed: ")
    assert str(started.tmp) in message and message.lower().endswith("is a directory")
    started.wait_for_log(r"Master\.saveState: open failed: .*openctrl\.gob\.tmp: [Ii]s a directory")
    # The change stays applied in memory; the last good file is untouched.
    assert started.info()["alias"] == "during"
    assert alias_on_disk(started) == "before"
    # Once the fault clears, the background retry (5 s after the failure) writes it.
    started.tmp.rmdir()
    deadline = time.monotonic() + 12
    while alias_on_disk(started) != "during" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alias_on_disk(started) == "during"
    started.kill9()
    started.start()
    assert started.info()["alias"] == "during"
