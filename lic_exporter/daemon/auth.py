"""Basic auth: a request's Authorization header checked against the web configuration's users."""

from __future__ import annotations

import base64
import binascii

from lic_exporter.daemon.webconfig import WebConfig


def authorised(header: str, web: WebConfig) -> bool:
    """Whether a request with this Authorization header (empty: none) may be answered: always
    without users configured, else only with the right user and password."""
    if not web.users:
        return True
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return web.check(user, password)
