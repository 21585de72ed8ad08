"""One SSH session with a switch -> the transcript text.

Log in once (one authentication attempt: the password or the one configured key), check the
host key per policy, open one shell with a PTY, learn the prompt, switch paging off, run the
platform's show commands, leave with `exit`. The transcript is what the device printed from the
prompt before the first show command on (CRLF made LF, pager prompts removed), after a header
line naming the device. Only allow-listed commands are ever written to the device.

Failures raise CollectError with a `reason` from REASONS and a message for people; neither ever
holds a password, a passphrase or a key file path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh
from asyncssh.kex import get_default_kex_algs

from lic_exporter.model.vocabulary import COLLECT_REASONS

if TYPE_CHECKING:
    from lic_exporter.collect.config import Secret, Target

log = logging.getLogger("lic_exporter.collect.session")

ALLOWED = ("show ", "terminal ")  # plus the exact command EXIT
EXIT = "exit"
COMMANDS: dict[str, tuple[str, ...]] = {
    "nxos": ("show clock", "show license status", "show license usage",
             "show running-config callhome", "show callhome"),
    "iosxe": ("show clock", "show license status", "show license usage"),
}
# Best effort: a device that refuses one of these still pages, and the pager is answered.
TERMINAL_SETUP = ("terminal length 0", "terminal width 511")
REASONS = COLLECT_REASONS

PAGER_KEY = " "  # the one keystroke besides allowed commands: it answers a `--More--`
TERM_TYPE = "vt100"
TERM_SIZE = (511, 24)  # columns, rows
PROMPT_SETTLE = 0.2  # seconds of quiet after a prompt-like last line before it is taken
MAX_TRANSCRIPT_CHARS = 8 << 20  # a device printing without end is cut off here
_READ_SIZE = 65536
# Prompts and pager prompts are short: only this much of the end of the received text is
# looked at after each chunk, so that a huge line costs no more than a short one.
_TAIL = 1024

# Legacy algorithms, offered only with `legacy_algorithms: true`. asyncssh's defaults include
# SHA-1 key exchange and the ssh-rsa (SHA-1) signature: they are taken out otherwise.
LEGACY_KEX = ("diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1")
LEGACY_HOST_KEY_ALGS = ("ssh-rsa",)
_MODERN_KEX = tuple(alg.decode() for alg in get_default_kex_algs()
                    if not alg.startswith(b"gss-") and not alg.endswith(b"-sha1"))

# Characters that never belong in a show command: control characters (a newline would start
# another command), NX-OS command chaining `;`, output redirection `>` and pipes `|`
# (`| redirect`, `| tee` write files on the device).
_UNSAFE_COMMAND = re.compile(r"[^\x20-\x7e]|[;|>]")
_MAX_COMMAND = 200

# A prompt: host name, optional mode in parentheses, `#` or `>`, at most one space, nothing
# else on the line. Banner lines (spaces, punctuation, longer) do not look like this.
_PROMPT_LIKE = re.compile(r"[A-Za-z0-9][\w.\-:/]{0,80}(?:\([\w\-/.:]{0,40}\))?[#>] ?")
_SGR = r"(?:\x1b\[[0-9;]*m)?"
_PAGER = r"(?:-- ?More ?--|<-+ More -+>)"
# A pager prompt waiting for its key: at the end of what was received.
_PAGER_WAITING = re.compile(_SGR + _PAGER + r"(?:\x1b\[[0-9;]*m|[ \t])*\Z")
# A pager prompt and the erasure the device sent after the key (backspaces over it, or a
# carriage return with spaces over it, or erase-to-end-of-line).
_PAGER_REMNANT = re.compile(r"[ \t]?" + _SGR + _PAGER + _SGR + r"[ \t]?"
                            + r"(?:\x08+(?:[ \t]+\x08+)?|\r(?:[ \t]+\r)?|\x1b\[K)*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CRLF = re.compile(r"\r+\n")
_REJECTED = re.compile(
    r"^[ \t]*%[ \t]*(?:(?:Invalid|Incomplete|Ambiguous|Unrecognized|Unknown) (?:command|input|parameter)"
    r"|Permission denied|Authorization failed)[^\n]*"
    r"|^[ \t]*Command authorization failed[^\n]*",
    re.IGNORECASE | re.MULTILINE)
_SESSION_LIMIT = re.compile(
    r"session limit|maximum (?:number of )?(?:sessions|users|vty|connections|logins)"
    r"|too many (?:sessions|users|connections|logins)"
    r"|all (?:vty )?(?:lines|sessions|ports) (?:are )?(?:busy|in use)"
    r"|no (?:free|available|more) (?:vty|lines?|sessions?)",
    re.IGNORECASE)


def allowed(command: str) -> bool:
    """Whether `command` may be sent to a device: `show ...`, `terminal ...` or `exit`, one
    line of printable ASCII without chaining, pipes or redirection."""
    if not command or len(command) > _MAX_COMMAND or _UNSAFE_COMMAND.search(command):
        return False
    if command == EXIT:
        return True
    return any(command.startswith(prefix) and command[len(prefix):].strip() for prefix in ALLOWED)


def _sendable(data: str) -> bool:
    """What may be written to the channel: an allowed command and its newline, or the pager key."""
    return data == PAGER_KEY or (data.endswith("\n") and allowed(data[:-1]))


class CollectError(Exception):
    """A failed collection: `reason` is one of REASONS, `message` is for people."""

    def __init__(self, reason: str, message: str):
        if reason not in REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


# ---------------------------------------------------------------------------------------------
# The whole device
# ---------------------------------------------------------------------------------------------

async def collect_device(target: Target, secret: Secret) -> str:
    """Log in to `target`, run its platform's commands, return the transcript text."""
    # Python 3.11's asyncio.wait_for (used inside asyncssh) can swallow a cancellation that
    # meets a finishing read, so the shell checks the device deadline itself as well.
    deadline = asyncio.get_running_loop().time() + target.device_timeout
    limit = asyncio.timeout_at(deadline)
    try:
        async with limit:
            return await _collect(target, secret, deadline)
    except (TimeoutError, CollectError) as exc:
        if limit.expired():
            raise CollectError("timeout", f"not done within device_timeout {target.device_timeout:g} s") from None
        if isinstance(exc, CollectError):
            raise _scrubbed(exc, secret) from None
        raise CollectError("timeout", "timed out") from None
    except AssertionError:
        raise  # the allow-list refused a command: a bug, never a device's failure
    except Exception as exc:  # a failure of one device must not end the run
        # The frames only: an exception's text is not known to be free of secrets.
        log.warning("%s: unexpected %s in the session:\n%s", target.name, type(exc).__name__,
                    "".join(traceback.format_tb(exc.__traceback__)).rstrip())
        raise CollectError("other", f"unexpected {type(exc).__name__} in the session") from None


