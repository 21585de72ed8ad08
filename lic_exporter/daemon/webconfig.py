"""`--web.config.file`: the Prometheus exporter-toolkit web configuration (TLS, mutual TLS,
basic auth with bcrypt hashes), read into an ssl.SSLContext and a user table.

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # mutual TLS
      client_ca_file: ca.crt
      min_version: TLS12
    basic_auth_users:
      prometheus: $2y$10$...                          # bcrypt hash, never the password

Relative file names are read from the configuration file's folder, as the toolkit does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml

_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Python's ssl module cannot ask for a client certificate without verifying it.
_UNVERIFIED = ("RequestClientCert", "RequireAnyClientCert")
_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
             "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# bcrypt reads at most 72 bytes of a password: bcrypt 5 refuses longer ones (ValueError), bcrypt 4
# cut them short silently (so that anything after byte 72 would be accepted). Both are refused here.
MAX_PASSWORD_BYTES = 72
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
             "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"}


class WebConfigError(Exception):
    """The web configuration cannot be used; the message says where and why."""


@dataclass
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    _verified: dict[str, bytes] = field(default_factory=dict, repr=False)  # user -> sha256 of a good password
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _dummy: bytes = field(default=b"", repr=False)  # checked for unknown users, as costly as a real hash

    def __post_init__(self) -> None:
        if self.users and not self._dummy:  # a random salt and digest: no password matches it
            cost = max(_cost(hashed) for hashed in self.users.values())
            digest = "".join(secrets.choice(_BCRYPT_ALPHABET) for _ in range(31))
            self._dummy = bcrypt.gensalt(rounds=cost) + digest.encode()

    def check(self, user: str, password: str) -> bool:
        """bcrypt is slow on purpose; a password once verified is remembered by its SHA-256
        (in memory only), so a scrape every few seconds does not pay bcrypt each time.

        An unknown user is checked against a dummy hash of the same cost, so that a wrong
        password takes as long for an unknown user as for a known one (no user enumeration by
        timing). A password over 72 bytes is refused before anything else, for every user."""
        secret = password.encode()
        if len(secret) > MAX_PASSWORD_BYTES:
            return False
        hashed = self.users.get(user)
        if hashed is None:
            _checkpw(secret, self._dummy)
            return False
        digest = hashlib.sha256(secret).digest()
        with self._lock:
            known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        if not _checkpw(secret, hashed):
            return False
        with self._lock:
            self._verified[user] = digest
        return True


def _checkpw(secret: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(secret, hashed)
    except ValueError:  # a NUL byte or a length bcrypt refuses: not this password
        return False


def _cost(hashed: bytes) -> int:
    return int(hashed.split(b"$")[2])


def load(path: Path) -> WebConfig:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise WebConfigError(f"{path}: {exc}") from None
    if not isinstance(document, dict):
        raise WebConfigError(f"{path}: expected a mapping at the top")
    unknown = set(document) - {"tls_server_config", "basic_auth_users", "http_server_config"}
    if unknown:
        raise WebConfigError(f"{path}: unknown key(s): {', '.join(sorted(unknown))}")
    users = document.get("basic_auth_users") or {}
    if not isinstance(users, dict) or not all(isinstance(v, str) and _BCRYPT_HASH.fullmatch(v) for v in users.values()):
        raise WebConfigError(f"{path}: basic_auth_users must map user names to bcrypt hashes "
                             "($2y$, $2b$ or $2a$, cost 4 to 31)")
    tls = _tls(document.get("tls_server_config"), path)
    return WebConfig(tls=tls, users={str(user): hashed.encode() for user, hashed in users.items()})


def _tls(section: dict | None, path: Path) -> ssl.SSLContext | None:
    if not section:
        return None
    unknown = set(section) - _TLS_KEYS
    if unknown:
        raise WebConfigError(f"{path}: tls_server_config: unknown key(s): {', '.join(sorted(unknown))}")
    if not section.get("cert_file") or not section.get("key_file"):
        raise WebConfigError(f"{path}: tls_server_config needs cert_file and key_file")
    base = path.parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(base / section["cert_file"], base / section["key_file"])
        auth = section.get("client_auth_type", "NoClientCert")
        if auth in _UNVERIFIED:
            raise WebConfigError(f"{path}: client_auth_type {auth} (a certificate accepted without checking it) "
                                 "is not supported: use VerifyClientCertIfGiven or RequireAndVerifyClientCert "
                                 "with client_ca_file")
        if auth not in _CLIENT_AUTH:
            raise WebConfigError(f"{path}: client_auth_type {auth!r} is not one of {', '.join(_CLIENT_AUTH)}")
        context.verify_mode = _CLIENT_AUTH[auth]
        if section.get("client_ca_file"):
            context.load_verify_locations(base / section["client_ca_file"])
        elif auth in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven"):
            raise WebConfigError(f"{path}: client_auth_type {auth} needs client_ca_file")
        context.minimum_version = _VERSIONS[section.get("min_version", "TLS12")]
        if section.get("max_version"):
            context.maximum_version = _VERSIONS[section["max_version"]]
    except (OSError, ssl.SSLError) as exc:
        raise WebConfigError(f"{path}: tls_server_config: {exc}") from None
    except KeyError as exc:
        raise WebConfigError(f"{path}: unknown TLS version {exc}") from None
    return context
