"""Many client connections driven from one thread with epoll, for the hostile-client tests:
thousands of sockets cost one selector, not one thread each, so the test process stays small on
a shared 2-core machine and timings reflect the master, not the client.

Every connection records when it was opened, when it got a complete response and when the
server closed it, so the tests can check each deadline per connection.
"""

from __future__ import annotations

import errno
import os
import resource
import selectors
import socket
import time
from dataclasses import dataclass, field


@dataclass
class Client:
    sock: socket.socket
    opened: float = 0.0
    connected: float | None = None
    answered: float | None = None
    closed: float | None = None
    pending: bytes = b""
    received: bytearray = field(default_factory=bytearray)
    sent: int = 0

    def status(self) -> int | None:
        """Status of the first response received, None before a full status line."""
        head = bytes(self.received[:64])
        if not head.startswith(b"HTTP/1.") or b"\r\n" not in head:
            return None
        return int(head.split(b" ", 2)[1])

    def response_complete(self) -> bool:
        head, sep, body = bytes(self.received).partition(b"\r\n\r\n")
        if not sep:
            return False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return len(body) >= int(value)
        return True


def raise_fd_limit(needed: int) -> None:
    """Lift this process's soft descriptor limit toward `needed` (the hard limit caps it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Swarm:
    """`count` connections to 127.0.0.1:`port`. Each sends `payload` once connected; `trickle`
    then feeds one byte at a time. Reads are collected until the server closes."""

    def __init__(self, port: int):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.clients: list[Client] = []

    # ----- opening -----------------------------------------------------------------------------
    def open(self, count: int, payload, in_flight: int = 100, timeout: float = 30.0) -> None:
        """Connects in waves of at most `in_flight` handshakes, so the listen backlog never
        overflows (a dropped SYN costs a 1 s retransmit and would distort every timing).
        `payload` is the bytes every connection sends, or a function of its index."""
        deadline = time.monotonic() + timeout
        waiting = 0
        while len(self.clients) < count or waiting:
            while len(self.clients) < count and waiting < in_flight:
                self._connect(payload(len(self.clients)) if callable(payload) else payload)
                waiting += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.clients) - waiting} of {count} connected in {timeout}s")
            waiting -= self.pump(0.05)

    def _connect(self, payload: bytes) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        c = Client(sock=s, opened=time.monotonic(), pending=payload)
        rc = s.connect_ex(("127.0.0.1", self.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(rc, os.strerror(rc))
        self.clients.append(c)
        self.sel.register(s, selectors.EVENT_WRITE, c)

    # ----- event pump --------------------------------------------------------------------------
    def pump(self, timeout: float) -> int:
        """One selector round; returns how many connections completed their handshake."""
        done = 0
        for key, events in self.sel.select(timeout):
            c: Client = key.data
            if events & selectors.EVENT_WRITE and c.connected is None:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                done += 1
                if err:
                    self._closed(c)
                    continue
                c.connected = time.monotonic()
                self._send(c, c.pending)
                if c.closed is None:
                    self.sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            if events & selectors.EVENT_READ:
                self._read(c)
        return done

    def _send(self, c: Client, data: bytes) -> None:
        if not data or c.closed is not None:
            return
        try:
            n = c.sock.send(data)
        except (BrokenPipeError, ConnectionResetError):
            self._closed(c)
            return
        except BlockingIOError:
            n = 0
        c.sent += n

    def _read(self, c: Client) -> None:
        try:
            data = c.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        except BlockingIOError:
            return
        if not data:
            self._closed(c)
            return
        c.received += data
        if c.answered is None and c.response_complete():
            c.answered = time.monotonic()

    def _closed(self, c: Client) -> None:
        if c.closed is None:
            c.closed = time.monotonic()
            self.sel.unregister(c.sock)
            c.sock.close()

    def trickle(self, data: bytes) -> None:
        """Send `data` (one byte, typically) on every connection still open."""
        for c in self.clients:
            if c.closed is None and c.connected is not None:
                self._send(c, data)

    def run_until(self, pred, timeout: float, tick=None, every: float = 0.0) -> bool:
        """Pump until `pred()` holds or the timeout passes; calls `tick()` every `every` s."""
        deadline = time.monotonic() + timeout
        next_tick = time.monotonic()
        while not pred():
            now = time.monotonic()
            if now > deadline:
                return False
            if tick is not None and now >= next_tick:
                tick()
                next_tick = now + every
            wait = deadline - now if tick is None else max(0.0, next_tick - time.monotonic())
            self.pump(min(0.05, wait))
        return True

    # ----- queries -----------------------------------------------------------------------------
    def open_count(self) -> int:
        return sum(1 for c in self.clients if c.closed is None)

    def answered_count(self) -> int:
        return sum(1 for c in self.clients if c.answered is not None)

    def close(self) -> None:
        for c in self.clients:
            if c.closed is None:
                self.sel.unregister(c.sock)
                c.sock.close()
                c.closed = time.monotonic()
        self.sel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