def _scrubbed(error: CollectError, secret: Secret) -> CollectError:
    """The error without any secret in its message (a second line of defence: no message is
    built from one)."""
    message = error.message
    for value in (secret.password, secret.passphrase, str(secret.key_file) if secret.key_file else None):
        if value and len(value) >= 3 and value in message:
            message = message.replace(value, "***")
    return error if message == error.message else CollectError(error.reason, message)


async def _collect(target: Target, secret: Secret, deadline: float) -> str:
    platform_commands = COMMANDS.get(target.platform)
    if platform_commands is None:
        raise CollectError("other", f"unknown platform {target.platform!r}")
    check = _HostKeyCheck(target)
    conn = await _connect(target, secret, check)
    try:
        text = await _run_session(conn, target, platform_commands, deadline)
    except BaseException:
        conn.abort()
        raise
    conn.close()
    # The transcript is complete: how the device hangs up does not matter.
    with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
        async with asyncio.timeout(1.0):
            await conn.wait_closed()
    return text


# ---------------------------------------------------------------------------------------------
# Connecting: one authentication attempt, host key policy, algorithms
# ---------------------------------------------------------------------------------------------

class _HostKeyCheck:
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


class _Client(asyncssh.SSHClient):
    def __init__(self, check: _HostKeyCheck):
        self._check = check

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._check.conn = conn

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        return self._check.unknown_key(key)


