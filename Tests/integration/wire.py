"""HTTP on the wire: response objects, a raw-socket client, and the header/body checks shared by
the tests (CONTRACT §5, §7.1)."""

from __future__ import annotations

import http.client
import io
import json
import select
import socket
import time
from typing import NamedTuple

HTTP_TIMEOUT = 5.0

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, PATCH, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, X-API-Key, Cache-Control",
}


class Resp(NamedTuple):
    """One HTTP response; unpacks as (status, headers, body)."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    def header_values(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


def _parse_head(head: bytes) -> tuple[int, http.client.HTTPMessage]:
    status_line, _, rest = head.partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"bad status line: {status_line!r}")
    headers = http.client.parse_headers(io.BytesIO(rest + b"\r\n"))
    return int(parts[1]), headers


class RawConn:
    """A plain socket for requests http.client cannot express: exact bytes, pipelining,
    `Expect: 100-continue`, partial bodies."""

    def __init__(self, port: int, timeout: float = HTTP_TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on EOF. Raises TimeoutError past the deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from server before deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as exc:
            raise TimeoutError("no data from server before deadline") from exc
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise EOFError(f"connection closed after {len(self.buf)} of {n} body bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request: bool = False, timeout: float = HTTP_TIMEOUT) -> Resp:
        """Parse one response (a 1xx interim response is returned as such)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise EOFError(f"connection closed before a full response head: {self.buf!r}")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, headers = _parse_head(head)
        if head_request or 100 <= status < 200 or status in (204, 304):
            return Resp(status, headers, b"")
        if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill(deadline):
                        raise EOFError("connection closed inside a chunked body")
                size_line, _, self.buf = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self._take(2, deadline)
                    return Resp(status, headers, body)
                body += self._take(size, deadline)
                self._take(2, deadline)
        length = headers.get("Content-Length")
        if length is not None:
            return Resp(status, headers, self._take(int(length), deadline))
        while self._fill(deadline):
            pass
        body, self.buf = self.buf, b""
        return Resp(status, headers, body)

    def wait_closed(self, timeout: float = HTTP_TIMEOUT) -> bool:
        """True if the server closes the connection (EOF or reset) before the deadline."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            return False
        return True

    def readable(self, timeout: float) -> bool:
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----- shared assertions ---------------------------------------------------------------------
def assert_cors(resp: Resp) -> None:
    """Exactly the three CORS headers of CONTRACT §5, once each, and none of the others."""
    for name, value in CORS_HEADERS.items():
        assert resp.header_values(name) == [value], (name, resp.header_values(name))
    for name in ("Access-Control-Max-Age", "Access-Control-Expose-Headers", "Vary"):
        assert resp.header_values(name) == [], name


def assert_no_cors(resp: Resp) -> None:
    for name in (*CORS_HEADERS, "Access-Control-Max-Age", "Access-Control-Expose-Headers"):
        assert resp.header_values(name) == [], name


def assert_json(resp: Resp, status: int, body: bytes | None = None) -> None:
    """A JSON reply of CONTRACT §7.1: status, bare `application/json`, compact body + one `\\n`."""
    assert resp.status == status, (resp.status, resp.body)
    assert resp.header_values("Content-Type") == ["application/json"], resp.header_values("Content-Type")
    assert resp.body.endswith(b"\n") and not resp.body.endswith(b"\n\n"), resp.body
    assert b"\n" not in resp.body[:-1], resp.body
    assert_cors(resp)
    if body is not None:
        assert resp.body == body, resp.body


def assert_error(resp: Resp, status: int, message: str) -> None:
    assert_json(resp, status, json.dumps({"error": message}, ensure_ascii=False,
                                         separators=(",", ":")).encode() + b"\n")
