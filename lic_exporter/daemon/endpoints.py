"""Answer one HTTP request whose head has arrived, from the page source: /metrics (plain or
gzip, the cached page), a landing page, /-/healthy and /-/ready, behind basic auth when users
are configured."""

from __future__ import annotations

import io
import logging
import socket
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Protocol

from lic_exporter import __version__
from lic_exporter.daemon.auth import authorised
from lic_exporter.daemon.connections import Connection
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

    def do_GET(self) -> None:
        if not authorised(self.headers.get("Authorization", ""), self.site.web):
            self._send(401, b"Unauthorized\n", extra={"WWW-Authenticate": 'Basic realm="lic_exporter"'})
            return
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
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

    def _metrics(self) -> None:
        if not self.site.source.is_ready():  # an empty page would make every series go stale
            self._send(503, b"Not ready: initial scan running\n")
            return
        page = self.site.source.page()
        if accepts_gzip(self.headers.get("Accept-Encoding", "")):
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
