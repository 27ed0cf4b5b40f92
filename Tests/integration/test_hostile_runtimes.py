"""Hostile runtime output (CONTRACT §12.3, §12.4, §9.4): megabytes without a newline, a 200 MiB
flood, a flood of short lines, every byte value. The master must stay responsive, account for
every line (mirrored or counted as dropped), and leave each instance in its contracted status.

Runtimes: `Tests/fixtures/hostile_runtime.py` (flood, binary), `Tests/fixtures/runtime.py`
(no newline) and `/usr/bin/yes`, which prints its argument (the instance URL) forever.
Latencies are wall-clock times of `GET /info` on fresh connections, measured by this process on
a shared 2-core machine, hence a percentile bound plus a looser bound on the maximum.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from events_helpers import Ev
from harness import REPO
from instances_helpers import Kit, kit, pid_alive, pids_with, wait_until  # noqa: F401  (kit: fixture)
from master_variants import SlowStdoutMaster
from sse import Collector, is_log_of, logs

HOSTILE = (REPO / "Tests" / "fixtures" / "hostile_runtime.py").resolve()
YES = shutil.which("yes")
FLOOD = 200 << 20
FLOOD_WIDTH = 8192
LINE_MAX = 64 * 1024


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} missing")


def sample_info(m, while_true, period: float = 0.05, limit: float = 60.0) -> list[float]:
    """GET /info latencies, one every `period`, for as long as `while_true()` holds."""
    out = []
    deadline = time.monotonic() + limit
    while while_true() and time.monotonic() < deadline:
        t0 = time.monotonic()
        r = m.api("GET", "/info")
        out.append(time.monotonic() - t0)
        assert r.status == 200, r
        time.sleep(period)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def drop_notice(iid: str) -> re.Pattern:
    return re.compile(r"^openctrl: dropped (\d+) output lines \[" + iid + r"\]$")


def mirrored(k, iid: str) -> list[str]:
    """The child's mirrored lines, without the master's own drop notices."""
    suffix, notice = f" [{iid}]", drop_notice(iid)
    return [line[: -len(suffix)] for line in k.m.stdout_lines()
            if line.endswith(suffix) and not notice.match(line)]


def dropped(k, iid: str) -> int:
    return sum(int(d.group(1)) for d in map(drop_notice(iid).match, k.m.stdout_lines()) if d)


def wait_accounted(k, iid: str, expected: int, timeout: float = 10.0) -> tuple[list[str], int]:
    deadline = time.monotonic() + timeout
    while True:
        shown, lost = mirrored(k, iid), dropped(k, iid)
        if len(shown) + lost >= expected or time.monotonic() > deadline:
            return shown, lost
        time.sleep(0.1)


def test_megabytes_without_a_newline_are_split_every_64k(kit):
    """4 MiB + 1234 bytes and no newline: 64 lines of exactly 64 KiB, then the 1234-byte tail
    at EOF; the instance exits 0 (`stopped`). The mirror may drop lines, but never silently."""
    m = kit.start()
    total = 64 * LINE_MAX + 1234
    t0 = time.monotonic()
    iid = kit.create(kit.url(nonewline=total, exit=0))["id"]
    latencies = sample_info(m, lambda: kit.get(iid)["status"] == "running" or time.monotonic() - t0 < 0.3)
    kit.wait_status(iid, "stopped", timeout=30)
    elapsed = time.monotonic() - t0
    shown, lost = wait_accounted(kit, iid, 65)
    assert len(shown) + lost == 65, (len(shown), lost)
    assert all(p == "x" * LINE_MAX for p in shown[:-1]), sorted({len(p) for p in shown})
    assert shown[-1] in ("x" * LINE_MAX, "x" * 1234)
    assert "x" * 1234 in shown or lost, "the unterminated tail was not emitted at EOF"
    assert kit.count(r"instance error:.*\[" + iid) == 0
    print(f"\nno newline: {total} bytes in {elapsed:.2f}s ({total / elapsed / 1e6:.1f} MB/s), "
          f"{len(shown)} pieces mirrored, {lost} dropped; /info p95 {pct(latencies, 0.95) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")


def test_flood_of_200_mib_is_absorbed_while_the_api_answers(kit):
    """A child writes 200 MiB of 8 KiB lines as fast as the pipe takes them and exits 0: every
    line is mirrored or counted as dropped, /info keeps answering (95 % under 100 ms), the
    instance ends `stopped`, and the master's peak memory stays bounded (a gross bound: the
    slow-stdout test below measures the mirror's growth precisely)."""
    m = kit.m.start(url_suffix=f"?bin={HOSTILE}")
    rss0 = status_kb(m.pid, "VmRSS")
    t0 = time.monotonic()
    iid = kit.create(kit.url(flood=FLOOD, width=FLOOD_WIDTH, exit=0))["id"]
    latencies = sample_info(m, lambda: kit.get(iid)["status"] == "running" or time.monotonic() - t0 < 0.3)
    kit.wait_status(iid, "stopped", timeout=60)
    elapsed = time.monotonic() - t0
    peak = status_kb(m.pid, "VmHWM")
    lines = FLOOD // FLOOD_WIDTH
    shown, lost = wait_accounted(kit, iid, lines, timeout=20)
    assert len(shown) + lost == lines, (len(shown), lost)
    assert set(map(len, shown)) == {FLOOD_WIDTH - 1}
    assert pct(latencies, 0.95) < 0.1, sorted(latencies)[-10:]
    assert max(latencies) < 0.5, sorted(latencies)[-10:]
    assert peak < 512 * 1024, f"peak RSS {peak} kB"
    print(f"\nflood: {FLOOD >> 20} MiB in {elapsed:.2f}s ({FLOOD / elapsed / 1e6:.1f} MB/s), "
          f"{len(shown)} lines mirrored, {lost} dropped; /info n={len(latencies)} "
          f"p50 {pct(latencies, 0.5) * 1000:.0f} ms p95 {pct(latencies, 0.95) * 1000:.0f} ms "
          f"max {max(latencies) * 1000:.0f} ms; RSS {rss0} kB -> peak {peak} kB")


