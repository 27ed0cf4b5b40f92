"""The state file on disk: format, permissions, backup rotation, recovery and refusal
(CONTRACT §4.2, §21)."""

from __future__ import annotations

import re
import stat

import pytest

import statefile
from harness import LOG_PREFIX

GOB_REASON = "not an OpenCtrl state file (gob data from the Go original?)"
# The opening of a gob stream as the Go original writes it: a type definition for
# map[string]*Instance followed by the struct type, then a value carrying a key-like string.
GOB_LIKE = (
    b"\x0e\xff\x81\x04\x01\x02\xff\x82\x00\x01\x0c\x01\xff\x84\x00\x00"
    b"\xff\xc5\xff\x83\x03\x01\x01\x08Instance\x01\xff\x84\x00\x01\x12\x01\x02ID\x01\x0c\x00"
    b"\x01\x05Alias\x01\x0c\x00\x01\x04Type\x01\x0c\x00\x01\x06Status\x01\x0c\x00\x01\x03URL\x01\x0c\x00"
    b"\x00\x00\x3a\xff\x82\x00\x01\x08********\x01\x08********\x05 0123456789abcdef0123456789abcdef\x00"
)


def post(m, alias: str) -> None:
    r = m.api("POST", "/info", body=('{"alias":"%s"}' % alias).encode())
    assert r.status == 200, r


def two_generations(m) -> tuple[str, str]:
    """Leave primary = generation "gen2" and backup = generation "gen1", with no shutdown save."""
    m.start()
    key, mid = m.key, m.info()["mid"]
    post(m, "gen1")
    post(m, "gen2")
    m.kill9()
    assert statefile.key_record(m.backup.read_bytes())["alias"] == "gen1"
    assert statefile.key_record(m.primary.read_bytes())["alias"] == "gen2"
    return key, mid


def snapshot(*paths) -> list:
    return [(p.read_bytes(), p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode)) for p in paths]


def refusal(m) -> str:
    code = m.start(expect_fail=True)
    assert code == 1, m.stderr_text()
    assert not any(" Master.run: started: " in l for l in m.stderr_lines())
    assert not any("API key created" in l for l in m.stderr_lines())
    return m.envelope()["message"]


def unreadable(m, message: str) -> tuple[str, str]:
    rx = (r"Master\.loadState: state files unreadable: " + re.escape(str(m.primary)) + r": (.+); "
          + re.escape(str(m.backup)) + r": (.+)$")
    found = re.search(rx, message)
    assert found, message
    return found.group(1), found.group(2)


# ----- format and permissions ----------------------------------------------------------------
def test_first_start_writes_the_key_record(started):
    data = started.primary.read_bytes()
    assert data[:8] == b"OCTLST\r\n"
    assert statefile.header(data) == (1, 0, len(data) - 20)
    records = statefile.decode(data)
    assert [r["id"] for r in records] == ["********"]
    rec = records[0]
    assert rec["url"] == started.key
    assert rec["config"] == started.info()["mid"]
    assert (rec["alias"], rec["status"], rec["type"]) == ("", "", "")
    assert rec["_tags"] == list(range(1, 21))
    assert re.search(rb"[0-9a-f]{32}", data).group().decode() == started.key
    assert started.key_event == "created"


