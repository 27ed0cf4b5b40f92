"""systemd's notification protocol (CONTRACT §22.6), with a Python datagram socket standing in for
the service manager: READY=1 only once the port answers, WATCHDOG=1 at half of WATCHDOG_USEC
(honouring WATCHDOG_PID), STOPPING=1 on SIGTERM before the exit, path and abstract sockets, a
missing socket harmless, and no child ever seeing the three variables."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from instances_helpers import kit, read_pidfile  # noqa: F401

VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Manager:
    """A datagram socket that records what arrives and when."""

    def __init__(self, address: str, bind_to):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []

    def collect(self, until, timeout: float) -> list[tuple[float, str]]:
        deadline = time.monotonic() + timeout
        while not until(self.messages) and time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.append((time.monotonic(), data.decode()))
        return self.messages

    def close(self):
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def manager(request, tmp_path):
    if request.param == "path":
        path = str(tmp_path / "notify.sock")
        m = Manager(path, path)
    else:
        name = f"openctrl-test-{os.getpid()}-{time.monotonic_ns()}"
        m = Manager("@" + name, "\0" + name)
    yield m
    m.close()


def test_ready_after_the_port_answers_and_stopping_before_exit(kit, manager):
    kit.m.env["NOTIFY_SOCKET"] = manager.address
    m = kit.start()
    messages = manager.collect(lambda ms: any("READY=1" in t for _, t in ms), 5)
    ready = [t for _, t in messages if "READY=1" in t]
    assert len(ready) == 1, messages
    lines = ready[0].split("\n")
    assert lines[0] == "READY=1"
    assert lines[1] == f"STATUS=serving http://127.0.0.1:{m.port}{m.base}, 0 instances"
    # The harness saw the key line before we looked: the port answers.
    assert m.info()["ver"] is not None
    m.send_signal(signal.SIGTERM)
    manager.collect(lambda ms: any(t == "STOPPING=1" for _, t in ms), 5)
    assert m.wait_exit() == 0
    stopping = [when for when, t in manager.messages if t == "STOPPING=1"]
    assert len(stopping) == 1, manager.messages


def test_ready_counts_instances_without_the_key_record(kit, manager):
    m = kit.start(with_bin=False)
    for i in range(3):
        kit.create(kit.url(n=i))
    assert m.stop() == 0
    kit.m.env["NOTIFY_SOCKET"] = manager.address
    m = kit.start(with_bin=False)
    messages = manager.collect(lambda ms: any("READY=1" in t for _, t in ms), 5)
    assert any(t.endswith(", 3 instances") for _, t in messages), messages


def test_watchdog_at_half_the_period(kit, manager):
    kit.m.env["NOTIFY_SOCKET"] = manager.address
    kit.m.env["WATCHDOG_USEC"] = "400000"
    kit.start()
    messages = manager.collect(lambda ms: sum(t == "WATCHDOG=1" for _, t in ms) >= 6, 5)
    pings = [when for when, t in messages if t == "WATCHDOG=1"]
    assert len(pings) >= 6, messages
    gaps = [b - a for a, b in zip(pings[1:], pings[2:])]
    assert all(0.15 <= g <= 0.35 for g in gaps), gaps


def test_watchdog_for_another_pid_is_not_ours(kit, manager):
    kit.m.env["NOTIFY_SOCKET"] = manager.address
    kit.m.env["WATCHDOG_USEC"] = "200000"
    kit.m.env["WATCHDOG_PID"] = "1"
    kit.start()
    messages = manager.collect(lambda ms: False, 1.0)
    assert any("READY=1" in t for _, t in messages)
    assert not any(t == "WATCHDOG=1" for _, t in messages), messages


def test_children_never_see_the_variables(kit, manager):
    kit.m.env["NOTIFY_SOCKET"] = manager.address
    kit.m.env["WATCHDOG_USEC"] = "10000000"
    kit.m.env["WATCHDOG_PID"] = "1"
    kit.start()
    pidfile = kit.pidfile()
    iid = kit.create(kit.url(pidfile=pidfile))["id"]
    kit.wait_status(iid, "running")
    pid, _ = read_pidfile(pidfile)
    with open(f"/proc/{pid}/environ", "rb") as f:
        names = {entry.split(b"=", 1)[0].decode() for entry in f.read().split(b"\0") if entry}
    assert not names & set(VARIABLES), names
    assert "PATH" in names


def test_a_missing_socket_is_harmless(kit, tmp_path):
    kit.m.env["NOTIFY_SOCKET"] = str(tmp_path / "nobody-listens")
    kit.m.env["WATCHDOG_USEC"] = "100000"
    m = kit.start()
    time.sleep(0.3)
    assert m.info()["ver"] is not None
    m.send_signal(signal.SIGTERM)
    assert m.wait_exit() == 0
