"""`GET/POST <P>/info`: shape, metrics, alias rules, body limits and durability (CONTRACT §7, §8.1,
§8.2, §15, §20, §21.4)."""

from __future__ import annotations

import json
import os
import re
import select
import time

import pytest

from harness import SEMVER, assert_error, assert_json, go_arch, run_cli

FIELDS = ["alias", "arch", "cpu", "crt", "diskr", "diskw", "key", "log", "mem_total", "mem_used", "mid",
          "name", "netrx", "nettx", "noc", "os", "swap_total", "swap_used", "sysup", "tls", "uptime", "ver"]
UINT_FIELDS = ["diskr", "diskw", "mem_total", "mem_used", "netrx", "nettx", "swap_total", "swap_used",
               "sysup", "uptime"]
BAD_BODY = "Invalid request body"
TOO_LONG = "Master alias exceeds maximum length 256"
MIB = 1 << 20


def ordered(body: bytes) -> list[tuple[str, object]]:
    return json.loads(body, object_pairs_hook=list)


def meminfo() -> dict[str, int]:
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, _, rest = line.partition(":")
            out[name] = int(rest.split()[0])
    return out


def post_alias(m, body: bytes):
    return m.api("POST", "/info", body=body)


# ----- shape ---------------------------------------------------------------------------------
def test_info_shape_and_key_order(master):
    master.start("?crt=/x.pem&key=/y.pem")
    r = master.api("GET", "/info")
    assert_json(r, 200)
    pairs = ordered(r.body)
    keys = [k for k, _ in pairs]
    assert keys == FIELDS
    assert keys == sorted(keys, key=lambda k: k.encode())
    info = dict(pairs)
    assert r.body == json.dumps(info, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    for name in UINT_FIELDS + ["cpu", "noc"]:
        assert type(info[name]) is int, name
    for name in UINT_FIELDS:
        assert 0 <= info[name] < 1 << 64, name
    assert -1 <= info["cpu"] <= 100
    assert info["alias"] == ""
    assert info["arch"] == go_arch()
    assert info["crt"] == "/x.pem"
    assert info["key"] == "/y.pem"
    assert info["log"] == "default"
    assert info["name"] == "127.0.0.1"
    assert info["os"] == "linux"
    assert info["tls"] == "0"
    assert re.fullmatch(r"[0-9a-f]{16}", info["mid"])
    assert re.fullmatch(SEMVER, info["ver"]) and info["ver"] != "dev"
    version = run_cli(master.exe, "version").stdout.decode().split(" ")[0]
    assert version == "openctrl-" + info["ver"]
    assert master.key not in r.body.decode()


def test_info_metrics_match_the_host(started):
    info = started.info()
    mem = meminfo()
    assert info["noc"] == len(os.sched_getaffinity(0)) >= 1
    assert info["mem_total"] == mem["MemTotal"] * 1024 > 0
    assert 0 < info["mem_used"] <= info["mem_total"]
    assert info["swap_total"] == mem["SwapTotal"] * 1024
    assert 0 <= info["swap_used"] <= info["swap_total"]
    with open("/proc/uptime") as f:
        host_up = float(f.read().split()[0])
    assert info["sysup"] > 0
    assert abs(info["sysup"] - host_up) <= 2
    assert 0 <= info["uptime"] < 10


def test_uptime_is_non_decreasing(started):
    first = started.info()["uptime"]
    second = started.info()["uptime"]
    assert first <= second < 10


def test_cpu_sample_appears_within_seconds(started):
    deadline = time.monotonic() + 3.5
    while True:
        cpu = started.info()["cpu"]
        assert -1 <= cpu <= 100
        if cpu >= 0:
            break
        assert time.monotonic() < deadline, "cpu stayed -1 for more than 3.5 s"
        select.select([], [], [], 0.1)


def test_info_host_name_is_the_url_host(master):
    master.start(url="master://localhost:0")
    assert master.info()["name"] == "localhost"


# ----- POST alias ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, alias",
    [
        (b'{"alias":"x"}', "x"),
        (b'{"ALIAS":"upper"}', "upper"),
        (b'{"Alias":"mixed"}', "mixed"),
        (b'{"alias":"a","alias":"last"}', "last"),
        (b'{"alias":"known","other":[1,{"x":null}]}', "known"),
        (b' \t\n{"alias":"spaced"}\r\n ', "spaced"),
        (b'{"alias":"caf\\u00e9 \\ud83d\\ude00"}', "caf\u00e9 \U0001F600"),
        ('{"alias":"raw \u00e9\u20ac"}'.encode(), "raw \u00e9\u20ac"),
    ],
)
def test_post_sets_alias(started, body, alias):
    r = post_alias(started, body)
    assert_json(r, 200)
    pairs = ordered(r.body)
    assert [k for k, _ in pairs] == FIELDS
    assert dict(pairs)["alias"] == alias
    assert started.info()["alias"] == alias


@pytest.mark.parametrize("body", [b"{}", b"null", b'{"alias":""}', b'{"alias":null}', b" null "])
def test_post_clears_alias(started, body):
    assert post_alias(started, b'{"alias":"set"}').status == 200
    r = post_alias(started, body)
    assert_json(r, 200)
    assert r.json()["alias"] == ""
    assert started.info()["alias"] == ""


def test_alias_is_emitted_with_go_escaping(started):
    r = post_alias(started, b'{"alias":"<a>&\\n\\u2028\\u0001\\"\\\\\\u00e9"}')
    assert_json(r, 200)
    expected = '"alias":"\\u003ca\\u003e\\u0026\\n\\u2028\\u0001\\"\\\\\u00e9"'.encode()
    assert expected in r.body, r.body
    assert expected in started.api("GET", "/info").body


