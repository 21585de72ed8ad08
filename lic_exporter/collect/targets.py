"""The resolved collection configuration: targets with their credentials, and the collection
settings, as the loader leaves them and the sessions and the scheduler use them.

A credential holds where its secret is and, once the configuration is loaded, the secret
itself (`loaded`, read by the loader: a secret that cannot be read is a configuration error at
start, and a changed password file takes effect at the next reload). It is kept in memory
only. Passwords and passphrases stay out of every repr.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lic_exporter.collect.platforms import Platform
from lic_exporter.sources.secret_files import SecretError, check_key_file, read_env, read_secret_file

HostKeyPolicy = Literal["accept-new", "strict", "insecure"]
HOST_KEY_POLICIES: tuple[HostKeyPolicy, ...] = ("accept-new", "strict", "insecure")

_AT_PLACE = re.compile(r"\d+:\d+: ")
SOURCES = ("password_file", "password_env", "password", "key_file")
# Inline passwords enter Credential.identity only through a keyed hash whose key lives in this
# process alone: an identity written to a log cannot be used to guess the password offline.
_IDENTITY_KEY = secrets.token_bytes(32)


class ConfigError(Exception):
    """The configuration cannot be used. `problems` lists every problem, each "key.path: message"."""

    def __init__(self, problems: Iterable[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def located(self, path: Path) -> list[str]:
        """Each problem as `FILE: key.path: message`, or `FILE:LINE:COL: message` for one at a
        place in the file (a YAML syntax error, a key given twice)."""
        return [f"{path}:{problem}" if _AT_PLACE.match(problem) else f"{path}: {problem}" for problem in self.problems]


def given(names: list[str]) -> str:
    """How many of the exclusive keys a level gave, and which: "2 given: password, key_file"."""
    return f"{len(names)} given: {', '.join(names)}" if names else "none given"


@dataclass(frozen=True)
class Secret:
    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Credential:
    """A user name and exactly one source of its secret, and the secret as the loader read it."""

    username: str
    password_file: Path | None = None
    password_env: str | None = None
    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    key_passphrase_file: Path | None = None
    loaded: Secret | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        named = [name for name in SOURCES if getattr(self, name) is not None]
        if len(named) != 1:
            raise ValueError(f"a credential needs exactly one of {', '.join(SOURCES)} ({given(named)})")
        if self.key_passphrase_file is not None and self.key_file is None:
            raise ValueError("key_passphrase_file needs key_file")

    @property
    def source(self) -> str:
        """Which key holds the secret: password_file, password_env, password or key_file."""
        return next(name for name in SOURCES if getattr(self, name) is not None)

    @property
    def identity(self) -> str:
        """A stable id of this credential for suspension bookkeeping; never the secret."""
        if self.password is not None:
            where = hmac.new(_IDENTITY_KEY, self.password.encode(), hashlib.sha256).hexdigest()
        else:
            where = str(getattr(self, self.source))
        text = "\0".join((self.username, self.source, where))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def fingerprint(self) -> str:
        """A keyed hash of the secret as loaded (for a key, its file's path, size and time): it
        changes when the secret does, so that a reload can lift a suspension the old one caused.
        Never the secret, and of no use outside this process."""
        loaded = self.loaded
        if loaded is None:
            return ""
        parts = [loaded.password or "", loaded.passphrase or ""]
        if loaded.key_file is not None:
            try:
                info = loaded.key_file.stat()
                parts += [str(loaded.key_file), str(info.st_size), str(info.st_mtime_ns)]
            except OSError:
                parts.append(str(loaded.key_file))
        return hmac.new(_IDENTITY_KEY, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:16]

    def secret(self) -> Secret:
        """The secret as loaded with the configuration; read now for a credential made
        elsewhere. Raises ConfigError naming the key and the file or variable, never its content."""
        if self.loaded is not None:
            return self.loaded
        try:
            return self.read()
        except SecretError as error:
            raise ConfigError(f"{self.source}: {error}") from None

    def read(self) -> Secret:
        """Read the secret from its source now (SecretError when it cannot be)."""
        if self.password_file is not None:
            return Secret(password=read_secret_file(self.password_file)[0])
        if self.password_env is not None:
            return Secret(password=read_env(self.password_env))
        if self.password is not None:
            return Secret(password=self.password)
        assert self.key_file is not None
        check_key_file(self.key_file)
        passphrase = None
        if self.key_passphrase_file is not None:
            passphrase = read_secret_file(self.key_passphrase_file)[0]
        return Secret(key_file=self.key_file, passphrase=passphrase)


@dataclass(frozen=True, kw_only=True)
class Target:
    name: str                  # the device name: short host name lower-cased, an IP address whole
    host: str
    port: int = 22
    platform: Platform = "nxos"
    credential: Credential
    host_key_policy: HostKeyPolicy = "accept-new"
    known_hosts: Path | None = None
    legacy_algorithms: bool = False
    connect_timeout: float = 15.0
    command_timeout: float = 60.0
    device_timeout: float = 300.0


@dataclass(frozen=True)
class CollectSettings:
    interval: float = 6 * 3600        # seconds; YAML takes 90s/15m/6h; at least 60 s
    concurrency: int = 16
    logins_per_second: float = 2.0
    jitter: float = 0.05              # fraction of the interval
    auth_backoff: float = 3600.0      # first wait after an auth failure, doubling...
    auth_backoff_max: float = 86400.0  # ...up to this
    suspend_after: int = 5            # auth failures of one credential on this many devices...
    suspend_window: float = 600.0     # ...within this many seconds...
    suspend_for: float = 3600.0       # ...suspend that credential this long


@dataclass(frozen=True)
class CollectConfig:
    targets: tuple[Target, ...]
    collect: CollectSettings
    warnings: tuple[str, ...] = ()
