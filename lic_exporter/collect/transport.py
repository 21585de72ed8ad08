"""The SSH transport to one switch: connect and log in (one authentication attempt), check
the host key per policy, offer the algorithms `legacy_algorithms` allows, and say in words
and in a contract reason why a login failed.

Nothing from ~/.ssh is used (no agent, no default keys, no config file): a login uses the one
credential configured, once. A password goes by `password` authentication, or, where the
switch offers only `keyboard-interactive` (TACACS+/RADIUS AAA), as the answer to a single
prompt that asks for a password with echo off; any other question is refused. A key goes by
`publickey` only. A refusal that never saw the credential (no method it could go by) is
`auth_method`, not `auth`: it says nothing about the credential, and never counts towards
suspending it. No failure message holds a password, a passphrase or a key file path, and what
the switch said (a disconnect reason, a prompt) is quoted only through `printable`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh
from asyncssh.kex import get_default_kex_algs

from lic_exporter.collect.failures import CollectError
from lic_exporter.sources.printable import printable
from lic_exporter.sources.terminal import SESSION_LIMIT

if TYPE_CHECKING:
    from lic_exporter.collect.targets import Secret, Target

log = logging.getLogger("lic_exporter.collect.session")  # the name log lines print (logger=): kept

# Legacy algorithms, offered only with `legacy_algorithms: true`. asyncssh's defaults include
# SHA-1 key exchange and the ssh-rsa (SHA-1) signature: they are taken out otherwise.
LEGACY_KEX = ("diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1")
LEGACY_HOST_KEY_ALGS = ("ssh-rsa",)
_MODERN_KEX = tuple(alg.decode() for alg in get_default_kex_algs()
                    if not alg.startswith(b"gss-") and not alg.endswith(b"-sha1"))
_LEGACY_HINT = "; an old switch may need legacy_algorithms: true (SHA-1 key exchange, ssh-rsa)"
# A keyboard-interactive prompt that asks for the password (`Password:`, `Passcode:`,
# `licmon@10.1.1.1's password:`); any other question gets no answer.
PASSWORD_PROMPT = re.compile(r"pass(?:word|code)", re.IGNORECASE)


class HostKeyCheck:
    """The host key policy of one connection.

    accept-new: a host without an entry is trusted on first use and its key appended to the
    known_hosts file; strict: the host must have an entry; insecure: no check. A key other than
    the recorded one is refused under accept-new and strict. asyncssh asks `trusted()` for the
    entries matching the host and its address, and `unknown_key()` about any key not among them.
    """

    def __init__(self, target: Target):
        self.policy = target.host_key_policy
        self.host, self.port = target.host, target.port
        self.path: Path | None = Path(target.known_hosts) if target.known_hosts is not None else None
        self.problem: str | None = None  # "unknown", "changed", or why a new key was not recorded
        self.offered: asyncssh.SSHKey | None = None
        self.conn: asyncssh.SSHClientConnection | None = None  # once the TCP connection is made
        self._matched: Sequence[Any] = ()
        self._entries: asyncssh.SSHKnownHosts | None = None
        if self.policy == "insecure":
            return
        if self.policy not in ("accept-new", "strict"):
            raise CollectError("other", f"unknown host_key_policy {self.policy!r}")
        if self.path is None:
            raise CollectError("other", f"host_key_policy {self.policy} needs a known_hosts file")
        self._entries = _known_hosts(self.path)

    @property
    def known_hosts(self) -> Any:
        """asyncssh's `known_hosts` argument: None (no check) or the matching function."""
        return None if self.policy == "insecure" else self.trusted

    def trusted(self, host: str, addr: str, port: int | None) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any]]:
        """Host keys, CA keys and revoked keys recorded for the host or its address."""
        if self._entries is None:
            return (), (), ()
        host_keys, ca_keys, revoked, *_ = self._entries.match(host, addr, port)
        self._matched = host_keys
        return host_keys, ca_keys, revoked

    def unknown_key(self, key: asyncssh.SSHKey) -> bool:
        """Whether to accept a key that is not among the recorded ones."""
        self.offered = key
        if self._matched:
            self.problem = "changed"
            return False
        if self.policy == "strict":
            self.problem = "unknown"
            return False
        try:
            self._record(key)
        except OSError as exc:
            self.problem = f"cannot record it in the known_hosts file: {exc.strerror}"
            return False
        log.info("%s:%d: host key %s %s recorded (trust on first use)", self.host, self.port,
                 key.get_algorithm(), key.get_fingerprint())
        return True

    def _record(self, key: asyncssh.SSHKey) -> None:
        assert self.path is not None
        pattern = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        algorithm, data = key.export_public_key("openssh").decode("ascii").split()[:2]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as file:
            file.seek(0, os.SEEK_END)
            ends_open = False
            if file.tell():
                file.seek(-1, os.SEEK_END)
                ends_open = file.read(1) != b"\n"
            line = f"{pattern} {algorithm} {data}\n"
            file.write((("\n" + line) if ends_open else line).encode("ascii"))
            file.flush()
            os.fsync(file.fileno())

    def key_exchange_done(self) -> bool:
        """Whether the key exchange completed (the connection knows the server's host key)."""
        return self.conn is not None and self.conn.get_server_host_key() is not None

    def error(self) -> CollectError:
        where = f"{self.host}:{self.port}"
        offered = f"{self.offered.get_algorithm()} {self.offered.get_fingerprint()}" if self.offered else "a key"
        if self.problem == "changed":
            return CollectError("hostkey", f"host key of {where} CHANGED: it offered {offered}, which is not the key "
                                           "recorded in the known_hosts file (remove the old entry only if the change "
                                           "is expected)")
        if self.problem == "unknown":
            return CollectError("hostkey", f"host key of {where} is not in the known_hosts file (host_key_policy "
                                           f"strict); it offered {offered}")
        if self.problem:
            return CollectError("other", f"host key of {where} ({offered}): {self.problem}")
        return CollectError("hostkey", f"host key of {where} not accepted")


