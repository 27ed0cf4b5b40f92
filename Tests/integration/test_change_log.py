"""The change log beside the state file (docs/master.md "State on disk"): an acknowledged instance
change is an entry appended to `openctrl.gob.log`; a restart replays it over the primary it
names and folds it away; a torn last entry is dropped and kept for inspection; damage in front of
intact entries refuses the start and touches nothing."""

from __future__ import annotations

import re
import stat
import struct
import zlib

from harness import LOG_PREFIX

import statefile

HEADER = 24


def log_path(m):
    return m.state_dir / "openctrl.gob.log"


def entries(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every whole entry after the header."""
    out, at = [], HEADER
    while at + 8 <= len(data):
        length, check = struct.unpack(">II", data[at:at + 8])
        if check != length ^ 0xFFFFFFFF or at + 12 + length > len(data):
            break
        out.append((at, 12 + length))
        at += 12 + length
    return out


def created_and_killed(m, count: int = 3) -> list[str]:
    m.start(url_suffix="?bin=/bin/true")
    ids = []
    for i in range(count):
        status, _, record = m.json("POST", "/instances", {"alias": f"logged {i}", "url": f"edge://n{i}"})
        assert status == 201
        ids.append(record["id"])
    m.kill9()
    return ids


def listed(m) -> dict:
    return {r["id"]: r for r in m.json("GET", "/instances")[2] if r["id"] != "********"}


def test_acknowledged_changes_are_in_the_log_and_replayed_after_kill9(master):
    ids = created_and_killed(master)
    data = log_path(master).read_bytes()
    assert data[:8] == b"OCTLLOG\n"
    primary = master.primary.read_bytes()
    assert struct.unpack(">II", data[12:20]) == (len(primary), struct.unpack(">I", primary[-4:])[0])
    assert struct.unpack(">I", data[20:24])[0] == zlib.crc32(data[:20])
    # The creates and the children's exits went to the log, not the primary.
    assert len(entries(data)) >= 1
    assert not any(r["id"] in ids for r in statefile.decode(primary))
    assert stat.S_IMODE(log_path(master).stat().st_mode) == 0o600

    master.start(url_suffix="?bin=/bin/true")
    found = master.wait_for_log(LOG_PREFIX + r"Master\.loadState: replayed (\d+) changes from "
                                + re.escape(str(log_path(master))) + "$", 1)
    assert int(found.group(1)) >= 3
    shown = listed(master)
    assert sorted(shown) == sorted(ids)
    assert {shown[i]["alias"] for i in ids} == {"logged 0", "logged 1", "logged 2"}
    # Folded at start: the primary holds them and the log names the new primary (the
    # auto-started children may have appended to it since).
    primary = master.primary.read_bytes()
    assert sorted(r["id"] for r in statefile.decode(primary) if r["id"] != "********") == sorted(ids)
    assert log_path(master).read_bytes()[12:20] == struct.pack(">I", len(primary)) + primary[-4:]


def test_delete_is_logged_and_stays_deleted(master):
    ids = created_and_killed(master)
    master.start(url_suffix="?bin=/bin/true")
    assert master.api("DELETE", f"/instances/{ids[1]}").status == 204
    master.kill9()
    master.start(url_suffix="?bin=/bin/true")
    assert sorted(listed(master)) == sorted([ids[0], ids[2]])


def test_torn_last_entry_is_dropped_and_kept_for_inspection(master):
    ids = created_and_killed(master)
    data = log_path(master).read_bytes()
    # An append cut short by a power loss: half an entry after the acknowledged ones.
    torn = data + data[HEADER:HEADER + 40]
    log_path(master).write_bytes(torn)
    master.start(url_suffix="?bin=/bin/true")
    master.wait_for_log(r"Master\.loadState: replayed \d+ changes from .*; dropped its unfinished last entry "
                        r"\(40 bytes, never acknowledged\); kept as .*openctrl\.gob\.log\.corrupt-\d+$", 1)
    assert sorted(listed(master)) == sorted(ids)
    kept = [p for p in master.state_dir.iterdir() if p.name.startswith("openctrl.gob.log.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes() == torn


def test_damage_before_intact_entries_refuses_and_touches_nothing(master):
    created_and_killed(master)
    data = bytearray(log_path(master).read_bytes())
    first = entries(bytes(data))
    assert len(first) >= 2, first
    offset, length = first[0]
    data[offset + 12] ^= 0x40
    log_path(master).write_bytes(bytes(data))
    before = {p.name: p.read_bytes() for p in master.state_dir.iterdir()}
    assert master.start(expect_fail=True) == 1
    message = master.envelope()["message"]
    assert re.search(r"Master\.loadState: state log unreadable: " + re.escape(str(log_path(master)))
                     + r": entry 1 at byte 24 is damaged and an intact entry follows at byte \d+; move it aside to start from "
                     + re.escape(str(master.primary)) + " without the changes it holds$", message), message
    assert {p.name: p.read_bytes() for p in master.state_dir.iterdir()} == before


def test_moving_a_refused_log_aside_starts_from_the_primary(master):
    created_and_killed(master)
    data = bytearray(log_path(master).read_bytes())
    data[HEADER + 12] ^= 0x01
    log_path(master).write_bytes(bytes(data))
    assert master.start(expect_fail=True) == 1
    log_path(master).rename(master.state_dir / "aside")
    master.start(url_suffix="?bin=/bin/true")
    assert listed(master) == {}


def test_log_of_an_earlier_primary_is_not_replayed(master):
    """A fold that stopped between its two renames: the new primary holds everything, the old
    log names the old primary (now the backup) and must not be applied again."""
    ids = created_and_killed(master)
    master.start(url_suffix="?bin=/bin/true")
    assert master.api("PATCH", f"/instances/{ids[0]}", body='{"alias":"stale"}').status == 200
    stale = log_path(master).read_bytes()
    assert master.api("PATCH", f"/instances/{ids[0]}", body='{"alias":"final"}').status == 200
    assert master.api("POST", "/info", body='{"alias":"folded"}').status == 200
    master.kill9()
    assert stale[12:20] == struct.pack(">I", len(master.backup.read_bytes())) + master.backup.read_bytes()[-4:]
    log_path(master).write_bytes(stale)
    master.start(url_suffix="?bin=/bin/true")
    master.wait_for_log(re.escape(f"Master.loadState: {log_path(master)} extends an earlier state file whose changes "
                                  f"{master.primary} holds; replaced") + "$", 1)
    assert listed(master)[ids[0]]["alias"] == "final"


def test_log_of_another_file_is_kept_aside_not_replayed(master):
    ids = created_and_killed(master)
    data = bytearray(log_path(master).read_bytes())
    data[12:16] = struct.pack(">I", 12345)
    data[20:24] = struct.pack(">I", zlib.crc32(bytes(data[:20])))
    log_path(master).write_bytes(bytes(data))
    master.start(url_suffix="?bin=/bin/true")
    master.wait_for_log(re.escape(f"Master.loadState: {log_path(master)} does not extend the state file that was "
                                  "loaded and was not replayed; kept as ") + r".*openctrl\.gob\.log\.corrupt-\d+$", 1)
    assert not any(i in listed(master) for i in ids)
    kept = [p for p in master.state_dir.iterdir() if p.name.startswith("openctrl.gob.log.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(data)


def test_header_damage_refuses(master):
    created_and_killed(master)
    data = bytearray(log_path(master).read_bytes())
    data[14] ^= 0x01
    log_path(master).write_bytes(bytes(data))
    assert master.start(expect_fail=True) == 1
    assert "state log unreadable: " + str(log_path(master)) + ": header checksum mismatch;" in master.envelope()["message"]