SAMPLER = """
import http.client, json, sys, time
port, path, key, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
out, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers={"X-API-Key": key})
    r = c.getresponse()
    r.read()
    c.close()
    out.append(time.monotonic() - t0)
    assert r.status == 200, r.status
    time.sleep(0.05)
print(json.dumps(out))
"""


def sample_info_elsewhere(m, seconds: float) -> list[float]:
    """GET /info latencies measured by a separate process: in this one the harness's reader
    thread, flooded by the master's mirrored stdout, holds the GIL for long stretches, and the
    figures would be Python's rather than the master's."""
    done = subprocess.run([sys.executable, "-c", SAMPLER, str(m.port), m.api_path("/info"), m.key, str(seconds)],
                          capture_output=True, text=True, timeout=seconds + 30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_flood_of_short_lines_keeps_the_api_responsive(kit):
    m = kit.m.start(url_suffix=f"?bin={YES}")
    iid = kit.create(kit.url("yes"))["id"]
    kit.wait_status(iid, "running")
    m.wait_for_log(r"^fixture://yes\?tok=\w+ \[" + iid + r"\]$", stream="stdout")
    latencies = sample_info_elsewhere(m, 3)
    assert pct(latencies, 0.95) < 0.1 and max(latencies) < 0.5, [round(x, 3) for x in latencies]


def test_flood_of_short_lines_can_be_stopped(kit):
    """`yes` writing as fast as it can: a stop still ends it within the grace period, the
    group is gone, and the instance is `stopped` (T8b) with the graceful log line."""
    m = kit.m.start(url_suffix=f"?bin={YES}")
    iid = kit.create(kit.url("yes"))["id"]
    kit.wait_status(iid, "running")
    m.wait_for_log(r"^fixture://yes\?tok=\w+ \[" + iid + r"\]$", stream="stdout")
    (pid,) = pids_with(kit.token)
    t0 = time.monotonic()
    status, _, _ = m.json("PATCH", f"/instances/{iid}", {"action": "stop"})
    assert status == 200
    kit.wait_status(iid, "stopped", timeout=10)
    elapsed = time.monotonic() - t0
    m.wait_for_log(r"Master\.stopInstanceLocked: instance stopped \[" + iid + r"\]$", timeout=5)
    assert elapsed < 5.0, f"stop took {elapsed:.2f}s"
    wait_until(lambda: not pid_alive(pid), 3, "yes gone")
    assert kit.m.info()
    print(f"\nyes: stopped {elapsed:.2f}s after the request; {len(mirrored(kit, iid))} lines "
          f"mirrored, {dropped(kit, iid)} dropped")


def expected_binary_lines() -> list[str]:
    """What the fixture's `binary=1` lines become as text: raw ASCII, invalid bytes as U+FFFD
    (each byte of 0x80-0xff stands alone here, so per-byte and maximal-subpart replacement
    agree)."""
    out = []
    for b in range(256):
        if b != 0x0A:
            out.append((b"byte %02x [" % b + bytes([b]) + b"]").decode("utf-8", "replace"))
    out.append((b"all [" + bytes(b for b in range(256) if b != 0x0A) + b"]").decode("utf-8", "replace"))
    out.append("end of binary")
    return out


def test_every_byte_value_reaches_events_and_stdout_intact(kit):
    """Lines holding each byte value (NUL, CR, DEL, every invalid UTF-8 byte) and one holding
    all of them: `log` events carry them with U+FFFD for invalid bytes, stdout mirrors them raw,
    the instance stays `running`, and the API is unaffected."""
    m = kit.m.start(url_suffix=f"?bin={HOSTILE}")
    ev = Ev(kit)
    watcher = Collector(ev.watch_ready(rcvbuf=4 << 20))
    iid = kit.create(kit.url(binary=1))["id"]
    watcher.wait_for(lambda f: is_log_of(iid)(f) and logs(f) == "end of binary", 10, "last binary line")
    frames = watcher.stop()
    got = [logs(f) for f in frames if is_log_of(iid)(f)]
    assert got == expected_binary_lines()
    assert all(f["data"]["instance"]["status"] == "running" for f in frames if is_log_of(iid)(f))
    m.wait_for_log(r"^end of binary \[" + iid + r"\]$", stream="stdout")
    assert mirrored(kit, iid) == expected_binary_lines()
    assert kit.get(iid)["status"] == "running"
    status, _, lst = m.json("GET", "/instances")
    assert status == 200 and iid in [i["id"] for i in lst]
    kit.patch(iid, {"action": "stop"})
    kit.wait_status(iid, "stopped")


@pytest.fixture
def slow_kit(tmp_path):
    """A kit whose master's stdout is drained at 8 MB/s."""
    m = SlowStdoutMaster(tmp_path, rate=8e6)
    k = Kit(m, tmp_path)
    yield k
    try:
        if m.alive():
            m.stop(timeout=12)
    except (AssertionError, OSError):
        pass
    m.cleanup()
    k.sweep()


def test_mirror_memory_stays_bounded_when_stdout_is_slow(slow_kit):
    """CONTRACT §12.4: the mirror is a bounded queue (1 MiB). A child floods 8 KiB lines without
    end while stdout takes 8 MB/s: once warm (the event ring full), mirroring 48 MiB more must
    not grow the master by more than 16 MiB."""
    m = slow_kit.m.start(url_suffix=f"?bin={HOSTILE}")
    iid = slow_kit.create(slow_kit.url(flood=1 << 40, width=FLOOD_WIDTH))["id"]
    slow_kit.wait_status(iid, "running")
    wait_until(lambda: m.drained > 12 << 20, 15, "12 MiB mirrored")
    rss1, start = status_kb(m.pid, "VmRSS"), m.drained
    wait_until(lambda: m.drained - start > 48 << 20, 20, "48 MiB more mirrored")
    rss2 = status_kb(m.pid, "VmRSS")
    assert slow_kit.get(iid)["status"] == "running"
    print(f"\nslow stdout: RSS {rss1} kB -> {rss2} kB while 48 MiB were mirrored")
    assert rss2 - rss1 < 16 * 1024, f"RSS grew {rss2 - rss1} kB"