def _load_key(secret: Secret) -> asyncssh.SSHKey:
    """The configured private key; errors name neither the file nor the passphrase."""
    try:
        return asyncssh.read_private_key(secret.key_file, secret.passphrase)
    except asyncssh.KeyEncryptionError:
        raise CollectError("other", "the configured key cannot be decrypted (wrong or missing passphrase)") from None
    except asyncssh.KeyImportError:
        raise CollectError("other", "the configured key file is not a private key that can be read "
                                    "(or it is encrypted and no passphrase was configured)") from None
    except OSError as exc:
        raise CollectError("other", f"the configured key file cannot be read: {exc.strerror}") from None


def _connect_options(target: Target, secret: Secret, check: _HostKeyCheck) -> dict[str, Any]:
    """asyncssh.connect() options: one authentication method with one credential, nothing
    from ~/.ssh (no agent, no default keys, no config file), algorithms per legacy_algorithms."""
    if secret.key_file is not None:
        method, keys, password = "publickey", [_load_key(secret)], None
    elif secret.password is not None:
        method, keys, password = "password", None, secret.password
    else:
        raise CollectError("other", "no password or key to log in with")
    legacy = bool(target.legacy_algorithms)
    return {
        "port": target.port,
        "username": target.credential.username,
        "password": password,
        "client_keys": keys,
        "agent_path": None,
        "agent_forwarding": False,
        "preferred_auth": method,
        "public_key_auth": method == "publickey",
        "password_auth": method == "password",
        "kbdint_auth": False,
        "host_based_auth": False,
        "gss_host": None,
        "config": None,
        "x509_trusted_certs": None,
        "known_hosts": check.known_hosts,
        "client_factory": lambda: _Client(check),
        "kex_algs": list(_MODERN_KEX + LEGACY_KEX) if legacy else list(_MODERN_KEX),
        # "-ssh-rsa" leaves asyncssh's choice (the types recorded for the host, else its
        # defaults) without the SHA-1 signature; () is that choice with it.
        "server_host_key_algs": () if legacy else "-" + ",".join(LEGACY_HOST_KEY_ALGS),
        "signature_algs": () if legacy else "-" + ",".join(LEGACY_HOST_KEY_ALGS),
        "connect_timeout": target.connect_timeout,
        "keepalive_interval": 0,
    }


async def _connect(target: Target, secret: Secret, check: _HostKeyCheck) -> asyncssh.SSHClientConnection:
    options = _connect_options(target, secret, check)
    try:
        conn = await asyncssh.connect(target.host, **options)
    except Exception as exc:  # every failure is classified
        raise _connect_failure(exc, target, check) from None
    log.debug("%s: logged in to %s:%d", target.name, target.host, target.port)
    return conn


_LEGACY_HINT = "; an old switch may need legacy_algorithms: true (SHA-1 key exchange, ssh-rsa)"


def _connect_failure(exc: Exception, target: Target, check: _HostKeyCheck) -> CollectError:
    where = f"{target.host}:{target.port}"
    if isinstance(exc, CollectError):
        return exc
    if isinstance(exc, TimeoutError):
        return CollectError("timeout", f"no SSH login to {where} within connect_timeout {target.connect_timeout:g} s")
    if isinstance(exc, asyncssh.PermissionDenied):
        return CollectError("auth", f"login refused for user {target.credential.username} at {where}")
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return check.error() if check.problem else CollectError("hostkey", f"host key of {where}: {exc.reason}")
    if isinstance(exc, asyncssh.KeyExchangeFailed):
        if target.legacy_algorithms:
            return CollectError("connect", f"no algorithm in common with {where}, even the legacy ones: {exc.reason}")
        return CollectError("connect", f"no algorithm in common with {where} ({exc.reason})" + _LEGACY_HINT)
    if isinstance(exc, asyncssh.DisconnectError):
        if exc.code == asyncssh.DISC_TOO_MANY_CONNECTIONS or _SESSION_LIMIT.search(exc.reason):
            return CollectError("session_limit", f"{where} refused another session: {exc.reason}")
        if isinstance(exc, asyncssh.ConnectionLost):
            if check.key_exchange_done():
                return CollectError("connect", f"{where} closed the connection during the login: {exc.reason}")
            # A switch that finds no algorithm in common may hang up before saying why.
            return CollectError("connect", f"{where} closed the connection before the key exchange completed: "
                                           f"{exc.reason}" + ("" if target.legacy_algorithms else _LEGACY_HINT))
        return CollectError("other", f"SSH with {where}: {exc.reason}")
    if isinstance(exc, socket.gaierror):
        return CollectError("connect", f"host name {target.host} not resolved: {exc.strerror}")
    if isinstance(exc, ConnectionRefusedError):
        return CollectError("connect", f"connection to {where} refused")
    if isinstance(exc, OSError):
        return CollectError("connect", f"cannot connect to {where}: {exc.strerror or exc}")
    if isinstance(exc, asyncssh.Error):
        return CollectError("other", f"SSH with {where}: {exc.reason}")
    return CollectError("other", f"connecting to {where}: {type(exc).__name__}")


