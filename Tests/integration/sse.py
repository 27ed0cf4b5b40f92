"""A raw-socket client for `GET <P>/events` (CONTRACT §13): sends the request, de-chunks the
body incrementally and splits it into frames, so the tests see exactly the bytes the master
wrote. A "slow reader" sets a small receive buffer and reads only when told to.
"""

from __future__ import annotations

import http.client
import io
import json
import select
import socket
import ssl
import threading
import time

TIMEOUT = 5.0


class StreamEnded(Exception):
    """The server closed the connection or ended the chunked body."""


def parse_frame(raw: bytes) -> dict:
    """One frame (without its blank line) as {id, event, data, retry, raw, t}: `raw` is the
    frame's exact bytes with its blank line, `data` the decoded JSON when the frame has
    exactly one data line, `t` when it was parsed (monotonic)."""
    fields = []
    for line in raw.split(b"\n"):
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        fields.append((name.decode("latin-1"), value))
    frame = {"id": None, "event": None, "data": None, "retry": None, "raw": raw + b"\n\n",
             "t": time.monotonic()}
    datas = [v for n, v in fields if n == "data"]
    for name, value in fields:
        if name in ("id", "event", "retry"):
            frame[name] = value.decode("utf-8", "replace")
    if len(datas) == 1:
        frame["data"] = json.loads(datas[0])
    return frame


class ChunkDecoder:
    """An HTTP/1.1 chunked body decoded as it arrives: `feed` moves every complete piece of
    `raw` (consumed) into `body` and keeps its place between calls."""

    def __init__(self) -> None:
        self.chunk_left = 0
        self.need_crlf = False
        self.ended = False

    def feed(self, raw: bytearray, body: bytearray) -> None:
        """Raises ValueError on a chunk not followed by CRLF."""
        pos = 0
        try:
            while True:
                if self.chunk_left:
                    take = min(self.chunk_left, len(raw) - pos)
                    body += raw[pos:pos + take]
                    pos += take
                    self.chunk_left -= take
                    if self.chunk_left:
                        break
                    self.need_crlf = True
                if self.need_crlf:
                    if len(raw) - pos < 2:
                        break
                    if raw[pos:pos + 2] != b"\r\n":
                        raise ValueError(f"chunk not followed by CRLF: {bytes(raw[pos:pos + 20])!r}")
                    pos += 2
                    self.need_crlf = False
                if self.ended:
                    break
                end = raw.find(b"\r\n", pos)
                if end < 0:
                    break
                size = int(bytes(raw[pos:end]).split(b";")[0], 16)
                pos = end + 2
                if size == 0:
                    self.ended = True
                    self.need_crlf = True
                else:
                    self.chunk_left = size
        finally:
            del raw[:pos]


