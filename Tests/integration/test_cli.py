"""Command line, master URL parsing, startup errors and signal-driven shutdown (CONTRACT §1, §2,
§17, §18)."""

from __future__ import annotations

import re
import signal
import socket
import time

import pytest

from harness import LOG_PREFIX, SEMVER, go_arch, run_cli

USAGE = b"openctrl <configuration URL>\n"
UNKNOWN_CORE = "Main.start: create core failed: Main.createCore: unknown core: "
TLS_MODE = "Main.start: create core failed: Master.new: Master.newServerTLSConfig: invalid tls mode"
RESOLVE = "Main.start: create core failed: Master.new: resolve host failed: "
PREFIX = "Main.start: create core failed: Master.new: invalid API prefix: "
PARSE = "Main.start: parse command failed: "


def version_line(exe) -> str:
    out = run_cli(exe, "version")
    assert out.returncode == 0
    return out.stdout.decode()


def fail_with(master, args: list[str]) -> dict:
    """Run the master with `args`, require exit 1 with only the envelope on stderr."""
    run = master.spawn(args)
    code = master.wait_for_failure(run, repr(args))
    assert code == 1, master.stderr_text()
    assert master.stdout_lines() == []
    env = master.envelope()
    assert env["pid"] == run.proc.pid
    assert env["os"] == "linux"
    assert env["arch"] == go_arch()
    assert env["version"] == version_line(master.exe).split(" ")[0].removeprefix("openctrl-")
    return env


def test_no_argument_is_an_error(master):
    env = fail_with(master, [])
    assert env["message"] == "Main.start: missing configuration URL argument"
    assert master.stderr_lines() == [master.stderr_lines()[-1]]


@pytest.mark.parametrize("arg", ["help", "--help", "-h"])
@pytest.mark.parametrize("extra", [[], ["extra", "--version"]])
def test_help_prints_usage(exe, arg, extra):
    out = run_cli(exe, arg, *extra)
    assert out.returncode == 0
    assert out.stdout == USAGE
    assert out.stderr == b""


@pytest.mark.parametrize("arg", ["version", "--version", "-v"])
@pytest.mark.parametrize("extra", [[], ["help"]])
def test_version_prints_semver_and_platform(exe, arg, extra):
    out = run_cli(exe, arg, *extra)
    assert out.returncode == 0
    assert out.stderr == b""
    text = out.stdout.decode()
    assert re.fullmatch(r"openctrl-" + SEMVER + r" linux/" + re.escape(go_arch()) + r"\n", text), text
    assert "dev" not in text


def test_version_variants_agree(exe):
    outs = {run_cli(exe, arg).stdout for arg in ("version", "--version", "-v")}
    assert len(outs) == 1


@pytest.mark.parametrize("arg", ["HELP", "Help", "-H", "--HELP", "VERSION", "-V", ""])
def test_near_misses_are_parsed_as_urls(master, arg):
    env = fail_with(master, [arg])
    assert env["message"] == UNKNOWN_CORE + arg


BAD_URLS = [
    ("http://127.0.0.1:1", UNKNOWN_CORE + "http://127.0.0.1:1"),
    ("managed://edge-a", UNKNOWN_CORE + "managed://edge-a"),
    ("portal://user@host:1/x?y=1", UNKNOWN_CORE + "portal://user@host:1/x?y=1"),
    ("master://127.0.0.1", RESOLVE + "address 127.0.0.1: missing port in address"),
    ("master://127.0.0.1:1?tls=3", TLS_MODE),
    ("master://127.0.0.1:1?tls=01", TLS_MODE),
    ("master://127.0.0.1:1?tls=true", TLS_MODE),
    ("master://127.0.0.1:1?tls=%201", TLS_MODE),
    ("master://127.0.0.1:0/{x}", PREFIX + "/{x}"),
    ("master://127.0.0.1:0/a/../b", PREFIX + "/a/../b"),
    ("master://127.0.0.1:0/a/./b", PREFIX + "/a/./b"),
    ("master://127.0.0.1:0/a//b", PREFIX + "/a//b"),
    ("master://[::1", PARSE + 'parse "master://[::1": missing \']\' in host'),
    (":8080", PARSE + 'parse ":8080": missing protocol scheme'),
    ("master://127.0.0.1:-1", PARSE + 'parse "master://127.0.0.1:-1": invalid port ":-1" after host'),
    (
        "master://127.0.0.1:1?tls=2",
        "Main.start: create core failed: Master.new: Master.newServerTLSConfig: "
        "load certificate failed: open : no such file or directory",
    ),
]


@pytest.mark.parametrize("url, message", BAD_URLS, ids=[u for u, _ in BAD_URLS])
def test_bad_url_exact_message(master, url, message):
    env = fail_with(master, [url])
    assert env["message"] == message
    assert not master.primary.exists(), "a rejected command line must not create state"


@pytest.mark.parametrize("url", ["master:127.0.0.1:8080", "master://127.0.0.1:65536", "master://127.0.0.1:"])
def test_unresolvable_listen_address(master, url):
    env = fail_with(master, [url])
    assert env["message"].startswith(RESOLVE), env["message"]
    assert len(env["message"]) > len(RESOLVE)