# ---------------------------------------------------------------------------------------------
# The shell
# ---------------------------------------------------------------------------------------------

async def _run_session(conn: asyncssh.SSHClientConnection, target: Target, commands: Sequence[str],
                       deadline: float) -> str:
    try:
        async with asyncio.timeout(target.command_timeout):
            process = await conn.create_process(term_type=TERM_TYPE, term_size=TERM_SIZE, stderr=asyncssh.STDOUT,
                                                encoding="utf-8", errors="replace")
    except TimeoutError:
        raise CollectError("timeout", f"no shell within command_timeout {target.command_timeout:g} s") from None
    except asyncssh.ChannelOpenError as exc:
        raise CollectError("session_limit", f"the device refused a CLI session: {exc.reason}") from None
    except (asyncssh.Error, OSError) as exc:
        raise CollectError("disconnect", f"the session ended before the shell started: {exc}") from None
    shell = _Shell(process, target.command_timeout, deadline, target.device_timeout)
    try:
        await shell.learn_prompt()
        for setup in TERMINAL_SETUP:
            await shell.run(setup, learning=setup == TERMINAL_SETUP[0])
        collected = datetime.now(UTC)
        start = shell.line_start()
        for command in commands:
            output = await shell.run(command)
            rejected = _REJECTED.search(output)
            if rejected:
                raise CollectError("command", f"the device rejected {command!r}: {rejected.group(0).strip()}")
        body = shell.transcript(start)
        shell.leave()
    finally:
        process.close()
    stamp = collected.strftime("%Y-%m-%dT%H:%M:%SZ")
    log.debug("%s: %d commands collected", target.name, len(commands))
    return f"! lic-exporter transcript device={target.name} platform={target.platform} collected={stamp}\n{body}"


def _visible(line: str) -> str:
    """A received line as a terminal shows it: pager prompts gone, only what follows the last
    carriage return, no escape sequences."""
    line = _PAGER_REMNANT.sub("", line)
    return _ANSI.sub("", line.rsplit("\r", 1)[-1])