def test_permissions(started):
    assert stat.S_IMODE(started.state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(started.primary.stat().st_mode) == 0o600
    post(started, "second save")
    assert stat.S_IMODE(started.primary.stat().st_mode) == 0o600
    assert stat.S_IMODE(started.backup.stat().st_mode) == 0o600
    assert not started.tmp.exists() and not started.backup_tmp.exists()


def test_backup_is_the_previous_generation(started):
    post(started, "one")
    first = started.primary.read_bytes()
    post(started, "two")
    assert started.backup.read_bytes() == first
    assert statefile.key_record(started.primary.read_bytes())["alias"] == "two"


def test_state_survives_restart(master):
    master.start()
    key, mid = master.key, master.info()["mid"]
    assert master.stop() == 0
    master.start()
    assert (master.key_event, master.key) == ("loaded", key)
    assert master.info()["mid"] == mid
    master.wait_for_log(LOG_PREFIX + re.escape(f"Master.loadState: loaded 1 instances from {master.primary}") + "$", 1)


# ----- recovery from the backup --------------------------------------------------------------
CORRUPTIONS = {
    "flip-middle": statefile.flip_middle,
    "truncate": lambda d: d[:-1],
    "append": lambda d: d + b"\x00",
    "empty": lambda d: b"",
    "bad-crc": lambda d: d[:-1] + bytes([d[-1] ^ 1]),
    "unknown-flags": lambda d: statefile.with_flags(d, 1),
    "gob": lambda d: GOB_LIKE,
    "tags-out-of-order": lambda d: statefile.encode([list(reversed(r)) for r in statefile.raw_records(d)]),
    "count-mismatch": lambda d: statefile.encode(statefile.raw_records(d), count=2),
    "duplicate-id": lambda d: statefile.encode(statefile.raw_records(d) * 2),
    "invalid-utf8": lambda d: statefile.encode(
        [[(t, b"\xff" if t == 2 else v) for t, v in r] for r in statefile.raw_records(d)]),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupt_primary_is_restored_from_backup(master, kind):
    key, mid = two_generations(master)
    bad = CORRUPTIONS[kind](master.primary.read_bytes())
    master.primary.write_bytes(bad)
    backup_before = snapshot(master.backup)
    master.start()
    found = master.wait_for_log(
        LOG_PREFIX + r"Master\.loadState: primary state invalid \((.+)\), restored from backup: "
        + re.escape(str(master.backup)) + "$", 1)
    if kind == "gob":
        assert found.group(1) == GOB_REASON
    assert (master.key_event, master.key) == ("loaded", key)
    info = master.info()
    assert (info["mid"], info["alias"]) == (mid, "gen1")
    corrupt = master.corrupt_files()
    assert len(corrupt) == 1 and re.fullmatch(r"openctrl\.gob\.corrupt-\d+", corrupt[0].name)
    assert corrupt[0].read_bytes() == bad
    assert statefile.key_record(master.primary.read_bytes())["alias"] == "gen1"
    assert snapshot(master.backup) == backup_before


def test_missing_primary_is_restored_from_backup(master):
    key, mid = two_generations(master)
    master.primary.unlink()
    master.start()
    master.wait_for_log(r"Master\.loadState: primary state invalid \(.+\), restored from backup: "
                        + re.escape(str(master.backup)) + "$", 1)
    assert master.key == key
    assert master.info()["alias"] == "gen1"
    assert master.corrupt_files() == []
    assert statefile.key_record(master.primary.read_bytes())["alias"] == "gen1"


def test_unknown_tags_are_skipped(master):
    key, mid = two_generations(master)
    records = statefile.raw_records(master.primary.read_bytes())
    records[0].append((21, b"a future field"))
    master.primary.write_bytes(statefile.encode(records))
    master.start()
    assert master.key == key
    assert master.info()["alias"] == "gen2"
    assert not any("restored from backup" in l for l in master.stderr_lines())


# ----- refusal -------------------------------------------------------------------------------
def test_both_corrupt_refuses_and_touches_nothing(master):
    two_generations(master)
    master.primary.write_bytes(statefile.flip_middle(master.primary.read_bytes()))
    master.backup.write_bytes(master.backup.read_bytes()[:-3])
    before = snapshot(master.primary, master.backup)
    names = sorted(p.name for p in master.state_dir.iterdir())
    message = refusal(master)
    unreadable(master, message)
    assert snapshot(master.primary, master.backup) == before
    assert sorted(p.name for p in master.state_dir.iterdir()) == names


@pytest.mark.parametrize("backup", ["missing", "corrupt", "gob"])
def test_gob_primary_is_named_in_the_refusal(master, backup):
    master.start()
    master.kill9()
    master.primary.write_bytes(GOB_LIKE)
    if backup == "corrupt":
        master.backup.write_bytes(b"OCTLST\r\n\x00\x01")
    elif backup == "gob":
        master.backup.write_bytes(GOB_LIKE)
    elif master.backup.exists():
        master.backup.unlink()
    files = [master.primary] + ([master.backup] if backup != "missing" else [])
    before = snapshot(*files)
    message = refusal(master)
    primary_reason, backup_reason = unreadable(master, message)
    assert primary_reason == GOB_REASON
    if backup == "gob":
        assert backup_reason == GOB_REASON
    assert snapshot(*files) == before
    assert master.corrupt_files() == []


def test_missing_primary_and_corrupt_backup_refuses(master):
    two_generations(master)
    master.primary.unlink()
    master.backup.write_bytes(statefile.flip_middle(master.backup.read_bytes()))
    before = snapshot(master.backup)
    unreadable(master, refusal(master))
    assert snapshot(master.backup) == before
    assert not master.primary.exists()


@pytest.mark.parametrize("version", [2, 7, 0x100])
def test_unsupported_version_refuses_and_touches_nothing(master, version):
    two_generations(master)
    master.primary.write_bytes(statefile.with_version(master.primary.read_bytes(), version))
    before = snapshot(master.primary, master.backup)
    message = refusal(master)
    assert message.endswith(f"Master.loadState: unsupported state format version {version}: {master.primary}"), message
    assert snapshot(master.primary, master.backup) == before
    assert master.corrupt_files() == []


# ----- temporary files -----------------------------------------------------------------------
def test_stale_temporary_files_are_removed(master):
    master.start()
    key = master.key
    assert master.stop() == 0
    master.tmp.write_bytes(b"half-written junk")
    master.backup_tmp.write_bytes(b"stale link")
    master.start()
    assert master.key == key
    assert not master.tmp.exists()
    assert not master.backup_tmp.exists()


def test_stale_temporary_files_on_first_start(master):
    master.state_dir.mkdir(mode=0o700)
    master.tmp.write_bytes(statefile.encode([[(1, b"********"), (5, b"f" * 32)]]))
    master.backup_tmp.write_bytes(b"junk")
    master.start()
    assert master.key_event == "created"
    assert master.key != "f" * 32
    assert not master.tmp.exists() and not master.backup_tmp.exists()