def test_api_prefix_with_encoded_space_is_rejected(master):
    env = fail_with(master, ["master://127.0.0.1:0/a%20b"])
    assert env["message"].startswith(PREFIX), env["message"]
    assert env["message"][len(PREFIX):] in ("/a b", "/a%20b")


def test_control_character_in_url(master):
    env = fail_with(master, ["master://127.0.0.1:1/\x01"])
    msg = env["message"]
    assert msg.startswith(PARSE + 'parse "master://127.0.0.1:1/'), msg
    assert msg.endswith('": net/url: invalid control character in URL'), msg


def test_tls_files_missing(master):
    env = fail_with(master, ["master://127.0.0.1:1?tls=2&crt=/nonexistent/c.pem&key=/nonexistent/k.pem"])
    prefix = "Main.start: create core failed: Master.new: Master.newServerTLSConfig: load certificate failed: "
    assert env["message"].startswith(prefix), env["message"]
    assert "/nonexistent/" in env["message"]


@pytest.mark.parametrize(
    "suffix, base",
    [
        ("", "/api/v2"),
        ("/", "/api/v2"),
        ("//", "/api/v2"),
        ("/control", "/control/v2"),
        ("/control///", "/control/v2"),
        ("/a/b", "/a/b/v2"),
        ("/a-b_c.d~e", "/a-b_c.d~e/v2"),
    ],
)
def test_api_base_from_url_path(master, suffix, base):
    master.start(suffix)
    assert master.base == base
    assert master.api("GET", "/info").status == 200


@pytest.mark.parametrize(
    "url, base",
    [
        ("MASTER://127.0.0.1:0", "/api/v2"),
        ("Master://127.0.0.1:0/ctl#frag", "/ctl/v2"),
        ("master://user:pw@127.0.0.1:0/ctl", "/ctl/v2"),
    ],
)
def test_scheme_case_userinfo_and_fragment(master, url, base):
    master.start(url=url)
    assert master.base == base
    assert master.api("GET", "/info").status == 200


def test_started_line_reports_the_bound_port(started):
    with socket.create_connection(("127.0.0.1", started.port), timeout=2):
        pass
    lines = [l for l in started.stderr_lines() if " Master.run: started: " in l]
    assert lines == [f"{lines[0][:19]} Master.run: started: http://127.0.0.1:{started.port}/api/v2"]
    assert started.port != 0


def test_port_in_use_is_a_startup_error(master):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        run = master.spawn([f"master://127.0.0.1:{port}"])
        code = master.wait_for_failure(run, "a busy port")
    assert code == 1, master.stderr_text()
    env = master.envelope()
    assert env["pid"] == run.proc.pid
    assert env["message"].startswith("Master.run: listen failed: "), env["message"]
    assert len(env["message"]) > len("Master.run: listen failed: ")
    assert not any(" Master.run: started: " in l for l in master.stderr_lines())


def test_extra_arguments_are_ignored(master):
    master.start(extra_args=("extra", "--tls=9", "help"))
    assert master.api("GET", "/info").status == 200


def test_runtime_binary_warning(master):
    master.start("?bin=/nonexistent/runtime-bin")
    master.wait_for_log(LOG_PREFIX + r"Master\.new: runtime binary not executable: /nonexistent/runtime-bin$", 1)


def test_runtime_binary_on_path_is_not_warned_about(master):
    master.start("?bin=sh")
    assert not any("runtime binary not executable" in l for l in master.stderr_lines())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_shutdown(started, sig):
    assert started.stop(sig) == 0
    lines = started.stderr_lines()
    saved = f"Master.shutdown: state saved: {started.primary}"
    assert any(re.fullmatch(LOG_PREFIX + re.escape(saved), l) for l in lines), "\n".join(lines)
    assert re.fullmatch(LOG_PREFIX + r"Master\.run: shutdown complete", lines[-1]), "\n".join(lines)
    saved_at = next(i for i, l in enumerate(lines) if l.endswith(saved))
    assert saved_at < len(lines) - 1


def test_log_lines_are_timestamped_and_hide_the_key(started):
    started.api("POST", "/info", body=b'{"alias":"x"}')
    assert started.stop() == 0
    now = time.time()
    for line in started.stderr_lines():
        assert re.match(LOG_PREFIX, line), line
        stamp = time.mktime(time.strptime(line[:19], "%Y/%m/%d %H:%M:%S"))
        assert abs(stamp - now) < 120, line
        if started.key in line:
            assert re.fullmatch(LOG_PREFIX + r"Master\.run: API key created: " + started.key, line), line
    assert started.stdout_lines() == []


def test_envelope_format_is_a_single_line(master):
    env = fail_with(master, ["http://x"])
    assert master.stderr_lines() == [
        f"openctrl-{env['version']} linux/{go_arch()} pid={master.pid} error={UNKNOWN_CORE}http://x"
    ]
