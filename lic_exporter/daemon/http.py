"""The daemon's HTTP server: the I/O thread that accepts connections and reads request heads,
handing complete ones to the workers (workers), which answer them from the page source
(endpoints), behind optional TLS and basic auth (webconfig).

Built for clients that connect and then dawdle (slowloris), before any authentication:

* one I/O thread accepts connections, does the TLS handshakes and reads request heads (request
  line and headers) without blocking. Each connection has a TOTAL deadline for that,
  HEADER_SECONDS from accept (or from the end of the previous response on a kept-alive
  connection), not a timeout per read: a connection without a complete head by then is closed.
* only a complete head goes to one of at most WORKERS threads, which answers it from memory
  (sending it within WRITE_SECONDS) and hands a kept-alive connection back to the I/O thread.
  With every worker busy, a new request gets 503 and is closed at once, never queued.
* so a dawdling connection costs a file descriptor and a few bytes, never a thread. Open
  connections are capped at half the open-file limit (at most 1024): at the cap, and when
  accept() finds no descriptor left (EMFILE), the connection that has waited longest for its
  head is closed to make room; with none to close, accepting pauses briefly instead of spinning.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import resource
import selectors
import socket
import threading
import time

from lic_exporter.daemon.connections import Connection, Head, Waiting, refuse
from lic_exporter.daemon.endpoints import PageSource, Site, answer
from lic_exporter.daemon.webconfig import WebConfig
from lic_exporter.daemon.workers import WorkerPool

log = logging.getLogger("lic_exporter.http")
HEADER_SECONDS = 10.0   # TLS handshake + request line + headers, in total, per request
WRITE_SECONDS = 30.0    # to hand over one response, in total
WORKERS = 32            # requests answered at once
BACKLOG = 128           # listen queue: an HA pair of Prometheus servers' scrapes, and plenty to spare
ACCEPT_PAUSE_SECONDS = 0.1
_ACCEPT_BURST = 64      # accepts per turn of the loop, so that reading heads is not starved
_WARN_EVERY = 60.0
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ONE_CLIENT_ONLY = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ECONNRESET)
_LISTENER, _WAKE = object(), object()


def connection_cap() -> int:
    """Half the open-file limit, at most 1024: the other half stays for the files the daemon
    reads and follows."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(16, min(1024, soft // 2))


class _Throttled:
    """Warnings logged at most once every _WARN_EVERY seconds each: a flood of connections must
    not become a flood of log lines."""

    def __init__(self) -> None:
        self._warned: dict[str, float] = {}

    def __call__(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -_WARN_EVERY) >= _WARN_EVERY:
            self._warned[key] = now
            log.warning(message, *args)


