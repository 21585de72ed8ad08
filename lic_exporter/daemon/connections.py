"""Client connections before a worker answers them: one connection's socket, what has arrived
of its request head and its deadline, and the set of connections still owed a head.

Reading never blocks: a connection reads (and does its TLS handshake) only as far as its
socket allows, and says what it waits for next.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import selectors
import socket
import ssl
import time
from typing import cast

log = logging.getLogger("lic_exporter.http")
MAX_HEAD_BYTES = 16 * 1024
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")


class Head(enum.Enum):
    """How far reading a request head got."""

    COMPLETE = "complete"
    WANT_READ = "want read"  # more bytes must arrive (or the TLS handshake wants them)
    WANT_WRITE = "want write"  # the TLS handshake must send first
    TOO_LARGE = "too large"
    CLOSED = "closed"  # by the client, or broken


class Connection:
    __slots__ = ("address", "buffer", "deadline", "events", "handshaking", "scanned", "sock")

    def __init__(self, sock: socket.socket, address: tuple, deadline: float, handshaking: bool):
        self.sock = sock
        self.address = address
        self.deadline = deadline
        self.buffer = bytearray()
        self.scanned = 0  # the head's end was searched for up to here
        self.handshaking = handshaking
        self.events = selectors.EVENT_READ

    @classmethod
    def accepted(cls, sock: socket.socket, address: tuple, deadline: float,
                 tls: ssl.SSLContext | None) -> Connection | None:
        """A connection just accepted, non-blocking, its TLS (when configured) not yet shaken
        hands; None when it cannot even be wrapped (closed then)."""
        sock.setblocking(False)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError) as exc:
                log.debug("connection from %s ended: %s", address[0], exc)
                sock.close()
                return None
        return cls(sock, address, deadline, tls is not None)

    def head_end(self) -> int:
        """Where the request head ends in the buffer, -1 while it is incomplete."""
        if self.buffer.startswith((b"\r", b"\n")):  # empty lines before a request line are ignored
            del self.buffer[:len(self.buffer) - len(self.buffer.lstrip(b"\r\n"))]
            self.scanned = 0
        found = _END_OF_HEAD.search(self.buffer, max(0, self.scanned - 3))
        self.scanned = len(self.buffer)
        return -1 if found is None else found.end()

    def read_head(self) -> Head:
        """Handshake and read without blocking until the request head is complete."""
        try:
            if self.handshaking:
                cast(ssl.SSLSocket, self.sock).do_handshake()  # only a TLS connection handshakes
                self.handshaking = False
            while (end := self.head_end()) < 0 and len(self.buffer) <= MAX_HEAD_BYTES:
                chunk = self.sock.recv(MAX_HEAD_BYTES + 1 - len(self.buffer))
                if not chunk:
                    return Head.CLOSED
                self.buffer += chunk
        except ssl.SSLWantWriteError:
            return Head.WANT_WRITE
        except (ssl.SSLWantReadError, BlockingIOError):
            return Head.WANT_READ
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.debug("connection from %s ended: %s", self.address[0], exc)
            return Head.CLOSED
        return Head.COMPLETE if 0 <= end <= MAX_HEAD_BYTES else Head.TOO_LARGE


class Waiting:
    """The connections owed a request head, oldest deadline first (every deadline is the same
    time from its start), each registered with the selector for what it waits for."""

    def __init__(self, selector: selectors.BaseSelector):
        self._selector = selector
        self._connections: dict[Connection, None] = {}

    def __len__(self) -> int:
        return len(self._connections)

    def __contains__(self, conn: object) -> bool:
        return conn in self._connections

    def add(self, conn: Connection) -> None:
        """Wait for `conn` to send (more of) a request head."""
        conn.events = selectors.EVENT_READ
        self._connections[conn] = None
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)

    def oldest(self) -> Connection | None:
        return next(iter(self._connections), None)

    def want(self, conn: Connection, events: int) -> None:
        if conn.events != events:
            self._selector.modify(conn.sock, events, conn)
            conn.events = events

    def forget(self, conn: Connection) -> None:
        """No longer waiting for `conn` (it goes to a worker, or is closed)."""
        self._connections.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def close(self, conn: Connection) -> None:
        self.forget(conn)
        conn.sock.close()

    def close_all(self) -> None:
        for conn in list(self._connections):
            self.close(conn)

    def expire(self, header_seconds: float) -> None:
        """Close every connection whose deadline has passed."""
        now = time.monotonic()
        while (conn := self.oldest()) is not None and conn.deadline <= now:
            log.debug("connection from %s closed: no request head within %g s", conn.address[0], header_seconds)
            self.close(conn)


def refuse(sock: socket.socket, status: str) -> None:
    """A short answer, if the socket takes it at once, and the connection closed."""
    with contextlib.suppress(OSError, ValueError):  # what has arrived: close() then sends FIN, not RST
        for _ in range(16):
            if not sock.recv(65536):
                break
    with contextlib.suppress(OSError, ValueError):
        sock.send(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    sock.close()


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_WR)  # the response first, then FIN
    sock.close()
