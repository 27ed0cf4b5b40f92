"""scripts/install and the systemd unit (issue 12): the unit verifies with the real
`systemd-analyze verify`, the installed binary runs with its state beside it, a second install
keeps that state, and --uninstall removes what was installed and leaves the state."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from harness import REPO, Master, binary_path

INSTALL = REPO / "scripts" / "install"


def install(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENCTRL_BIN": str(binary_path())}
    done = subprocess.run([str(INSTALL), *args], capture_output=True, text=True, env=env, timeout=600,
                          stdin=subprocess.DEVNULL)
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def verify(unit) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          cwd=unit.parent)


def test_install_writes_a_unit_that_verifies(tmp_path):
    prefix = tmp_path / "opt"
    done = install("--prefix", str(prefix), "--url", "master://127.0.0.1:9090/ctl?log=info")
    unit = prefix / "openctrl.service"
    text = unit.read_text()
    assert f"ExecStart={prefix}/bin/openctrl 'master://127.0.0.1:9090/ctl?log=info'\n" in text
    assert f"ReadWritePaths={prefix}/bin/gob\n" in text
    for line in ("Type=notify", "WatchdogSec=30s", "Restart=on-failure", "KillMode=mixed", "TimeoutStopSec=30s",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "LimitNOFILE=65536"):
        assert line + "\n" in text, line
    assert "@" not in text.replace("multi-user.target", "")
    assert "systemctl enable --now openctrl" in done.stdout and "journalctl -u openctrl | grep 'API key'" in done.stdout
    checked = verify(unit)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
    # The control: systemd-analyze does complain about a broken unit.
    broken = tmp_path / "broken" / "openctrl.service"
    broken.parent.mkdir()
    broken.write_text(text.replace("Type=notify", "Type=bogus"))
    assert "bogus" in verify(broken).stderr


def test_installed_binary_runs_with_its_state_beside_it_and_keeps_it(tmp_path):
    prefix = tmp_path / "opt"
    install("--prefix", str(prefix))
    exe = prefix / "bin" / "openctrl"
    assert stat.S_IMODE(exe.stat().st_mode) == 0o755
    assert (prefix / "bin" / "openctrl-demo-runtime").exists()
    assert stat.S_IMODE((prefix / "bin" / "gob").stat().st_mode) == 0o700
    assert "?bin=" + str(prefix / "bin" / "openctrl-demo-runtime") in (prefix / "openctrl.service").read_text()

    (tmp_path / "run").mkdir()
    m = Master(tmp_path / "run")
    m.exe = exe
    try:
        m.start()
        key = m.key
        assert m.stop() == 0
    finally:
        m.cleanup()
    state = (prefix / "bin" / "gob" / "openctrl.gob").read_bytes()
    assert key.encode() in state

    again = install("--prefix", str(prefix))
    assert "keeping the existing state" in again.stdout
    assert (prefix / "bin" / "gob" / "openctrl.gob").read_bytes() == state

    gone = install("--prefix", str(prefix), "--uninstall")
    assert not exe.exists() and not (prefix / "openctrl.service").exists()
    assert not (prefix / "bin" / "openctrl-demo-runtime").exists()
    assert (prefix / "bin" / "gob" / "openctrl.gob").read_bytes() == state
    assert "kept the state" in gone.stdout


@pytest.mark.parametrize("args", [["--url", "http://x"], ["--prefix", "with space"], ["--bogus"]])
def test_bad_arguments_are_refused(tmp_path, args):
    done = install(*args, check=False)
    assert done.returncode == 2 and done.stderr.startswith("install: "), done.stderr