def _listening(address: tuple[str, int], backlog: int) -> socket.socket:
    """A non-blocking socket listening on `address` (OSError for a busy port)."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(backlog)
        listener.setblocking(False)
    except OSError:
        listener.close()
        raise
    return listener


class _Wakeup:
    """Ends the I/O thread's wait from another thread (a worker done, shutdown()): a byte
    written to a socket pair whose other end the selector watches."""

    def __init__(self) -> None:
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)

    def __call__(self) -> None:
        with contextlib.suppress(OSError):  # already awake (buffer full), or closed
            self._writer.send(b"\0")

    def drain(self) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self.reader.close()
        self._writer.close()


class MetricsServer:
    """serve_forever() in one thread, shutdown() from another, then server_close(), as with
    socketserver; binding happens in the constructor (OSError for a busy port)."""

    request_queue_size = BACKLOG

    def __init__(self, address: tuple[str, int], source: PageSource, web: WebConfig, *,
                 workers: int = WORKERS, header_seconds: float = HEADER_SECONDS,
                 write_seconds: float = WRITE_SECONDS, max_connections: int | None = None):
        self.web = web
        self.header_seconds = header_seconds
        self.max_connections = max_connections or connection_cap()
        self.socket = _listening(address, self.request_queue_size)
        self.server_address = self.socket.getsockname()[:2]
        self._site = Site(source, web, write_seconds)
        self._warn = _Throttled()
        self._wake = _Wakeup()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        self._selector.register(self._wake.reader, selectors.EVENT_READ, _WAKE)
        self._waiting = Waiting(self._selector)
        self._pool = WorkerPool(workers, self._answer, self._wake, self._warn)
        self._accepting = True
        self._resume_at = 0.0
        self._stop = False
        self._stopped = threading.Event()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        try:
            while not self._stop:
                for key, _ in self._selector.select(self._timeout(poll_interval)):
                    try:
                        if key.data is _LISTENER:
                            self._accept()
                        elif key.data is _WAKE:
                            self._wake.drain()
                        elif key.data in self._waiting:  # not closed by an accept in this same turn
                            self._read(key.data)
                    except Exception:  # a bug: cost that connection, never the loop
                        log.exception("HTTP server loop")
                        if isinstance(key.data, Connection):
                            self._waiting.close(key.data)
                self._take_back()
                self._waiting.expire(self.header_seconds)
                if not self._accepting and time.monotonic() >= self._resume_at:
                    self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
                    self._accepting = True
        finally:
            self._stop = False
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serve_forever() and wait until it has returned."""
        self._stop = True
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        self._waiting.close_all()
        self._pool.close()
        self._selector.close()
        self.socket.close()
        self._wake.close()

    def _timeout(self, poll_interval: float) -> float:
        now = time.monotonic()
        timeout = poll_interval
        oldest = self._waiting.oldest()
        if oldest is not None:
            timeout = min(timeout, oldest.deadline - now)
        if not self._accepting:
            timeout = min(timeout, self._resume_at - now)
        return max(0.0, timeout)

    def _accept(self) -> None:
        for _ in range(_ACCEPT_BURST):
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in _ONE_CLIENT_ONLY:
                    continue
                oldest = self._waiting.oldest()
                if exc.errno in _OUT_OF_DESCRIPTORS and oldest is not None:
                    self._warn("descriptors", "out of file descriptors (%s): closing connections still "
                               "waiting for their request head, oldest first", exc.strerror)
                    self._waiting.close(oldest)
                    continue
                self._warn("accept", "cannot accept connections (%s): pausing %.1f s", exc.strerror,
                           ACCEPT_PAUSE_SECONDS)
                self._selector.unregister(self.socket)  # else a listener that stays readable spins the loop
                self._accepting = False
                self._resume_at = time.monotonic() + ACCEPT_PAUSE_SECONDS
                return
            if len(self._waiting) + self._pool.busy >= self.max_connections:
                oldest = self._waiting.oldest()
                if oldest is None:
                    sock.close()
                    continue
                self._warn("cap", "%d connections open: closing connections still waiting for their request "
                           "head, oldest first", self.max_connections)
                self._waiting.close(oldest)
            self._admit(sock, address)

    def _admit(self, sock: socket.socket, address: tuple) -> None:
        conn = Connection.accepted(sock, address, time.monotonic() + self.header_seconds, self.web.tls)
        if conn is not None:
            self._waiting.add(conn)
            self._read(conn)  # the client may have sent everything already

    def _read(self, conn: Connection) -> None:
        head = conn.read_head()
        if head is Head.WANT_READ:
            self._waiting.want(conn, selectors.EVENT_READ)
        elif head is Head.WANT_WRITE:
            self._waiting.want(conn, selectors.EVENT_WRITE)
        elif head is Head.CLOSED:
            self._waiting.close(conn)
        elif head is Head.TOO_LARGE:
            self._refuse(conn, "431 Request Header Fields Too Large")
        else:
            self._waiting.forget(conn)
            if not self._pool.hand_over(conn):
                self._refuse(conn, "503 Service Unavailable")

    def _take_back(self) -> None:
        for conn, keep in self._pool.returned():
            if not keep:
                continue
            try:
                conn.sock.setblocking(False)
                conn.deadline = time.monotonic() + self.header_seconds
                conn.scanned = 0
                self._waiting.add(conn)
                self._read(conn)  # a pipelined request, or bytes TLS has decrypted already
            except Exception:  # a bug: cost that connection, never the loop
                log.exception("HTTP server loop")
                self._waiting.close(conn)

    def _refuse(self, conn: Connection, status: str) -> None:
        self._waiting.forget(conn)
        refuse(conn.sock, status)

    def _answer(self, conn: Connection) -> bool:
        """In a worker: answer `conn`'s request; whether to keep the connection open."""
        return answer(conn, self._site) and not self._stop


def parse_address(text: str) -> tuple[str, int]:
    """`:10311`, `127.0.0.1:10311`, `[::1]:10311` -> (host, port); an empty host is every
    interface. ValueError says what is wrong and what was expected, without repeating `text`."""
    example = "expected HOST:PORT, e.g. :10311 (every interface), 127.0.0.1:10311 or [::1]:10311"
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if text.isdigit():
        raise ValueError(f"a port alone is written with a colon before it (:{text}): {example}")
    if not sep or text.endswith("]"):
        raise ValueError(f"no port: {example}")
    if not port:
        raise ValueError(f"no port after the colon: {example}")
    if not port.isascii() or not port.isdigit():
        raise ValueError(f"the port is not a number: {example}")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"port {int(port)} is out of range 1-65535: {example}")
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise ValueError(f"an IPv6 address goes in brackets: {example}")
    return host.strip("[]") or "0.0.0.0", int(port)
