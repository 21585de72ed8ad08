"""The HTTP side of the daemon: /metrics (plain or gzip, from the cached page), a landing
page, /-/healthy and /-/ready, behind optional TLS and basic auth (webconfig)."""

from __future__ import annotations

import base64
import binascii
import logging
import socket
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import __version__
from .daemon import Exporter
from .webconfig import WebConfig

log = logging.getLogger("lic_exporter.http")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HANDSHAKE_SECONDS = 10.0
_LANDING = """<!DOCTYPE html>
<html><head><title>lic_exporter</title></head>
<body><h1>lic_exporter {version}</h1>
<p>Cisco Smart Licensing state from saved NX-OS outputs and syslog.</p>
<ul><li><a href="metrics">Metrics</a></li><li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li></ul></body></html>
"""


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], exporter: Exporter, web: WebConfig):
        self.exporter = exporter
        self.web = web
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)
        if web.tls is not None:  # the handshake happens in the request's thread, not here
            self.socket = web.tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    server_version = f"lic_exporter/{__version__}"
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.request.settimeout(HANDSHAKE_SECONDS)
        super().setup()

    def handle(self) -> None:
        try:
            if isinstance(self.request, ssl.SSLSocket):
                self.request.do_handshake()  # here, so a failed handshake costs this thread only
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
            log.debug("connection from %s ended: %s", self.client_address[0], exc)

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
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
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
