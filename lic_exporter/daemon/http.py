"""The HTTP side of the daemon: /metrics (plain or gzip, from the cached page), a landing
page, /-/healthy and /-/ready, behind optional TLS and basic auth (webconfig).

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

import base64
import binascii
import contextlib
import errno
import io
import logging
import queue
import re
import resource
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler

from lic_exporter import __version__
from lic_exporter.daemon.state import Exporter
from lic_exporter.daemon.webconfig import WebConfig

log = logging.getLogger("lic_exporter.http")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEADER_SECONDS = 10.0   # TLS handshake + request line + headers, in total, per request
WRITE_SECONDS = 30.0    # to hand over one response, in total
WORKERS = 32            # requests answered at once
BACKLOG = 128           # listen queue: an HA pair of Prometheus servers' scrapes, and plenty to spare
MAX_HEAD_BYTES = 16 * 1024
ACCEPT_PAUSE_SECONDS = 0.1
_ACCEPT_BURST = 64      # accepts per turn of the loop, so that reading heads is not starved
_WARN_EVERY = 60.0
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ONE_CLIENT_ONLY = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ECONNRESET)
_LISTENER, _WAKE = object(), object()
_LANDING = """<!DOCTYPE html>
<html><head><title>lic_exporter</title></head>
<body><h1>lic_exporter {version}</h1>
<p>Cisco Smart Licensing state from saved NX-OS outputs and syslog.</p>
<ul><li><a href="metrics">Metrics</a></li><li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li></ul></body></html>
"""


def connection_cap() -> int:
    """Half the open-file limit, at most 1024: the other half stays for the files the daemon
    reads and follows."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(16, min(1024, soft // 2))


class _Conn:
    __slots__ = ("address", "buffer", "deadline", "events", "handshaking", "scanned", "sock")

    def __init__(self, sock: socket.socket, address: tuple, deadline: float, handshaking: bool):
        self.sock = sock
        self.address = address
        self.deadline = deadline
        self.buffer = bytearray()
        self.scanned = 0  # the head's end was searched for up to here
        self.handshaking = handshaking
        self.events = selectors.EVENT_READ

    def head_end(self) -> int:
        """Where the request head ends in the buffer, -1 while it is incomplete."""
        if self.buffer[:1] in (b"\r", b"\n"):  # empty lines before a request line are ignored
            del self.buffer[:len(self.buffer) - len(self.buffer.lstrip(b"\r\n"))]
            self.scanned = 0
        found = _END_OF_HEAD.search(self.buffer, max(0, self.scanned - 3))
        self.scanned = len(self.buffer)
        return -1 if found is None else found.end()


