"""A full disk under the master (CONTRACT §21.4): a real ENOSPC from the kernel, not a simulated one.

The state directory is a 64 KiB tmpfs mounted where the master keeps its state; a filler file
takes the free space. Every change then fails to save: the client gets `500` with the failing
step, the change stays applied in memory, the last good files are untouched, failed saves are
retried with a doubling delay, and once space is freed the next save carries everything.
`test_durability.py` covers the other failure (a directory in the way of the temporary file, EISDIR)
and the background retry that recovers on its own.
"""

from __future__ import annotations

import errno
import json
import subprocess
import time
from pathlib import Path

import pytest

import statefile

NO_SPACE = "No space left on device"


@pytest.fixture
def small_disk(master):
    """Mounts the tmpfs on the state directory; skips where mounting is not allowed."""
    gob = master.state_dir
    gob.mkdir(mode=0o700)
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "openctrl-test", str(gob)],
                                 capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield gob
    master.cleanup()
    if subprocess.run(["umount", str(gob)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(gob)], capture_output=True)


def fill(directory: Path) -> Path:
    """Takes every free byte of the file system; returns the filler to delete later."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 4096, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    return filler


def save_failed(m) -> str:
    return f"state save failed: write failed: {m.tmp}: {NO_SPACE}"


def records_on_disk(m) -> dict:
    return {r["id"]: r for r in statefile.decode(m.primary.read_bytes())}


def failing_lines(m) -> list[float]:
    with m.run.cond:
        return [t for t, line in m.run.lines["stderr"] if "Master.saveState: write failed: " in line]


def test_each_change_on_a_full_disk_answers_500_stays_in_memory_and_is_saved_after_space_returns(master, small_disk):
    m = master.start(url_suffix="?bin=/bin/true")
    status, _, kept = m.json("POST", "/instances", {"alias": "kept", "url": "edge://kept"})
    assert status == 201
    status, _, moved = m.json("POST", "/instances", {"alias": "moved", "url": "edge://moved"})
    assert status == 201
    # Both children (/bin/true) have exited and their `stopped` is written before the primary
    # is taken as the reference (status changes go to the change log, but wait all the same).
    deadline = time.monotonic() + 10
    while {r["status"] for r in m.json("GET", "/instances")[2] if r["id"] != "********"} != {"stopped"}:
        assert time.monotonic() < deadline, m.json("GET", "/instances")[2]
        time.sleep(0.05)
    assert m.api("POST", "/info", body='{"alias":"settled"}').status == 200
    before = m.primary.read_bytes()
    filler = fill(small_disk)

    # The change log's last page still has room when the disk is full: appends land there and
    # are durable until one does not fit. From the first failure on every write is a fold (a
    # failed append may have left a partial entry), which needs new space.
    for i in range(64):
        r = m.api("POST", "/instances", body=json.dumps({"alias": f"slack {i}", "url": "edge://slack"}))
        if r.status != 201:
            # The first failure may be a background append (the children exit and restart),
            # leaving this request to a fold.
            assert r.status == 500 and r.json()["error"] in (
                f"state save failed: write failed: {m.state_dir / 'openctrl.gob.log'}: {NO_SPACE}", save_failed(m)), r
            break
    else:
        pytest.fail("the change log never ran out of room")

    changes = [
        ("POST", "/instances", {"alias": "during", "url": "edge://during"}),
        ("PATCH", f"/instances/{kept['id']}", {"alias": "renamed", "meta": {"tags": {"k": "v"}}}),
        ("PUT", f"/instances/{moved['id']}", {"url": "relay://elsewhere"}),
        ("DELETE", f"/instances/{kept['id']}", None),
    ]
    for method, path, body in changes:
        r = m.api(method, path, body=None if body is None else json.dumps(body))
        assert (r.status, r.json()) == (500, {"error": save_failed(m)}), (method, r)
    m.wait_for_log(r"Master\.saveState: write failed: .*openctrl\.gob\.tmp: " + NO_SPACE)

    # Applied in memory, not on disk; the failed save left no temporary file behind.
    shown = {r["id"]: r for r in m.json("GET", "/instances")[2]}
    during = [r for r in shown.values() if r["alias"] == "during"]
    assert len(during) == 1 and during[0]["url"] == "edge://during"
    assert kept["id"] not in shown
    assert shown[moved["id"]]["url"] == "relay://elsewhere" and shown[moved["id"]]["type"] == "relay"
    assert m.primary.read_bytes() == before
    assert not m.tmp.exists()

    filler.unlink()
    # A waiting client triggers a save at once, whatever the retry backoff has grown to.
    assert m.api("POST", "/info", body='{"alias":"space is back"}').status == 200
    on_disk = records_on_disk(m)
    assert during[0]["id"] in on_disk and kept["id"] not in on_disk
    assert on_disk[moved["id"]]["url"] == "relay://elsewhere"

    m.kill9()
    m.start(url_suffix="?bin=/bin/true")
    after = {r["id"]: r for r in m.json("GET", "/instances")[2]}
    assert sorted(after) == sorted(shown)
    assert after[moved["id"]]["url"] == "relay://elsewhere"
    assert m.info()["alias"] == "space is back"


def test_failed_saves_are_retried_after_5_then_10_seconds(master, small_disk):
    m = master.start()
    before = m.primary.read_bytes()
    fill(small_disk)
    r = m.api("POST", "/info", body='{"alias":"pending"}')
    assert (r.status, r.json()) == (500, {"error": save_failed(m)})

    deadline = time.monotonic() + 20
    while len(failing_lines(m)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    times = failing_lines(m)
    assert len(times) >= 3, m.stderr_text()
    first, second = times[1] - times[0], times[2] - times[1]
    assert 4.5 <= first <= 6.5 and 9.5 <= second <= 12, (first, second)
    assert m.primary.read_bytes() == before
    assert m.info()["alias"] == "pending"