class _Shell:
    """The received text of one shell, and waiting for the prompt."""

    def __init__(self, process: asyncssh.SSHClientProcess, command_timeout: float, device_deadline: float,
                 device_timeout: float):
        self._process = process
        self._timeout = command_timeout
        self._device_deadline = device_deadline
        self._device_timeout = device_timeout
        self.text = ""  # everything received, CRLF made LF
        self.prompt = ""
        self._held = ""  # carriage returns at the end of a chunk: an LF may follow
        self._pager_answered = 0  # offset in text up to which pager prompts were answered
        self._loop = asyncio.get_running_loop()

    # -- sending -------------------------------------------------------------------------------

    def _write(self, data: str) -> None:
        # The allow-list, checked at the one place that writes to the device (an assert that
        # `python -O` cannot strip).
        if not _sendable(data):
            raise AssertionError(f"refusing to send {data!r}: not an allowed command")
        try:
            self._process.stdin.write(data)
        except (asyncssh.Error, OSError) as exc:
            raise CollectError("disconnect", f"the session closed: {exc}") from None

    def leave(self) -> None:
        with contextlib.suppress(CollectError):  # already gone: the transcript is complete
            self._write(EXIT + "\n")

    # -- receiving -----------------------------------------------------------------------------

    async def _receive(self, timeout: float) -> bool:
        """One chunk within `timeout` (TimeoutError otherwise); False when the session ended."""
        try:
            async with asyncio.timeout(timeout):
                chunk = await self._process.stdout.read(_READ_SIZE)
        except TimeoutError:  # an OSError too: not a lost connection
            raise
        except (asyncssh.Error, OSError):
            return False
        if not chunk:
            return False
        self._add(chunk)
        self._answer_pager()
        return True

    def _add(self, chunk: str) -> None:
        chunk = self._held + chunk
        kept = chunk.rstrip("\r")
        self._held = chunk[len(kept):]
        self.text += _CRLF.sub("\n", kept)
        if len(self.text) > MAX_TRANSCRIPT_CHARS:
            raise CollectError("other", f"the device sent more than {MAX_TRANSCRIPT_CHARS} characters")

    def _answer_pager(self) -> None:
        start = max(self.text.rfind("\n", len(self.text) - _TAIL) + 1, len(self.text) - _TAIL, self._pager_answered)
        waiting = _PAGER_WAITING.search(self.text, start)
        if waiting:
            self._write(PAGER_KEY)
            self._pager_answered = waiting.end()

    def _last_line(self) -> str:
        """The last line as a terminal shows it; "" for a line longer than any prompt."""
        lowest = max(0, len(self.text) - _TAIL)
        newline = self.text.rfind("\n", lowest)
        if newline < 0 and lowest > 0:
            return ""
        return _visible(self.text[newline + 1:])

    def line_start(self) -> int:
        return self.text.rfind("\n") + 1

    def _deadline_left(self, deadline: float, waiting_for: str) -> float:
        """Seconds left to wait: the command's limit, and the device's."""
        now = self._loop.time()
        if now >= self._device_deadline:
            raise CollectError("timeout", f"not done within device_timeout {self._device_timeout:g} s")
        if now >= deadline:
            raise CollectError("timeout", f"no prompt {waiting_for} within command_timeout {self._timeout:g} s")
        return min(deadline, self._device_deadline) - now

    def _ended(self, when: str, since: int = 0) -> CollectError:
        limit = _SESSION_LIMIT.search(self.text, since)
        if limit:
            start = self.text.rfind("\n", 0, limit.start()) + 1
            end = self.text.find("\n", limit.end())
            line = self.text[start:end if end >= 0 else None].strip()
            return CollectError("session_limit", f"the device refused another CLI session: {line}")
        return CollectError("disconnect", f"the session ended {when}")

    async def learn_prompt(self) -> None:
        """The prompt: the last line once output pauses, when it looks like a prompt (a banner
        line ends with a newline, so it never is the last line; one that looks like a prompt
        without a newline is caught when the first command's prompt differs)."""
        deadline = self._loop.time() + self._timeout
        while True:
            left = self._deadline_left(deadline, "after login")
            line = self._last_line()
            candidate = _PROMPT_LIKE.fullmatch(line) is not None
            try:
                got = await self._receive(min(left, PROMPT_SETTLE) if candidate else left)
            except TimeoutError:
                if candidate:
                    self.prompt = line
                    return
                continue  # the deadline check above raises
            if not got:
                raise self._ended("after login, before the prompt")

    async def run(self, command: str, learning: bool = False) -> str:
        """Send one command; its output (from the echo to the prompt line) once the echo has
        come back and then the prompt, at the start of a line (waiting for the echo keeps a
        late prompt of the previous command from ending this one). While `learning`, a
        different prompt-like last line followed by quiet replaces the prompt guessed at login."""
        since = scanned = len(self.text)
        self._write(command + "\n")
        deadline = self._loop.time() + self._timeout
        echo = -1
        while True:
            left = self._deadline_left(deadline, f"after {command!r}")
            if echo < 0:
                echo = self.text.find(command, scanned)
                scanned = max(since, len(self.text) - len(command))
            line = self._last_line() if echo >= 0 and self.text.find("\n", echo) >= 0 else None
            if line is not None and line.rstrip() == self.prompt.rstrip():
                return self.text[since:]
            relearn = learning and line is not None and _PROMPT_LIKE.fullmatch(line) is not None
            try:
                got = await self._receive(min(left, PROMPT_SETTLE) if relearn else left)
            except TimeoutError:
                if relearn and line is not None:
                    log.debug("prompt %r after the first command, not %r", line, self.prompt)
                    self.prompt = line
                    return self.text[since:]
                continue
            if not got:
                raise self._ended(f"during {command!r}", since)

    def transcript(self, start: int) -> str:
        """From `start` (a prompt line) to the end: pager prompts removed, ending with the
        prompt line."""
        return _PAGER_REMNANT.sub("", self.text[start:]).rstrip(" \t") + "\n"
