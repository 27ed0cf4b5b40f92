"""HTTPS serving: mode 1 (self-signed), mode 2 (files, reload), the common TLS rules and the
startup errors of bad certificate files (CONTRACT §1, §3, §17).

Certificates are made with the `openssl` command line in temporary directories; the client is
Python's `ssl` module with verification off (mode 1's certificate names nothing).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness import LOG_PREFIX, client_tls_context

LOAD_FAILED = "Main.start: create core failed: Master.new: Master.newServerTLSConfig: load certificate failed: "
HANDSHAKE_ERROR = LOG_PREFIX + r"http: TLS handshake error from 127\.0\.0\.1:(\d+): (.+)$"
RELOAD_ENV = "OPENCTRL_TEST_TLS_RELOAD_SECONDS"


# ----- certificates ------------------------------------------------------------------------------

def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, stdin=subprocess.DEVNULL)


def self_signed(directory: Path, name: str, algorithm: str) -> tuple[Path, Path]:
    """`<name>.crt` and `<name>.key` (PKCS#8, OpenSSL 3's default) for a new key."""
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if algorithm == "ec" else ["-newkey", "rsa:2048"]
    openssl("req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", crt, "-subj", f"/CN={name}", "-days", "2")
    return crt, key


class PKI:
    """Certificates shared by the tests of this module (made once: RSA key generation is slow)."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.ec_crt, self.ec_key = self_signed(directory, "ec", "ec")
        self.other_crt, self.other_key = self_signed(directory, "other", "ec")
        self.rsa_crt, self.rsa_key = self_signed(directory, "rsa", "rsa")
        self.sec1_key = directory / "ec-sec1.key"
        openssl("ec", "-in", self.ec_key, "-out", self.sec1_key)
        self.pkcs1_key = directory / "rsa-pkcs1.key"
        openssl("rsa", "-in", self.rsa_key, "-traditional", "-out", self.pkcs1_key)
        self.encrypted_key = directory / "ec-encrypted.key"
        openssl("pkcs8", "-topk8", "-in", self.ec_key, "-out", self.encrypted_key, "-passout", "pass:secret")
        # A leaf signed by a CA, served with the CA as its chain.
        ca_crt, ca_key = self_signed(directory, "ca", "ec")
        leaf_key, leaf_csr = directory / "leaf.key", directory / "leaf.csr"
        self.leaf_crt = directory / "leaf.crt"
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", leaf_key, "-out", leaf_csr, "-subj", "/CN=leaf")
        openssl("x509", "-req", "-in", leaf_csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                "-out", self.leaf_crt, "-days", "2")
        self.chain_crt = directory / "chain.crt"
        self.chain_crt.write_text(self.leaf_crt.read_text() + ca_crt.read_text())
        self.leaf_key = leaf_key


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


def der(crt: Path) -> bytes:
    """The first certificate of a PEM file, DER-encoded."""
    text = crt.read_text()
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(text[:end] + "\n")


def files_url(crt: Path | str, key: Path | str) -> str:
    return f"?tls=2&crt={crt}&key={key}"


# ----- client helpers ----------------------------------------------------------------------------

def handshake(port: int, ctx: ssl.SSLContext | None = None) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        return (ctx or client_tls_context()).wrap_socket(raw)
    except BaseException:
        raw.close()
        raise


def served_certificate(port: int) -> bytes:
    with handshake(port) as tls:
        return tls.getpeercert(binary_form=True)


def status_line_of_info(tls: ssl.SSLSocket, master) -> bytes:
    """The status line of a `GET /info` written by hand on an established TLS socket."""
    tls.sendall(f"GET {master.base}/info HTTP/1.1\r\nHost: x\r\nX-API-Key: {master.key}\r\n\r\n".encode())
    reply = b""
    while b"\r\n" not in reply:
        chunk = tls.recv(65536)
        assert chunk, f"connection closed early: {reply!r}"
        reply += chunk
    return reply.partition(b"\r\n")[0]


def x509_text(certificate: bytes, *options: str) -> str:
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", *options],
                         input=certificate, capture_output=True, check=True)
    return out.stdout.decode()


def poll(condition, timeout: float = 10.0, interval: float = 0.05):
    """The first truthy value of `condition()` before the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


# ----- mode 1 ------------------------------------------------------------------------------------

def test_self_signed_serves_info_over_https(master):
    master.start("?tls=1")
    assert master.scheme == "https"
    info = master.info()
    assert info["tls"] == "1"
    assert (info["crt"], info["key"]) == ("", "")


def test_plain_http_is_not_served_on_a_tls_port(master):
    master.start("?tls=1")
    with socket.create_connection(("127.0.0.1", master.port), timeout=5) as s:
        s.sendall(f"GET {master.base}/info HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        try:
            answer = s.recv(4096)
        except ConnectionResetError:
            answer = b""
        assert answer == b""
    master.wait_for_log(HANDSHAKE_ERROR)


def test_self_signed_certificate_fields(master):
    master.start("?tls=1")
    certificate = served_certificate(master.port)
    text = x509_text(certificate, "-text")
    assert "Version: 3 (0x2)" in text
    assert re.search(r"(?m)^\s*Subject:\s*$", text), text
    assert re.search(r"(?m)^\s*Issuer:\s*$", text), text
    assert "Public Key Algorithm: id-ecPublicKey" in text and "NIST CURVE: P-256" in text
    assert "Signature Algorithm: ecdsa-with-SHA256" in text
    assert re.search(r"X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n", text), text
    assert re.search(r"X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication\n", text), text
    assert "Subject Alternative Name" not in text and "Basic Constraints" not in text
    serial = int(x509_text(certificate, "-serial").strip().removeprefix("serial="), 16)
    assert serial < 2**128
    dates = dict(line.split("=", 1) for line in x509_text(certificate, "-dates").splitlines())
    not_before = ssl.cert_time_to_seconds(dates["notBefore"])
    not_after = ssl.cert_time_to_seconds(dates["notAfter"])
    assert abs(not_before - time.time()) < 120
    assert not_after - not_before == 365 * 24 * 3600


def test_self_signed_certificate_is_new_at_every_start_and_never_on_disk(master):
    master.start("?tls=1")
    first = served_certificate(master.port)
    assert master.stop() == 0
    master.start("?tls=1")
    second = served_certificate(master.port)
    assert first != second
    for path in master.workdir.rglob("*"):
        if path.is_file():
            assert b"-----BEGIN" not in path.read_bytes(), path
    assert not any(re.search(r"(?i)fingerprint|BEGIN", line) for line in master.stderr_lines())


# ----- mode 2 ------------------------------------------------------------------------------------

KEY_ENCODINGS = [
    ("ec_crt", "ec_key"),  # PKCS#8 EC
    ("ec_crt", "sec1_key"),  # SEC1 EC
    ("rsa_crt", "rsa_key"),  # PKCS#8 RSA
    ("rsa_crt", "pkcs1_key"),  # PKCS#1 RSA
]


@pytest.mark.parametrize("crt_name, key_name", KEY_ENCODINGS, ids=["pkcs8-ec", "sec1-ec", "pkcs8-rsa", "pkcs1-rsa"])
def test_files_serve_info_over_https(master, pki, crt_name, key_name):
    crt, key = getattr(pki, crt_name), getattr(pki, key_name)
    master.start(files_url(crt, key))
    assert master.scheme == "https"
    assert served_certificate(master.port) == der(crt)
    info = master.info()
    assert (info["tls"], info["crt"], info["key"]) == ("2", str(crt), str(key))


def test_files_serve_the_whole_chain(master, pki):
    master.start(files_url(pki.chain_crt, pki.leaf_key))
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{master.port}", "-showcerts"],
        input=b"", capture_output=True, timeout=10,
    ).stdout.decode()
    assert out.count("-----BEGIN CERTIFICATE-----") == 2, out
    assert served_certificate(master.port) == der(pki.leaf_crt)


def bad_files(tmp: Path) -> dict[str, Path]:
    """Files that are not what they claim to be."""
    tmp.mkdir()
    contents = {
        "empty": "",
        "not-pem": "this is no PEM data\n",
        "corrupt-key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "corrupt-crt": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "no-certificate": "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"
                          "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    }
    files = {"missing": tmp / "missing.pem", "directory": tmp}
    for name, text in contents.items():
        files[name] = tmp / f"{name}.pem"
        files[name].write_text(text)
    return files


# (id, URL suffix, expected reason after `load certificate failed: `), built from the PKI and the
# bad files; a reason ending in `...` is a prefix followed by OpenSSL's own reason.
STARTUP_ERRORS = [
    ("crt-and-key-empty", lambda p, b: ("?tls=2", "open : no such file or directory")),
    ("key-param-missing", lambda p, b: (f"?tls=2&crt={p.ec_crt}", "open : no such file or directory")),
    ("crt-missing", lambda p, b: (files_url(b["missing"], p.ec_key), f"open {b['missing']}: no such file or directory")),
    ("key-missing", lambda p, b: (files_url(p.ec_crt, b["missing"]), f"open {b['missing']}: no such file or directory")),
    ("crt-is-a-directory", lambda p, b: (files_url(b["directory"], p.ec_key), f"read {b['directory']}: is a directory")),
    ("key-of-another-certificate", lambda p, b: (files_url(p.ec_crt, p.other_key),
                                                 "tls: private key does not match public key")),
    ("rsa-key-for-ec-certificate", lambda p, b: (files_url(p.ec_crt, p.rsa_key),
                                                 "tls: private key type does not match public key type")),
    ("files-swapped", lambda p, b: (files_url(p.ec_key, p.ec_crt),
                                    "tls: failed to find certificate PEM data in certificate input, but did find "
                                    "a private key; PEM inputs may have been switched")),
    ("key-is-the-certificate", lambda p, b: (files_url(p.ec_crt, p.ec_crt),
                                             "tls: found a certificate rather than a key in the PEM for the private key")),
    ("crt-empty", lambda p, b: (files_url(b["empty"], p.ec_key), "tls: failed to find any PEM data in certificate input")),
    ("crt-without-certificate", lambda p, b: (files_url(b["no-certificate"], p.ec_key),
                                              'tls: failed to find "CERTIFICATE" PEM block in certificate input after '
                                              "skipping PEM blocks of the following types: [X509 CRL PUBLIC KEY]")),
    ("key-not-pem", lambda p, b: (files_url(p.ec_crt, b["not-pem"]), "tls: failed to find any PEM data in key input")),
    ("key-corrupt", lambda p, b: (files_url(p.ec_crt, b["corrupt-key"]), "tls: failed to parse private key: ...")),
    ("key-encrypted", lambda p, b: (files_url(p.ec_crt, p.encrypted_key), "tls: failed to parse private key: ...")),
    ("crt-corrupt", lambda p, b: (files_url(b["corrupt-crt"], p.ec_key), "x509: malformed certificate: ...")),
]


@pytest.mark.parametrize("build", [c[1] for c in STARTUP_ERRORS], ids=[c[0] for c in STARTUP_ERRORS])
def test_bad_certificate_files_are_startup_errors(master, pki, tmp_path, build):
    suffix, reason = build(pki, bad_files(tmp_path / "bad"))
    run = master.spawn([f"master://127.0.0.1:0{suffix}"])
    assert master.wait_for_failure(run, suffix) == 1, master.stderr_text()
    assert master.stdout_lines() == []
    assert master.stderr_lines() == [master.stderr_lines()[-1]], "only the envelope is printed"
    env = master.envelope()
    assert env["pid"] == run.proc.pid
    if reason.endswith("..."):
        assert env["message"].startswith(LOAD_FAILED + reason[:-3]), env["message"]
        assert len(env["message"]) > len(LOAD_FAILED + reason[:-3]), "the OpenSSL reason follows"
    else:
        assert env["message"] == LOAD_FAILED + reason
    assert not master.primary.exists(), "a rejected certificate must not create state"


def test_unreadable_certificate_file(master, pki, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    crt = tmp_path / "locked.crt"
    shutil.copy(pki.ec_crt, crt)
    crt.chmod(0)
    run = master.spawn([f"master://127.0.0.1:0{files_url(crt, pki.ec_key)}"])
    assert master.wait_for_failure(run, "unreadable crt") == 1
    assert master.envelope()["message"] == LOAD_FAILED + f"open {crt}: permission denied"


# ----- common TLS rules --------------------------------------------------------------------------

def test_keep_alive_serves_two_requests_on_one_tls_connection(master):
    master.start("?tls=1")
    conn = master.connection()
    try:
        sockets = []
        for _ in range(2):
            conn.request("GET", master.base + "/info", headers={"X-API-Key": master.key})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, body
            assert not resp.will_close
            sockets.append(conn.sock)
        assert sockets[0] is sockets[1]
        assert sockets[0].version() == "TLSv1.3"
    finally:
        conn.close()


def test_tls12_is_refused_and_logged(master):
    master.start("?tls=1")
    ctx = client_tls_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", master.port), timeout=5)
    port = raw.getsockname()[1]
    with raw, pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw)
    m = master.wait_for_log(HANDSHAKE_ERROR)
    assert int(m.group(1)) == port
    assert m.group(2) == "unsupported protocol"


@pytest.mark.parametrize(
    "offered, selected",
    [(["h2", "http/1.1"], "http/1.1"), (["http/1.1"], "http/1.1"), (["h2"], None), (None, None)],
    ids=["h2-and-http1.1", "http1.1", "h2-only-falls-back", "no-alpn"],
)
def test_alpn_negotiates_http11_only(master, offered, selected):
    master.start("?tls=1")
    ctx = client_tls_context()
    if offered:
        ctx.set_alpn_protocols(offered)
    with handshake(master.port, ctx) as tls:
        assert tls.selected_alpn_protocol() == selected
        assert tls.version() == "TLSv1.3"
        assert status_line_of_info(tls, master) == b"HTTP/1.1 200 OK"


def test_peers_that_close_or_reset_during_the_handshake_are_not_logged(master):
    master.start("?tls=1")
    partial_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    for payload in (b"", partial_hello):
        for reset in (False, True):
            with socket.create_connection(("127.0.0.1", master.port), timeout=5) as s:
                if payload:
                    s.sendall(payload)
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # A client that completes the handshake and leaves without a word is no failure either.
    handshake(master.port).close()
    # A refused TLS 1.2 hello is logged; once its line is out, the earlier peers were handled.
    ctx = client_tls_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", master.port), timeout=5)
    port = raw.getsockname()[1]
    with raw, pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw)
    master.wait_for_log(HANDSHAKE_ERROR)
    assert master.info()["tls"] == "1"
    logged = [m for m in map(re.compile(HANDSHAKE_ERROR).search, master.stderr_lines()) if m]
    assert [int(m.group(1)) for m in logged] == [port], master.stderr_text()


def test_a_stalled_handshake_is_cut_by_the_header_deadline(master):
    master.env["OPENCTRL_TEST_HTTP_TIMEOUTS"] = "1,1,1"
    master.start("?tls=1")
    with socket.create_connection(("127.0.0.1", master.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01")
        began = time.monotonic()
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - began < 4
    assert master.info()["tls"] == "1"
    assert not any("TLS handshake error" in line for line in master.stderr_lines())


# ----- mode 2 reload -----------------------------------------------------------------------------

def live_pair(tmp_path: Path, crt: Path, key: Path) -> tuple[Path, Path]:
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(crt, live / "server.crt")
    shutil.copy(key, live / "server.key")
    return live / "server.crt", live / "server.key"


def replace_file(target: Path, source: Path | bytes) -> None:
    """Atomically puts new contents in place, as deployment tools do."""
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(source if isinstance(source, bytes) else source.read_bytes())
    os.replace(tmp, target)


def test_reload_serves_the_new_certificate(master, pki, tmp_path):
    crt, key = live_pair(tmp_path, pki.ec_crt, pki.ec_key)
    master.env[RELOAD_ENV] = "0.5"
    master.start(files_url(crt, key))
    assert served_certificate(master.port) == der(pki.ec_crt)
    replace_file(key, pki.other_key)
    replace_file(crt, pki.other_crt)
    poll(lambda: served_certificate(master.port) == der(pki.other_crt))
    master.wait_for_log(LOG_PREFIX + re.escape(f"Master.newServerTLSConfig: certificate reloaded: {crt}") + "$")
    assert served_certificate(master.port) == der(pki.other_crt)
    assert master.info()["tls"] == "2"


def test_no_reload_before_the_interval(master, pki, tmp_path):
    crt, key = live_pair(tmp_path, pki.ec_crt, pki.ec_key)
    master.start(files_url(crt, key))
    replace_file(key, pki.other_key)
    replace_file(crt, pki.other_crt)
    for _ in range(3):
        assert served_certificate(master.port) == der(pki.ec_crt)
    assert master.info()["tls"] == "2"
    assert not any("Master.newServerTLSConfig" in line for line in master.stderr_lines())


def test_failed_reload_keeps_the_old_certificate_and_waits_an_interval(master, pki, tmp_path):
    crt, key = live_pair(tmp_path, pki.ec_crt, pki.ec_key)
    interval = 0.5
    master.env[RELOAD_ENV] = str(interval)
    master.start(files_url(crt, key))
    replace_file(crt, b"garbage\n")
    failed = LOG_PREFIX + re.escape(
        "Master.newServerTLSConfig: certificate reload failed: "
        "tls: failed to find any PEM data in certificate input") + "$"
    # Handshakes keep coming for several intervals; each is served the old certificate.
    deadline = time.monotonic() + 4 * interval
    while time.monotonic() < deadline:
        assert served_certificate(master.port) == der(pki.ec_crt)
    master.wait_for_log(failed)
    with master.run.cond:
        times = [t for t, line in master.run.lines["stderr"] if re.search(failed, line)]
    assert 2 <= len(times) <= 5, master.stderr_text()
    assert all(b - a >= interval - 0.1 for a, b in zip(times, times[1:])), times
    assert not any("certificate reloaded" in line for line in master.stderr_lines())
    # Repaired files are picked up at the next due attempt.
    replace_file(key, pki.other_key)
    replace_file(crt, pki.other_crt)
    poll(lambda: served_certificate(master.port) == der(pki.other_crt))
    master.wait_for_log(LOG_PREFIX + re.escape(f"Master.newServerTLSConfig: certificate reloaded: {crt}") + "$")