@pytest.mark.parametrize(
    "alias, ok",
    [
        pytest.param("a" * 256, True, id="256-ascii"),
        pytest.param("a" * 257, False, id="257-ascii"),
        pytest.param("\u00e9" * 128, True, id="128x2-bytes"),
        pytest.param("\u00e9" * 128 + "a", False, id="128x2-bytes+1"),
        pytest.param("\u20ac" * 85 + "a", True, id="85x3-bytes+1"),
        pytest.param("\u20ac" * 86, False, id="86x3-bytes"),
        pytest.param("\U0001F600" * 64, True, id="64x4-bytes"),
        pytest.param("\U0001F600" * 64 + "a", False, id="64x4-bytes+1"),
    ],
)
def test_alias_length_counts_bytes(started, alias, ok):
    assert post_alias(started, b'{"alias":"before"}').status == 200
    r = post_alias(started, json.dumps({"alias": alias}, ensure_ascii=False).encode())
    if ok:
        assert_json(r, 200)
        assert r.json()["alias"] == alias
    else:
        assert_error(r, 400, TOO_LONG)
        assert started.info()["alias"] == "before"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"alias":5}',
        b'{"alias":true}',
        b'{"alias":["x"]}',
        b'{"alias":{}}',
        b"{} x",
        b'{"alias":"y"} {}',
        b'{"alias":"y"}]',
        b"[]",
        b'"x"',
        b"5",
        b'{"alias":"\xff"}',
        b'{"alias":"\xc3"}',
        b'{"alias":"\xed\xa0\x80"}',
        b'{"alias":"y"}\xff',
        b"{'alias':'y'}",
        b'{"alias":"y",}',
        b'{"alias":"tab\there"}',
    ],
)
def test_malformed_body_is_rejected(started, body):
    assert post_alias(started, b'{"alias":"keep"}').status == 200
    assert_error(post_alias(started, body), 400, BAD_BODY)
    assert started.info()["alias"] == "keep"


def test_alias_survives_restart(master):
    master.start()
    key, mid = master.key, master.info()["mid"]
    assert post_alias(master, b'{"alias":"persisted \xc3\xa9"}').status == 200
    assert master.stop() == 0
    master.start()
    assert master.key_event == "loaded"
    assert master.key == key
    info = master.info()
    assert (info["mid"], info["alias"]) == (mid, "persisted \u00e9")


def test_kill9_after_ack_keeps_alias(master):
    master.start()
    key = master.key
    for n in range(4):
        alias = f"acked-{n}-" + "z" * n
        assert post_alias(master, json.dumps({"alias": alias}).encode()).status == 200
        master.kill9()
        master.start()
        assert master.key == key
        assert master.info()["alias"] == alias, f"round {n}"


# ----- request limits ------------------------------------------------------------------------
def test_body_of_exactly_one_mib_is_accepted(started):
    body = b'{"alias":"big"}'
    body += b" " * (MIB - len(body))
    assert_json(post_alias(started, body), 200)
    assert started.info()["alias"] == "big"


def send_oversized(started, declared: int) -> bytes:
    """Stream a body larger than the limit, stopping as soon as the server answers, and return
    whatever the server sent back."""
    head = (f"POST {started.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {started.key}\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    got = b""
    with started.raw(timeout=5) as c:
        c.send(head)
        sent = 0
        deadline = time.monotonic() + 10
        try:
            while sent < declared and time.monotonic() < deadline:
                readable, writable, _ = select.select([c.sock], [c.sock], [], deadline - time.monotonic())
                if readable:
                    break
                if writable:
                    sent += c.sock.send(b" " * min(65536, declared - sent))
            while b"\r\n\r\n" not in got:
                data = c.sock.recv(65536)
                if not data:
                    break
                got += data
        except (ConnectionError, TimeoutError):
            pass
    return got


@pytest.mark.parametrize("declared", [MIB + 1, 8 * MIB])
def test_body_over_one_mib_is_413(started, declared):
    got = send_oversized(started, declared)
    assert got.startswith(b"HTTP/1.1 413 "), got[:200]
    if b"application/json" in got.split(b"\r\n\r\n")[0]:
        assert got.split(b"\r\n\r\n", 1)[1].startswith(b'{"error":"Request body too large"}\n')
    assert started.api("GET", "/info").status == 200
    assert started.alive()


def test_expect_continue_with_oversized_length_is_refused_early(started):
    with started.raw() as c:
        c.send(
            f"POST {started.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {started.key}\r\n"
            f"Content-Length: {2 * MIB}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        r = c.read_response(timeout=3)
    assert r.status == 413
    assert started.api("GET", "/info").status == 200


def test_headers_under_the_limit_are_accepted(started):
    r = started.api("GET", "/info", headers={"X-Pad": "p" * 12000})
    assert r.status == 200


@pytest.mark.parametrize("shape", ["one-header", "many-headers"])
def test_headers_over_16k_are_refused(started, shape):
    if shape == "one-header":
        pad = "X-Pad: " + "p" * 20000 + "\r\n"
    else:
        pad = "".join(f"X-Pad-{i}: " + "q" * 100 + "\r\n" for i in range(200))
    req = f"GET {started.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {started.key}\r\n{pad}\r\n".encode()
    with started.raw(timeout=5) as c:
        try:
            c.send(req)
            r = c.read_response(timeout=5)
            assert 400 <= r.status < 500 and r.status != 404, r.status
        except (EOFError, ConnectionError):
            pass
    assert started.api("GET", "/info").status == 200
    assert started.alive()
