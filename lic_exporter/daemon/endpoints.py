"""Answer one HTTP request whose head has arrived, from the page source: /metrics (plain or
gzip, the cached page), a landing page, /-/healthy, /-/ready and POST /-/reload, behind basic
auth when users are configured."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Protocol, runtime_checkable

from lic_exporter import __version__
from lic_exporter.daemon.auth import authorised
from lic_exporter.daemon.connections import Connection
from lic_exporter.daemon.gzip_head import batches
from lic_exporter.daemon.webconfig import WebConfig

log = logging.getLogger("lic_exporter.http")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LANDING = """<!DOCTYPE html>
<html><head><title>lic_exporter</title></head>
<body><h1>lic_exporter {version}</h1>
<p>Cisco Smart Licensing state from saved NX-OS outputs and syslog.</p>
<ul><li><a href="metrics">Metrics</a></li><li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li></ul></body></html>
"""


class RenderedPage(Protocol):
    @property
    def text(self) -> bytes: ...

    @property
    def gzipped(self) -> bytes: ...

    @property
    def html(self) -> bytes: ...


class PageSource(Protocol):
    """What the server serves: the current page, and whether there is one worth serving yet."""

    def page(self) -> RenderedPage: ...

    def is_ready(self) -> bool: ...


@dataclass(frozen=True)
class Body:
    """An answer's body as the pieces it is sent in, made as they are sent, and its length."""

    pieces: Iterable[bytes]
    length: int


@runtime_checkable
class LiveSource(PageSource, Protocol):
    """The daemon's page source (daemon.scrape.DaemonSource): it finishes each /metrics answer
    itself (the page, then what is read at the scrape), and may reload on POST /-/reload."""

    def metrics(self, gzipped: bool) -> Body: ...

    @property
    def lifecycle_enabled(self) -> bool: ...

    def reload(self) -> str | None: ...  # None once done, else why the configuration was not reloaded


LIFECYCLE_DISABLED = b"lifecycle API not enabled; start with --web.enable-lifecycle\n"
_DRAIN_BYTES = 1 << 20  # of a request body already arrived, read and dropped before closing


@dataclass(frozen=True)
class Site:
    """What every request is answered from."""

    source: PageSource
    web: WebConfig
    write_seconds: float  # to hand over one response, in total


def answer(conn: Connection, site: Site) -> bool:
    """Answer the request whose head `conn` holds; whether the connection may stay open."""
    conn.sock.settimeout(site.write_seconds)
    try:
        handler = _Handler(conn, site)
    except (OSError, ValueError) as exc:
        log.debug("connection from %s ended: %s", conn.address[0], exc)
        return False
    return not handler.close_connection


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

    server_version = f"lic_exporter/{__version__}"
    protocol_version = "HTTP/1.1"

    def __init__(self, conn: Connection, site: Site):
        self.conn = conn
        self.site = site
        super().__init__(conn.sock, conn.address, None)  # type: ignore[arg-type]  # no socketserver behind it

    def setup(self) -> None:
        self.connection = self.request
        self.rfile = io.BytesIO(bytes(self.conn.buffer))
        self.wfile = _Writer(self.request, self.site.write_seconds)  # type: ignore[assignment]

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        del self.conn.buffer[:self.rfile.tell()]  # what is left is the next (pipelined) request

    def _authorised(self) -> bool:
        if authorised(self.headers.get("Authorization", ""), self.site.web):
            return True
        self._send(401, b"Unauthorized\n", extra={"WWW-Authenticate": 'Basic realm="lic_exporter"'})
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return
        path = self.path.split("?", 1)[0]
        if path == "/-/reload":
            self._send(405, b"Method not allowed: POST /-/reload\n", extra={"Allow": "POST"})
        elif path == "/metrics":
            self._metrics()
        elif path == "/":
            html = self.site.source.page().html or _LANDING.format(version=__version__).encode()
            self._send(200, html, "text/html; charset=utf-8")
        elif path == "/-/healthy":
            self._send(200, b"Healthy\n")
        elif path == "/-/ready":
            ready = self.site.source.is_ready()
            self._send(200 if ready else 503, b"Ready\n" if ready else b"Not ready: initial scan running\n")
        else:
            self._send(404, b"Not found\n")

    def do_POST(self) -> None:
        """POST /-/reload. A POST's body is never read: the answer closes the connection, so
        that what is left of a body cannot be taken for the next request."""
        try:
            if not self._authorised():
                return
            path = self.path.split("?", 1)[0]
            if path == "/-/reload":
                self._reload()
            else:  # as for any method the server does not implement
                self._send(501, b"Unsupported method: POST\n")
        finally:
            self.close_connection = True
            self._drop_arrived()

    def _reload(self) -> None:
        source = self.site.source
        if not isinstance(source, LiveSource) or not source.lifecycle_enabled:
            self._send(403, LIFECYCLE_DISABLED)
            return
        problem = source.reload()
        # The reload may have taken longer than a response may: the time to send starts now.
        self.wfile = _Writer(self.request, self.site.write_seconds)  # type: ignore[assignment]
        if problem is None:
            self._send(200, b"Reloaded\n")
        else:
            self._send(500, f"failed to reload config: {problem}\n".encode(errors="replace"))

    def _drop_arrived(self) -> None:
        """Read and drop what has arrived of a body, without waiting for more: closing a socket
        with unread data resets the connection, which can cost the client its answer."""
        with contextlib.suppress(OSError, ValueError):  # ssl's want-read is an OSError too
            self.request.setblocking(False)
            left = _DRAIN_BYTES
            while left > 0 and (chunk := self.request.recv(min(left, 65536))):
                left -= len(chunk)

    def _metrics(self) -> None:
        source = self.site.source
        if not source.is_ready():  # an empty page would make every series go stale
            self._send(503, b"Not ready: initial scan running\n")
            return
        gzipped = accepts_gzip(self.headers.get("Accept-Encoding", ""))
        if isinstance(source, LiveSource):
            body: Body | Sequence[bytes] = source.metrics(gzipped)
        else:
            page = source.page()
            body = (page.gzipped if gzipped else page.text,)
        self._send(200, body, CONTENT_TYPE, {"Content-Encoding": "gzip"} if gzipped else None)

    def _send(self, status: int, body: bytes | Sequence[bytes] | Body,
              content_type: str = "text/plain; charset=utf-8", extra: dict[str, str] | None = None) -> None:
        """`body` whole, or in pieces sent one after the other."""
        if not isinstance(body, Body):
            whole = (body,) if isinstance(body, bytes) else body
            body = Body(whole, sum(len(piece) for piece in whole))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(body.length))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if self.command == "POST":
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            for block in batches(body.pieces):  # a fleet's page is many small pieces: a write each would crawl
                self.wfile.write(block)

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.client_address[0], format % args)


def accepts_gzip(header: str) -> bool:
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