_KNOWN_HOSTS_CACHE: dict[Path, tuple[tuple[int, int, int], asyncssh.SSHKnownHosts | None]] = {}


def _known_hosts(path: Path) -> asyncssh.SSHKnownHosts | None:
    """The parsed known_hosts file (None when missing or empty). Parsed again only when the
    file changed: a fleet shares one file, and parsing it for every login would cost more
    than the logins."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CollectError("other", f"cannot read the known_hosts file: {exc.strerror}") from None
    version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _KNOWN_HOSTS_CACHE.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        entries = asyncssh.import_known_hosts(text) if text.strip() else None
    except OSError as exc:
        raise CollectError("other", f"cannot read the known_hosts file: {exc.strerror}") from None
    except (ValueError, asyncssh.KeyImportError) as exc:
        raise CollectError("other", f"cannot read the known_hosts file: {exc}") from None
    if len(_KNOWN_HOSTS_CACHE) >= 8:
        _KNOWN_HOSTS_CACHE.clear()
    _KNOWN_HOSTS_CACHE[path] = (version, entries)
    return entries


class Login:
    """The one credential of one connection, handed out once: whether it was sent (a refusal
    after that is `auth`, before it `auth_method`), and the question refused, if any."""

    def __init__(self, password: str | None = None, key: asyncssh.SSHKey | None = None):
        self._password = password
        self._key = key
        self.sent = False
        self.refused: str | None = None  # a keyboard-interactive question not answered, printable

    def key(self) -> asyncssh.SSHKey | None:
        if self._key is None or self.sent:
            return None
        self.sent = True
        return self._key

    def password(self) -> str | None:
        if self._password is None or self.sent:
            return None
        self.sent = True
        return self._password

    def wants_kbdint(self) -> bool:
        return self._password is not None and not self.sent

    def answer(self, instructions: str, prompts: Sequence[tuple[str, bool]]) -> list[str] | None:
        """The answers to one keyboard-interactive challenge: none to a message without
        questions, the password to a lone password prompt with echo off (once), else a refusal
        (None)."""
        if not prompts:
            return []
        question, echo = prompts[0]
        if len(prompts) == 1 and not echo and PASSWORD_PROMPT.search(question):
            password = self.password()
            if password is not None:
                return [password]
        questions = " / ".join(printable(text, 60) for text, _ in prompts[:4])
        self.refused = printable(f"{questions}{' (echoed)' if echo else ''}" if questions else instructions)
        return None


class _Client(asyncssh.SSHClient):
    def __init__(self, check: HostKeyCheck, login: Login):
        self._check = check
        self.login = login
        self.lost: Exception | None = None  # why the connection ended, once it has

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._check.conn = conn
        conn.set_extra_info(lic_exporter_client=self)  # asyncssh forgets a connection's owner when it closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        return self._check.unknown_key(key)

    def public_key_auth_requested(self) -> Any:
        key = self.login.key()
        return [key] if key is not None else None

    def password_auth_requested(self) -> str | None:
        return self.login.password()

    def kbdint_auth_requested(self) -> str | None:
        return "" if self.login.wants_kbdint() else None  # "": the server chooses the submethod

    def kbdint_challenge_received(self, name: str, instructions: str, lang: str,
                                  prompts: Sequence[tuple[str, bool]]) -> list[str] | None:
        return self.login.answer(instructions, prompts)


def closed_by_device(conn: asyncssh.SSHClientConnection) -> str | None:
    """None while the connection is open; once it is closed, why, in the device's words made
    printable ("" when it said nothing)."""
    if not conn.is_closed():
        return None
    lost = _lost(conn)
    return printable(lost.reason) if isinstance(lost, asyncssh.DisconnectError) and lost.reason else ""


def _lost(conn: asyncssh.SSHClientConnection) -> Exception | None:
    client = conn.get_extra_info("lic_exporter_client")
    return client.lost if isinstance(client, _Client) else None


def said_session_limit(conn: asyncssh.SSHClientConnection) -> bool:
    """Whether the device said, when it ended the connection, that it refuses another session."""
    lost = _lost(conn)
    return isinstance(lost, asyncssh.DisconnectError) and (
        lost.code == asyncssh.DISC_TOO_MANY_CONNECTIONS or SESSION_LIMIT.search(lost.reason) is not None)


def _load_key(key_file: Path, passphrase: str | None) -> asyncssh.SSHKey:
    """The configured private key; errors name neither the file nor the passphrase."""
    try:
        return asyncssh.read_private_key(key_file, passphrase)
    except asyncssh.KeyEncryptionError:
        raise CollectError("other", "the configured key cannot be decrypted (wrong or missing passphrase)") from None
    except asyncssh.KeyImportError:
        raise CollectError("other", "the configured key file is not a private key that can be read "
                                    "(or it is encrypted and no passphrase was configured)") from None
    except OSError as exc:
        raise CollectError("other", f"the configured key file cannot be read: {exc.strerror}") from None


def _connect_options(target: Target, secret: Secret, check: HostKeyCheck) -> tuple[dict[str, Any], Login]:
    """asyncssh.connect() options: one credential, handed out once by the client object (not
    by asyncssh's own `password`/`client_keys`, so that it knows whether the credential was
    sent), nothing from ~/.ssh (no agent, no default keys, no config file), algorithms per
    legacy_algorithms."""
    methods: tuple[str, ...]
    if secret.key_file is not None:
        login, methods = Login(key=_load_key(secret.key_file, secret.passphrase)), ("publickey",)
    elif secret.password is not None:
        login, methods = Login(password=secret.password), ("password", "keyboard-interactive")
    else:
        raise CollectError("other", "no password or key to log in with")
    legacy = bool(target.legacy_algorithms)
    return {
        "port": target.port,
        "username": target.credential.username,
        "password": None,
        "client_keys": None,  # None: no default keys; the client object hands out the one key
        "agent_path": None,
        "agent_forwarding": False,
        "preferred_auth": ",".join(methods),
        "public_key_auth": "publickey" in methods,
        "password_auth": "password" in methods,
        "kbdint_auth": "keyboard-interactive" in methods,
        "host_based_auth": False,
        "gss_host": None,
        "config": None,
        "x509_trusted_certs": None,
        "known_hosts": check.known_hosts,
        "client_factory": lambda: _Client(check, login),
        "kex_algs": list(_MODERN_KEX + LEGACY_KEX) if legacy else list(_MODERN_KEX),
        # "-ssh-rsa" leaves asyncssh's choice (the types recorded for the host, else its
        # defaults) without the SHA-1 signature; () is that choice with it.
        "server_host_key_algs": () if legacy else "-" + ",".join(LEGACY_HOST_KEY_ALGS),
        "signature_algs": () if legacy else "-" + ",".join(LEGACY_HOST_KEY_ALGS),
        "connect_timeout": target.connect_timeout,
        "keepalive_interval": 0,
    }, login


async def connect(target: Target, secret: Secret) -> asyncssh.SSHClientConnection:
    """A logged-in SSH connection to `target`, its host key checked per policy; CollectError
    with the failure classified otherwise."""
    check = HostKeyCheck(target)
    options, login = _connect_options(target, secret, check)
    try:
        conn = await asyncssh.connect(target.host, **options)
    except Exception as exc:  # every failure is classified
        raise _connect_failure(exc, target, check, login) from None
    log.debug("%s: logged in to %s:%d", target.name, target.host, target.port)
    return conn


def _connect_failure(exc: Exception, target: Target, check: HostKeyCheck, login: Login) -> CollectError:
    where = f"{target.host}:{target.port}"
    if isinstance(exc, CollectError):
        return exc
    if isinstance(exc, TimeoutError):
        return CollectError("timeout", f"no SSH login to {where} within connect_timeout {target.connect_timeout:g} s")
    if isinstance(exc, asyncssh.PermissionDenied):
        return _refused(target, where, login)
    reason = printable(getattr(exc, "reason", "") or "")
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return check.error() if check.problem else CollectError("hostkey", f"host key of {where}: {reason}")
    if isinstance(exc, asyncssh.KeyExchangeFailed):
        if target.legacy_algorithms:
            return CollectError("connect", f"no algorithm in common with {where}, even the legacy ones: {reason}")
        return CollectError("connect", f"no algorithm in common with {where} ({reason})" + _LEGACY_HINT)
    if isinstance(exc, asyncssh.DisconnectError):
        if exc.code == asyncssh.DISC_TOO_MANY_CONNECTIONS or SESSION_LIMIT.search(exc.reason):
            return CollectError("session_limit", f"{where} refused another session: {reason}")
        if isinstance(exc, asyncssh.ConnectionLost):
            if check.key_exchange_done():
                return CollectError("connect", f"{where} closed the connection during the login: {reason}")
            # A switch that finds no algorithm in common may hang up before saying why.
            return CollectError("connect", f"{where} closed the connection before the key exchange completed: "
                                           f"{reason}" + ("" if target.legacy_algorithms else _LEGACY_HINT))
        return CollectError("other", f"SSH with {where}: {reason}")
    if isinstance(exc, socket.gaierror):
        return CollectError("connect", f"host name {target.host} not resolved: {exc.strerror}")
    if isinstance(exc, ConnectionRefusedError):
        return CollectError("connect", f"connection to {where} refused")
    if isinstance(exc, OSError):
        return CollectError("connect", f"cannot connect to {where}: {exc.strerror or exc}")
    if isinstance(exc, asyncssh.Error):
        return CollectError("other", f"SSH with {where}: {reason}")
    return CollectError("other", f"connecting to {where}: {type(exc).__name__}")


def _refused(target: Target, where: str, login: Login) -> CollectError:
    """A login refusal: `auth` once the credential was sent, `auth_method` before."""
    user = target.credential.username
    if login.sent:
        return CollectError("auth", f"login refused for user {user} at {where}")
    if login.refused is not None:
        return CollectError("auth_method", f"{where} asked '{login.refused}' in its keyboard-interactive login for "
                                           f"user {user}; only a single password prompt is answered, so the "
                                           "credential was not sent")
    kind = "key (publickey)" if target.credential.key_file is not None else \
        "password (password or keyboard-interactive)"
    return CollectError("auth_method", f"{where} offers no login method for the configured {kind} of user "
                                       f"{user}: the credential was not sent")
