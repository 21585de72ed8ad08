"""Reading the collection's secrets when the configuration is loaded: password and passphrase
files, environment variables, and a check that key files can be opened.

A secret that cannot be read is a configuration error at start (and a reload that keeps the
running configuration), never a failure of each device later. What is read stays in memory.
A secret's file is opened without blocking (a FIFO would otherwise hang the start); a symbolic
link is followed (Kubernetes and Vault agents mount secrets as links) and what it leads to is
judged like any file: a regular file of at most MAX_SECRET_BYTES holding one line. A path that
leads to something else (/etc/shadow, a log, a device) is refused rather than sent to a switch
as a password. Messages name the file (and where its link leads) or the variable, never what
it holds.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

MAX_SECRET_BYTES = 512  # a password or passphrase with its line end; far more is not a secret's file
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class SecretError(Exception):
    """A secret cannot be read; the message names the file or variable and what to do."""


def _named(path: Path) -> str:
    """`path` as messages name it: with where it leads when it is a symbolic link."""
    try:
        if path.is_symlink():
            return f"{path} (a link to {os.path.realpath(path)})"
    except OSError:
        pass
    return str(path)


def _open(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file `path` leads to, links followed, and its status."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise SecretError(f"{_named(path)}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SecretError(f"{path}: a loop of symbolic links") from None
        raise SecretError(f"{_named(path)}: cannot read it ({(exc.strerror or 'error').lower()})") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise SecretError(f"{_named(path)}: not a regular file")
    return descriptor, status


def read_secret_file(path: Path) -> tuple[str, int]:
    """The secret in `path` without its final line end (editors add one; it is no part of the
    secret), and the file's mode."""
    descriptor, status = _open(path)
    try:
        data = b""
        while len(data) <= MAX_SECRET_BYTES:
            block = os.read(descriptor, MAX_SECRET_BYTES + 1 - len(data))
            if not block:
                break
            data += block
    except OSError as exc:
        raise SecretError(f"{path}: cannot read it ({(exc.strerror or 'error').lower()})") from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_SECRET_BYTES:
        raise SecretError(f"{_named(path)}: larger than {MAX_SECRET_BYTES} bytes, not a password file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{_named(path)}: not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise SecretError(f"{_named(path)}: empty")
    if "\n" in text or "\r" in text:
        raise SecretError(f"{_named(path)}: more than one line; a password file holds the password alone")
    return text, status.st_mode


def check_key_file(path: Path) -> int:
    """That the private key file can be opened (the SSH library reads it when connecting);
    its mode."""
    descriptor, status = _open(path)
    os.close(descriptor)
    return status.st_mode


def read_env(name: str) -> str:
    """The secret in the environment variable `name`."""
    value = os.environ.get(name)
    if value is None:
        raise SecretError(f"environment variable {name} is not set (set it where the exporter starts, e.g. in "
                          "the service's environment file)")
    if not value:
        raise SecretError(f"environment variable {name} is empty")
    return value


class SecretStore:
    """The secrets of one configuration being loaded, each read once however many levels name
    its file or variable. `on_file` is told each secret file's mode (to warn about one that
    others may read)."""

    def __init__(self, on_file: Callable[[Path, int], None]):
        self._on_file = on_file
        self._found: dict[tuple[str, str], str | SecretError] = {}  # (key, file or variable) -> secret or why not

    def __repr__(self) -> str:
        return f"SecretStore({len(self._found)} read)"

    def read(self, key: str, where: Path | str) -> SecretError | None:
        """Read the secret of `key` (password_file, key_passphrase_file, password_env; a
        key_file is only opened); why it cannot be, or None."""
        found = self._found.get((key, str(where)))
        if found is None:
            found = self._found[(key, str(where))] = self._read(key, where)
        return found if isinstance(found, SecretError) else None

    def text(self, key: str, where: Path | str) -> str:
        """A secret that read() found readable."""
        found = self._found[(key, str(where))]
        assert isinstance(found, str)
        return found

    def _read(self, key: str, where: Path | str) -> str | SecretError:
        try:
            if key == "password_env":
                return read_env(str(where))
            if key == "key_file":
                mode, text = check_key_file(Path(where)), ""
            else:
                text, mode = read_secret_file(Path(where))
        except SecretError as error:
            return error
        self._on_file(Path(where), mode)
        return text
