"""Loading the `accounts:` section of `--config.file`: validated keys -> resolved sources with
their secrets read (`load_accounts` reads the file; `read_accounts` takes the section of a
document already read, for a loader that reads the whole file once).

Every problem is reported at once, each "accounts.key.path: message". A secret (the client's
id and secret, from a file or an environment variable) that cannot be read is a problem of
the configuration, reported where its key is written; a secret's file that others may read
is a warning. A `ca_file` must hold certificates TLS can use. Relative paths start at the
configuration's folder.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lic_exporter.accounts.schema import MODELS, SOURCE_NAME, AccountsKeys, CssmKeys, OnpremKeys, explain
from lic_exporter.accounts.settings import (
    DEFAULT_API_URL,
    DEFAULT_TOKEN_URL,
    AccountsConfig,
    AccountsConfigError,
    AccountSource,
)
from lic_exporter.sources.documents import SECRET_READ_SECONDS, DocumentError, printable, read_yaml, within
from lic_exporter.sources.secret_files import SecretError, read_env, read_secret_file

SECTION = "accounts"
ONPREM_TOKEN_PATH = "/backend/oauth/token"


@dataclass
class _Reader:
    base: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def validate(self, model: type[BaseModel], data: Any, prefix: str) -> Any:
        try:
            return model.model_validate({} if data is None else data)
        except ValidationError as error:
            self.problems.extend(explain(error, prefix))
            return None

    def path(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base / path

    def secret(self, keys: CssmKeys | OnpremKeys, what: str, prefix: str) -> str | None:
        """The secret `what` (client_id, client_secret) from its file or variable, or None
        (the problem noted where its key is written)."""
        given = [key for key in (f"{what}_file", f"{what}_env") if getattr(keys, key) is not None]
        if len(given) != 1:
            self.problems.append(f"{prefix}: exactly one of {what}_file, {what}_env is needed "
                                 f"({', '.join(given) + ' given' if given else 'none given'})")
            return None
        key = given[0]
        where: str = getattr(keys, key)
        try:
            if key.endswith("_env"):
                return read_env(where)
            path = self.path(where)
            text, mode = within(SECRET_READ_SECONDS, lambda: read_secret_file(path), str(path))
        except (SecretError, TimeoutError) as error:
            self.problems.append(f"{prefix}.{key}: {error}")
            return None
        who = [name for name, bits in (("group", 0o070), ("others", 0o007)) if mode & bits]
        if who:
            self.warnings.append(f"{path}: readable by {' and '.join(who)} (chmod 600)")
        return text

    def ca_file(self, text: str | None, prefix: str) -> Path | None:
        if text is None:
            return None
        path = self.path(text)
        try:
            within(SECRET_READ_SECONDS, lambda: ssl.create_default_context(cafile=str(path)), str(path))
        except FileNotFoundError:
            self.problems.append(f"{prefix}.ca_file: {path}: no such file")
        except (ssl.SSLError, ValueError):
            self.problems.append(f"{prefix}.ca_file: {path}: holds no PEM certificate TLS can use")
        except (OSError, TimeoutError) as error:
            self.problems.append(f"{prefix}.ca_file: {path}: cannot read it ({error})")
        return path


def _source(reader: _Reader, name: str, entry: Any, prefix: str) -> AccountSource | None:
    if not SOURCE_NAME.fullmatch(name):
        reader.problems.append(f"{prefix}: not usable as a source name (letters, digits, '.', '_', '-'; "
                               "at most 63, starting with a letter or digit)")
        return None
    if not isinstance(entry, dict):
        reader.problems.append(f"{prefix}: expected a mapping (type, and the keys of that type)")
        return None
    kind = entry.get("type")
    if kind is None:
        reader.problems.append(f"{prefix}.type: missing (cssm or onprem)")
        return None
    if kind not in MODELS:
        reader.problems.append(f"{prefix}.type: expected cssm or onprem")
        return None
    keys = reader.validate(MODELS[kind], entry, prefix)
    if keys is None:
        return None
    found = len(reader.problems)
    client_id = reader.secret(keys, "client_id", prefix)
    client_secret = reader.secret(keys, "client_secret", prefix)
    ca_file = reader.ca_file(keys.ca_file, prefix)
    if client_id is None or client_secret is None or len(reader.problems) > found:
        return None
    common = {"name": name, "client_id": client_id, "client_secret": client_secret, "ca_file": ca_file,
              "proxy": keys.proxy, "timeout": keys.timeout}
    if isinstance(keys, CssmKeys):
        return AccountSource(type="cssm", account=keys.smart_account, token_url=keys.token_url or DEFAULT_TOKEN_URL,
                             api_url=keys.api_url or DEFAULT_API_URL,
                             virtual_accounts=tuple(keys.virtual_accounts) if keys.virtual_accounts else None,
                             **common)
    url = keys.url.rstrip("/")
    return AccountSource(type="onprem", account=keys.account, token_url=url + ONPREM_TOKEN_PATH, api_url=url,
                         **common)


def read_accounts(section: Any, base: Path) -> AccountsConfig:
    """The `accounts:` section (as the YAML reader left it) validated and resolved; relative
    paths from `base`. Raises AccountsConfigError listing every problem."""
    reader = _Reader(Path(base).absolute())
    if section is None:
        return AccountsConfig()
    keys = reader.validate(AccountsKeys, section, SECTION)
    # The sources are judged even when a key beside them is wrong: every problem at once.
    entries = section.get("sources") if isinstance(section, dict) else None
    sources: list[AccountSource] = []
    if isinstance(section, dict) and entries is None:
        reader.problems.append(f"{SECTION}.sources: missing (the account sources to poll)")
    elif isinstance(section, dict) and (not isinstance(entries, dict) or not entries):
        reader.problems.append(f"{SECTION}.sources: expected a mapping of source names to their keys")
    elif isinstance(entries, dict):
        for name, entry in entries.items():
            found = _source(reader, str(name), entry, f"{SECTION}.sources.{printable(str(name))}")
            if found is not None:
                sources.append(found)
    if reader.problems:
        raise AccountsConfigError(reader.problems)
    assert keys is not None
    return AccountsConfig(tuple(sources), keys.poll_interval, tuple(dict.fromkeys(reader.warnings)))


def load_accounts(path: Path, other_sections: Iterable[str] | None = None) -> AccountsConfig:
    """The `accounts:` section of the configuration file `path`; no sources when it has none.
    The other sections are the collection's to judge; given their names (`other_sections`),
    a top-level key that is none of them nor `accounts` is a problem too. Raises
    AccountsConfigError."""
    path = Path(path)
    try:
        data, twice = read_yaml(path)
    except DocumentError as error:
        raise AccountsConfigError(error.located()) from None
    if data is not None and not isinstance(data, dict):
        raise AccountsConfigError("(top level): expected a mapping of sections")
    problems = list(twice)
    if other_sections is not None and isinstance(data, dict):
        known = {SECTION, *other_sections}
        problems.extend(f"{printable(str(key))}: unknown key" for key in data if str(key) not in known)
    section = data.get(SECTION) if isinstance(data, dict) else None
    try:
        config = read_accounts(section, path.absolute().parent)
    except AccountsConfigError as error:
        raise AccountsConfigError([*problems, *error.problems]) from None
    if problems:
        raise AccountsConfigError(problems)
    return config