class MetricsServer:
    """serve_forever() in one thread, shutdown() from another, then server_close(), as with
    socketserver; binding happens in the constructor (OSError for a busy port)."""

    request_queue_size = BACKLOG

    def __init__(self, address: tuple[str, int], exporter: Exporter, web: WebConfig, *,
                 workers: int = WORKERS, header_seconds: float = HEADER_SECONDS,
                 write_seconds: float = WRITE_SECONDS, max_connections: int | None = None):
        self.exporter = exporter
        self.web = web
        self.workers = workers
        self.header_seconds = header_seconds
        self.write_seconds = write_seconds
        self.max_connections = max_connections or connection_cap()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(self.request_queue_size)
            self.socket.setblocking(False)
        except OSError:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()[:2]
        self._waiting: dict[_Conn, None] = {}  # connections owed a request head, oldest deadline first
        self._serving = 0                        # connections handed to workers
        self._threads = 0
        self._jobs: queue.SimpleQueue[_Conn | None] = queue.SimpleQueue()
        self._returned: deque[tuple[_Conn, bool]] = deque()  # from workers: (connection, keep it open)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._accepting = True
        self._resume_at = 0.0
        self._warned: dict[str, float] = {}
        self._stop = False
        self._stopped = threading.Event()

    # -- the I/O thread -------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        try:
            while not self._stop:
                for key, _ in self._selector.select(self._timeout(poll_interval)):
                    try:
                        if key.data is _LISTENER:
                            self._accept()
                        elif key.data is _WAKE:
                            self._drain_wake()
                        elif key.data in self._waiting:  # not closed by an accept in this same turn
                            self._read(key.data)
                    except Exception:  # a bug: cost that connection, never the loop
                        log.exception("HTTP server loop")
                        if isinstance(key.data, _Conn):
                            self._close(key.data)
                self._take_back()
                self._expire()
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
        for conn in list(self._waiting):
            self._close(conn)
        while self._returned:
            conn, kept = self._returned.popleft()
            if kept:
                conn.sock.close()
        for _ in range(self._threads):
            self._jobs.put(None)
        self._selector.close()
        self.socket.close()
        self._wake_r.close()
        self._wake_w.close()

    def _timeout(self, poll_interval: float) -> float:
        now = time.monotonic()
        timeout = poll_interval
        if self._waiting:
            timeout = min(timeout, next(iter(self._waiting)).deadline - now)
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
                if exc.errno in _OUT_OF_DESCRIPTORS and self._waiting:
                    self._warn("descriptors", "out of file descriptors (%s): closing connections still "
                               "waiting for their request head, oldest first", exc.strerror)
                    self._close(next(iter(self._waiting)))
                    continue
                self._warn("accept", "cannot accept connections (%s): pausing %.1f s", exc.strerror,
                           ACCEPT_PAUSE_SECONDS)
                self._selector.unregister(self.socket)  # else a listener that stays readable spins the loop
                self._accepting = False
                self._resume_at = time.monotonic() + ACCEPT_PAUSE_SECONDS
                return
            if len(self._waiting) + self._serving >= self.max_connections:
                if not self._waiting:
                    sock.close()
                    continue
                self._warn("cap", "%d connections open: closing connections still waiting for their request "
                           "head, oldest first", self.max_connections)
                self._close(next(iter(self._waiting)))
            self._admit(sock, address)

    def _admit(self, sock: socket.socket, address: tuple) -> None:
        sock.setblocking(False)
        if self.web.tls is not None:
            try:
                sock = self.web.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError) as exc:
                log.debug("connection from %s ended: %s", address[0], exc)
                sock.close()
                return
        conn = _Conn(sock, address, time.monotonic() + self.header_seconds, self.web.tls is not None)
        self._waiting[conn] = None
        self._selector.register(sock, selectors.EVENT_READ, conn)
        self._read(conn)  # the client may have sent everything already

    def _read(self, conn: _Conn) -> None:
        """Handshake and read without blocking until the request head is complete."""
        try:
            if conn.handshaking:
                conn.sock.do_handshake()
                conn.handshaking = False
            while (end := conn.head_end()) < 0 and len(conn.buffer) <= MAX_HEAD_BYTES:
                chunk = conn.sock.recv(MAX_HEAD_BYTES + 1 - len(conn.buffer))
                if not chunk:
                    self._close(conn)
                    return
                conn.buffer += chunk
        except ssl.SSLWantWriteError:
            self._want(conn, selectors.EVENT_WRITE)
            return
        except (ssl.SSLWantReadError, BlockingIOError):
            self._want(conn, selectors.EVENT_READ)
            return
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.debug("connection from %s ended: %s", conn.address[0], exc)
            self._close(conn)
            return
        if not 0 <= end <= MAX_HEAD_BYTES:
            self._refuse(conn, "431 Request Header Fields Too Large")
            return
        self._dispatch(conn)

    def _dispatch(self, conn: _Conn) -> None:
        self._forget(conn)
        if self._serving >= self.workers:
            self._warn("workers", "all %d workers busy: answering 503 to new requests", self.workers)
            self._refuse(conn, "503 Service Unavailable")
            return
        self._serving += 1
        if self._threads < self._serving:  # threads never outnumber the workers
            try:
                threading.Thread(target=self._work, name=f"http-worker-{self._threads + 1}", daemon=True).start()
                self._threads += 1
            except RuntimeError as exc:  # no thread to be had: the ones there are will do
                self._warn("threads", "cannot start an HTTP worker: %s", exc)
                if not self._threads:
                    self._serving -= 1
                    self._refuse(conn, "503 Service Unavailable")
                    return
        self._jobs.put(conn)

    def _take_back(self) -> None:
        while self._returned:
            conn, keep = self._returned.popleft()
            self._serving -= 1
            if not keep:
                continue
            try:
                conn.sock.setblocking(False)
                conn.deadline = time.monotonic() + self.header_seconds
                conn.scanned = 0
                conn.events = selectors.EVENT_READ
                self._waiting[conn] = None
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
                self._read(conn)  # a pipelined request, or bytes TLS has decrypted already
            except Exception:  # a bug: cost that connection, never the loop
                log.exception("HTTP server loop")
                self._close(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._waiting:
            conn = next(iter(self._waiting))
            if conn.deadline > now:
                return
            log.debug("connection from %s closed: no request head within %g s", conn.address[0],
                      self.header_seconds)
            self._close(conn)

    def _want(self, conn: _Conn, events: int) -> None:
        if conn.events != events:
            self._selector.modify(conn.sock, events, conn)
            conn.events = events

    def _forget(self, conn: _Conn) -> None:
        self._waiting.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _close(self, conn: _Conn) -> None:
        self._forget(conn)
        conn.sock.close()

    def _refuse(self, conn: _Conn, status: str) -> None:
        """A short answer, if the socket takes it at once, and the connection closed."""
        self._forget(conn)
        with contextlib.suppress(OSError, ValueError):  # what has arrived: close() then sends FIN, not RST
            for _ in range(16):
                if not conn.sock.recv(65536):
                    break
        with contextlib.suppress(OSError, ValueError):
            conn.sock.send(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        conn.sock.close()

    def _warn(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -_WARN_EVERY) >= _WARN_EVERY:
            self._warned[key] = now
            log.warning(message, *args)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already awake (buffer full), or closed
            self._wake_w.send(b"\0")

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    # -- the workers ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            conn = self._jobs.get()
            if conn is None:
                return
            keep = False
            try:
                keep = self._answer(conn)
            except Exception:  # a bug: this connection only, the worker lives on
                log.exception("error answering %s", conn.address[0])
            if not keep:
                _close_quietly(conn.sock)
            self._returned.append((conn, keep))
            self._wake()

    def _answer(self, conn: _Conn) -> bool:
        conn.sock.settimeout(self.write_seconds)
        try:
            handler = _Handler(conn, self)
        except (OSError, ValueError) as exc:
            log.debug("connection from %s ended: %s", conn.address[0], exc)
            return False
        return not handler.close_connection and not self._stop


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_WR)  # the response first, then FIN
    sock.close()


class _Writer:
    """wfile: sends everything before a total deadline (a client that does not read its
    response holds a worker WRITE_SECONDS at most)."""

    def __init__(self, sock: socket.socket, seconds: float):
        self.sock = sock
        self.deadline = time.monotonic() + seconds
        self.closed = False

    def write(self, data: bytes) -> int:
        view = memoryview(data).cast("B")
        while view:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("response not taken in time")
            self.sock.settimeout(left)
            view = view[self.sock.send(view):]
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class _Handler(BaseHTTPRequestHandler):
    """Answers exactly one request, whose head the I/O thread has read already: it never reads
    from the socket."""

    server: MetricsServer
    server_version = f"lic_exporter/{__version__}"
    protocol_version = "HTTP/1.1"

    def __init__(self, conn: _Conn, server: MetricsServer):
        self.conn = conn
        super().__init__(conn.sock, conn.address, server)  # type: ignore[arg-type]

    def setup(self) -> None:
        self.connection = self.request
        self.rfile = io.BytesIO(bytes(self.conn.buffer))
        self.wfile = _Writer(self.request, self.server.write_seconds)

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        del self.conn.buffer[:self.rfile.tell()]  # what is left is the next (pipelined) request

    def do_GET(self) -> None:
        if not self._authorised():
            self._send(401, b"Unauthorized\n", extra={"WWW-Authenticate": 'Basic realm="lic_exporter"'})
            return
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/":
            self._send(200, _LANDING.format(version=__version__).encode(), "text/html; charset=utf-8")
        elif path == "/-/healthy":
            self._send(200, b"Healthy\n")
        elif path == "/-/ready":
            ready = self.server.exporter.ready.is_set()
            self._send(200 if ready else 503, b"Ready\n" if ready else b"Not ready: initial scan running\n")
        else:
            self._send(404, b"Not found\n")

    def _authorised(self) -> bool:
        users = self.server.web.users
        if not users:
            return True
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.server.web.check(user, password)

    def _metrics(self) -> None:
        if not self.server.exporter.ready.is_set():  # an empty page would make every series go stale
            self._send(503, b"Not ready: initial scan running\n")
            return
        page = self.server.exporter.page()
        if _accepts_gzip(self.headers.get("Accept-Encoding", "")):
            self._send(200, page.gzipped, CONTENT_TYPE, {"Content-Encoding": "gzip"})
        else:
            self._send(200, page.text, CONTENT_TYPE)

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.client_address[0], format % args)


def _accepts_gzip(header: str) -> bool:
    """`gzip`, `gzip;q=0.5` yes; `gzip;q=0` no."""
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=")
            try:
                return not params or float(quality) > 0
            except ValueError:
                return True
    return False


def parse_address(text: str) -> tuple[str, int]:
    """`:10311`, `127.0.0.1:10311`, `[::1]:10311` -> (host, port); an empty host is every
    interface."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)
