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

from lic_exporter.sources.privacy import clean_controls

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
_TOP_KEYS = {"tls_server_config", "basic_auth_users", "http_server_config"}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
             "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"}


class WebConfigError(Exception):
    """The web configuration cannot be used; `problems` says where and why, one line each."""

    def __init__(self, *problems: str):
        super().__init__(*problems)
        self.problems = list(problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


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


# ---------------------------------------------------------------- reading the file

def load(path: Path) -> WebConfig:
    """The web configuration in `path`; WebConfigError lists every problem, each one line
    naming the file and the key (`FILE: tls_server_config.cert_file: ...`)."""
    document = _document(path)
    problems = _Problems(path)
    for key in sorted(set(document) - _TOP_KEYS, key=str):
        problems.add(clean_controls(str(key)), f"unknown key (expected {', '.join(sorted(_TOP_KEYS))})")
    users = _users(document.get("basic_auth_users"), problems)
    tls = _tls(document.get("tls_server_config"), path.parent, problems)
    if problems:
        raise WebConfigError(*problems)
    return WebConfig(tls=tls, users=users)


class _Problems(list[str]):
    """The problems found so far, each `FILE: key.path: message`."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def add(self, key: str, message: str) -> None:
        self.append(f"{self.path}: {key}: {message}")


def _document(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WebConfigError(f"--web.config.file {path}: no such file") from None
    except UnicodeDecodeError:
        raise WebConfigError(f"--web.config.file {path}: not UTF-8 text") from None
    except OSError as exc:
        raise WebConfigError(f"--web.config.file {path}: cannot read it ({_reason(exc)})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WebConfigError(_yaml_problem(path, exc)) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise WebConfigError(f"{path}: expected a mapping at the top (tls_server_config, basic_auth_users)")
    return document


def _yaml_problem(path: Path, error: yaml.YAMLError) -> str:
    """One line, `FILE:LINE:COL: problem`, instead of PyYAML's several. A quoted word is left out:
    it may be part of a password written where a hash belongs."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "not valid YAML"
    problem = _QUOTED.sub(lambda match: match[0] if _harmless(match[1]) else "…", problem)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    return f"{where}: not valid YAML: {problem}"


_QUOTED = re.compile(r"'([^']*)'")


def _harmless(quoted: str) -> bool:
    return (len(quoted) == 1 and not quoted.isalnum()) or re.fullmatch(r"<[a-z ]{1,30}>", quoted) is not None


def _reason(error: OSError) -> str:
    return (error.strerror or "error").lower()


def _users(section: object, problems: _Problems) -> dict[str, bytes]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        problems.add("basic_auth_users", "expected a mapping of user names to bcrypt hashes")
        return {}
    users = {}
    for user, hashed in section.items():
        name = clean_controls(str(user))
        if isinstance(hashed, str) and _BCRYPT_HASH.fullmatch(hashed):
            users[str(user)] = hashed.encode()
        elif isinstance(hashed, str) and hashed.startswith("$2"):
            problems.add(f"basic_auth_users.{name}", "not a valid bcrypt hash ($2y$, $2b$ or $2a$, a cost of 04 "
                                                     "to 31, then 53 characters)")
        else:  # never echoed: it is likely the password itself
            problems.add(f"basic_auth_users.{name}", f"not a bcrypt hash: write the hash, never the password; "
                         f"make one with `htpasswd -nBC 10 {name} | cut -d: -f2-` or `python3 -c 'import bcrypt, "
                         "getpass; print(bcrypt.hashpw(getpass.getpass().encode(), bcrypt.gensalt(10)).decode())'`")
    return users


# ---------------------------------------------------------------- TLS

class _EncryptedKeyError(Exception):
    """The key file asks for a passphrase, which the format cannot give."""


def _no_passphrase() -> bytes:
    raise _EncryptedKeyError  # else OpenSSL would ask on the terminal and the daemon would hang


def _tls(section: object, base: Path, problems: _Problems) -> ssl.SSLContext | None:
    if not section:
        return None
    if not isinstance(section, dict):
        problems.add("tls_server_config", "expected a mapping (cert_file, key_file, ...)")
        return None
    found = len(problems)
    for key in sorted(set(section) - _TLS_KEYS, key=str):
        problems.add(f"tls_server_config.{clean_controls(str(key))}", "unknown key")
    files = {key: _tls_file(section, key, base, problems) for key in ("cert_file", "key_file", "client_ca_file")}
    auth = _client_auth(section, files["client_ca_file"], problems)
    versions = {key: _version(section, key, problems) for key in ("min_version", "max_version")}
    if len(problems) > found:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert, key = files["cert_file"], files["key_file"]
    assert cert is not None and key is not None and auth is not None
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _EncryptedKeyError:
        problems.add("tls_server_config.key_file", f"{key}: encrypted with a passphrase, which this format cannot "
                     f"give: store it decrypted, readable by the exporter alone (openssl pkey -in {key} -out FILE)")
        return None
    except ssl.SSLError as exc:
        problems.add("tls_server_config", f"cert_file {cert} and key_file {key} cannot be used: {_ssl_reason(exc)}")
        return None
    context.verify_mode = _CLIENT_AUTH[auth]
    ca = files["client_ca_file"]
    if ca is not None:
        try:
            context.load_verify_locations(ca)
        except ssl.SSLError as exc:
            problems.add("tls_server_config.client_ca_file", f"{ca}: cannot be used: {_ssl_reason(exc)}")
            return None
    context.minimum_version = versions["min_version"] or ssl.TLSVersion.TLSv1_2
    if versions["max_version"] is not None:
        context.maximum_version = versions["max_version"]
    return context


def _tls_file(section: dict, key: str, base: Path, problems: _Problems) -> Path | None:
    """The file `key` names (relative to the configuration's folder), checked readable; None
    when it is not given or cannot be read (the problem noted)."""
    value = section.get(key)
    if not value:
        if key != "client_ca_file":
            problems.add(f"tls_server_config.{key}", "missing (TLS needs both cert_file and key_file)")
        return None
    path = base / str(value)
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        problems.add(f"tls_server_config.{key}", f"{path}: no such file")
        return None
    except IsADirectoryError:
        problems.add(f"tls_server_config.{key}", f"{path}: a folder, not a file")
        return None
    except OSError as exc:
        problems.add(f"tls_server_config.{key}", f"{path}: cannot read it ({_reason(exc)})")
        return None
    return path


def _client_auth(section: dict, ca: Path | None, problems: _Problems) -> str | None:
    auth = section.get("client_auth_type", "NoClientCert")
    key = "tls_server_config.client_auth_type"
    if auth in _UNVERIFIED:
        problems.add(key, f"{auth} (a certificate accepted without checking it) is not supported: use "
                          "VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file")
        return None
    if auth not in _CLIENT_AUTH:
        problems.add(key, f"{clean_controls(repr(auth))} is not one of {', '.join(_CLIENT_AUTH)}")
        return None
    if auth in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven") and ca is None \
            and not section.get("client_ca_file"):
        problems.add(key, f"{auth} needs client_ca_file (the CA that signs the clients' certificates)")
        return None
    return auth


def _version(section: dict, key: str, problems: _Problems) -> ssl.TLSVersion | None:
    value = section.get(key)
    if value is None:
        return None
    if value not in _VERSIONS:
        problems.add(f"tls_server_config.{key}", f"{clean_controls(repr(value))} is not one of "
                                                 f"{', '.join(_VERSIONS)}")
        return None
    return _VERSIONS[value]


def _ssl_reason(error: ssl.SSLError) -> str:
    reason = str(error.reason or "").upper()
    if "KEY_VALUES_MISMATCH" in reason:
        return "the key does not belong to the certificate"
    if "NO_START_LINE" in reason or "PEM" in reason or "NO_CERTIFICATE" in reason:
        return f"not in PEM format ({error.reason})"
    return str(error.reason or error)