class SSEClient:
    """One `/events` connection. `key=None` sends no X-API-Key; `last_event_id` adds that
    header (an empty string sends it empty); `rcvbuf` sets SO_RCVBUF before connecting; `tls`
    speaks HTTPS with that client context."""

    def __init__(self, port: int, path: str, key: str | None = None,
                 last_event_id: str | None = None, http10: bool = False,
                 rcvbuf: int | None = None, timeout: float = TIMEOUT,
                 tls: ssl.SSLContext | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        version = "HTTP/1.0" if http10 else "HTTP/1.1"
        lines = [f"GET {path} {version}", "Host: 127.0.0.1", "Accept: text/event-stream"]
        if key is not None:
            lines.append(f"X-API-Key: {key}")
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = bytearray()
        self.body = bytearray()
        self.body_pos = 0
        self.status = 0
        self.headers: http.client.HTTPMessage | None = None
        self.head_raw = b""
        self.chunked = False
        self.decoder = ChunkDecoder()
        self.eof = False
        self.received = 0
        self.initial: list[dict] = []

    # ----- socket ------------------------------------------------------------------------------
    def _recv(self, deadline: float, limit: int = 1 << 20) -> None:
        """Read once into the raw buffer; raises TimeoutError past the deadline, sets `eof`."""
        if self.eof:
            raise StreamEnded("connection closed")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data before deadline")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(limit)
        except socket.timeout as exc:
            raise TimeoutError("no data before deadline") from exc
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
        self.received += len(data)
        self.raw += data
        if self.headers is not None:
            self._dechunk()

    def read_head(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if self.eof:
                raise StreamEnded(f"closed before a response head: {bytes(self.raw)!r}")
            self._recv(deadline)
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        self.head_raw = head + b"\r\n\r\n"
        status_line, _, hdrs = head.partition(b"\r\n")
        self.version = status_line.split(b" ", 1)[0].decode()
        self.status = int(status_line.split(b" ")[1])
        self.headers = http.client.parse_headers(io.BytesIO(hdrs + b"\r\n\r\n"))
        self.chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        self.raw = bytearray(rest)
        self._dechunk()
        return self.status

    def _dechunk(self) -> None:
        if not self.chunked:
            self.body += self.raw
            self.raw.clear()
            return
        try:
            self.decoder.feed(self.raw, self.body)
        except ValueError as exc:
            raise AssertionError(str(exc)) from None

    @property
    def ended(self) -> bool:
        """The final (zero-length) chunk arrived."""
        return self.decoder.ended

    # ----- frames ------------------------------------------------------------------------------
    def _take_frame(self) -> dict | None:
        end = self.body.find(b"\n\n", self.body_pos)
        if end < 0:
            if self.body_pos > (1 << 16):
                del self.body[: self.body_pos]
                self.body_pos = 0
            return None
        frame = parse_frame(bytes(self.body[self.body_pos:end]))
        self.body_pos = end + 2
        return frame

    def next_frame(self, timeout: float = TIMEOUT) -> dict:
        """The next complete frame; TimeoutError when none arrives in time, StreamEnded when
        the stream is over (checked only once every buffered frame was returned)."""
        if self.headers is None:
            self.read_head(timeout)
        deadline = time.monotonic() + timeout
        while True:
            frame = self._take_frame()
            if frame is not None:
                return frame
            if self.ended or self.eof:
                raise StreamEnded("stream ended")
            self._recv(deadline)

    def read_until(self, pred, timeout: float = TIMEOUT) -> list[dict]:
        """Frames up to and including the first one where `pred(frame)` holds."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            frame = self.next_frame(max(0.0, deadline - time.monotonic()))
            out.append(frame)
            if pred(frame):
                return out

    def snapshot(self, count: int, timeout: float = TIMEOUT) -> tuple[dict, list[dict]]:
        """The `retry` frame and `count` initial frames."""
        retry = self.next_frame(timeout)
        self.initial = [self.next_frame(timeout) for _ in range(count)]
        return retry, self.initial

    def drain(self, timeout: float = TIMEOUT) -> list[dict]:
        """Every frame until the stream ends; TimeoutError if it does not end in time."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            try:
                out.append(self.next_frame(max(0.0, deadline - time.monotonic())))
            except StreamEnded:
                return out

    def quiet_for(self, seconds: float) -> list[dict]:
        """Frames that arrive within `seconds` (the stream must stay open meanwhile)."""
        deadline = time.monotonic() + seconds
        out = []
        while True:
            try:
                out.append(self.next_frame(max(0.0, deadline - time.monotonic())))
            except TimeoutError:
                return out

    # ----- slow reading ------------------------------------------------------------------------
    def read_some(self, n: int, timeout: float = 0.0) -> int:
        """Read at most `n` bytes if some are ready within `timeout`; returns the count."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r or self.eof:
            return 0
        before = self.received
        try:
            self._recv(time.monotonic() + 1.0, n)
        except TimeoutError:
            return 0
        return self.received - before

    def closed_by_peer(self, timeout: float) -> bool:
        """Reads and discards everything until EOF; True if the server closed in time."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if time.monotonic() > deadline:
                return False
            r, _, _ = select.select([self.sock], [], [], max(0.0, min(0.2, deadline - time.monotonic())))
            if r:
                try:
                    data = self.sock.recv(1 << 20)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                if not data:
                    self.eof = True
        return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Collector:
    """A fast reader: a thread that only moves bytes from the socket into the client's buffer
    (so the master never sees it lag), while frames are parsed on demand by the test thread.
    Arrival times (`t`) of its frames are parse times."""

    def __init__(self, client: SSEClient):
        self.client = client
        self.frames: list[dict] = []
        self.cond = threading.Condition()
        self.done = False
        self.error: BaseException | None = None
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sock = self.client.sock
        try:
            while not self._stop:
                r, _, _ = select.select([sock], [], [], 0.2)
                if not r:
                    continue
                try:
                    data = sock.recv(1 << 22)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                with self.cond:
                    self.client.received += len(data)
                    if not data:
                        self.client.eof = True
                        break
                    self.client.raw += data
                    self.client._dechunk()
                    self.cond.notify_all()
                    if self.client.ended:
                        break
        except BaseException as exc:  # surfaced by wait_for / stop
            self.error = exc
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def _parse(self) -> None:
        while (frame := self.client._take_frame()) is not None:
            self.frames.append(frame)

    def wait_for(self, pred, timeout: float, what: str = "frame") -> dict:
        """The first collected frame where `pred` holds, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                self._parse()
                for frame in self.frames[seen:]:
                    if pred(frame):
                        return frame
                seen = len(self.frames)
                if self.error:
                    raise self.error
                if self.done or time.monotonic() > deadline:
                    raise AssertionError(f"{what} not received within {timeout}s "
                                         f"({len(self.frames)} frames, ended={self.done})")
                self.cond.wait(max(0.0, min(0.2, deadline - time.monotonic())))

    def snapshot(self) -> list[dict]:
        with self.cond:
            self._parse()
            return list(self.frames)

    def stop(self) -> list[dict]:
        self._stop = True
        self.thread.join(5)
        self.client.close()
        if self.error:
            raise self.error
        return self.snapshot()


# ----- helpers on decoded frames -----------------------------------------------------------------
def kind(frame: dict) -> str | None:
    """The payload type (`initial`, `create`, ...), None for a retry-only frame."""
    return frame["data"]["type"] if frame["data"] else None


def seq(frame: dict) -> int:
    return int(frame["id"].split(".")[1])


def boot(frame: dict) -> str:
    return frame["id"].split(".")[0]


def live(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f["id"] is not None]


def is_log_of(iid: str):
    return lambda f: kind(f) == "log" and f["data"]["instance"] and f["data"]["instance"]["id"] == iid


def logs(frame: dict) -> str:
    """The payload's `logs`, "" for a retry-only frame."""
    return frame["data"]["logs"] if frame["data"] else ""
