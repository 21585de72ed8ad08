"""The collection configuration (`--config.file`): YAML read into validated, resolved targets.

This module owns the configuration's keys and their rules: pydantic models that refuse
unknown keys at every level, inheritance (`defaults`, then each of a target's `groups` in
order, then the target's own keys), device names, durations, the collection settings, and
the credentials (`Credential.secret()` reads a password only when a session needs it).
Hosts from inventories (inventory.py) get the same defaults and the groups named like their
inventory groups; a target in `targets` wins over an inventory host of the same name.

Every problem of a configuration is reported at once, each as "key.path: message", e.g.
`targets.sw2.port: not a port number`. Passwords and passphrases never appear in a problem,
a warning or a repr: values are never quoted back, and pydantic is told to hide its inputs.

The credential keys inherit as one unit: a level that names any of password_file,
password_env, password or key_file replaces the one it inherited (and its
key_passphrase_file), so that a target can use a key where the defaults give a password file.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from lic_exporter.collect import inventory
from lic_exporter.collect.inventory import OXIDIZED_COLUMNS, DocumentError, InventoryHost, InventoryResult, printable
from lic_exporter.sources.names import device_name  # the contract's device rule, as the parser applies it

Platform = Literal["nxos", "iosxe"]
HostKeyPolicy = Literal["accept-new", "strict", "insecure"]

SOURCES = ("password_file", "password_env", "password", "key_file")
_SECRET_FILES = ("password_file", "key_file", "key_passphrase_file")
_PATHS = (*_SECRET_FILES, "known_hosts")
_TARGET_FIELDS = ("host", "port", "platform", "host_key_policy", "known_hosts", "legacy_algorithms",
                  "connect_timeout", "command_timeout", "device_timeout")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
# Inline passwords enter Credential.identity only through a keyed hash whose key lives in this
# process alone: an identity written to a log cannot be used to guess the password offline.
_IDENTITY_KEY = secrets.token_bytes(32)


class ConfigError(Exception):
    """The configuration cannot be used. `problems` lists every problem, each "key.path: message"."""

    def __init__(self, problems: Iterable[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------- the resolved configuration

@dataclass(frozen=True)
class Secret:
    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Credential:
    """A user name and exactly one source of its secret; the secret is read only when connecting."""

    username: str
    password_file: Path | None = None
    password_env: str | None = None
    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    key_passphrase_file: Path | None = None

    def __post_init__(self) -> None:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a credential needs exactly one of {', '.join(SOURCES)} ({_given(given)})")
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

    def secret(self) -> Secret:
        """The secret, read now (files and environment change while the daemon runs).
        Raises ConfigError naming the file or variable, never its content."""
        if self.password_file is not None:
            return Secret(password=_read_secret(self.password_file, "password_file"))
        if self.password_env is not None:
            return Secret(password=_read_env(self.password_env))
        if self.password is not None:
            return Secret(password=self.password)
        assert self.key_file is not None
        if not self.key_file.is_file():
            raise ConfigError(f"key_file: {self.key_file}: no such file")
        passphrase = None
        if self.key_passphrase_file is not None:
            passphrase = _read_secret(self.key_passphrase_file, "key_passphrase_file")
        return Secret(key_file=self.key_file, passphrase=passphrase)


def _read_secret(path: Path, key: str) -> str:
    """A file's text without its final line end (editors add one; it is no part of the secret)."""
    try:
        text = inventory.read_text(path)
    except DocumentError as error:
        raise ConfigError(f"{key}: {path}: {error}") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ConfigError(f"{key}: {path}: empty")
    return text


def _read_env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"password_env: environment variable {name} is not set")
    if not value:
        raise ConfigError(f"password_env: environment variable {name} is empty")
    return value


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


# ---------------------------------------------------------------- value rules for pydantic

def _fail(kind: str, message: str) -> NoReturn:
    raise PydanticCustomError(kind, message)


def _text(value: Any) -> str:
    if isinstance(value, bool | int | float):
        _fail("text", "expected text (put it in quotes)")
    if not isinstance(value, str):
        _fail("text", "expected text")
    if not value.strip():
        _fail("text", "must not be empty")
    return value


def _port(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        _fail("port", "not a port number")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        _fail("flag", "expected true or false")
    return value


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        value = value.strip().lower() if isinstance(value, str) else value
        if value not in options:
            _fail("choice", f"expected {', '.join(options[:-1])} or {options[-1]}")
        return value
    return check


def duration_seconds(value: Any) -> float | None:
    """A duration in seconds: "90s", "15m", "6h", "1d", "1h30m" or a number of seconds; None if
    it is none of these."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in _DURATION_PART.findall(text))


def _human(duration: float) -> str:
    for unit in ("d", "h", "m"):
        if duration >= _UNITS[unit] and duration % _UNITS[unit] == 0:
            return f"{int(duration // _UNITS[unit])}{unit}"
    return f"{duration:g}s"


def _duration(minimum: float = 0.0) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        duration = duration_seconds(value)
        if duration is None:
            _fail("duration", "not a duration (e.g. 90s, 15m, 6h, 1d or a number of seconds)")
        elif duration <= 0:
            _fail("duration", "must be longer than 0s")
        elif duration < minimum:
            _fail("duration", f"at least {_human(minimum)}")
        return duration
    return check


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail("count", "expected a whole number of at least 1")
    return value


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        _fail("rate", "expected a number above 0")
    return float(value)


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        _fail("fraction", "expected a fraction from 0 up to (not including) 1")
    return float(value)


def _column(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _fail("column", "expected a column number (0 is the first)")
    return value


def _delimiter(value: Any) -> str:
    if not isinstance(value, str) or not value:
        _fail("delimiter", "expected the character between fields, e.g. ':'")
    return value


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        _fail("names", "expected a list of group names, e.g. [old-nxos]")
    for name in value:
        _text(name)
    return value


Text = Annotated[str, BeforeValidator(_text)]
Port = Annotated[int, BeforeValidator(_port)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Timeout = Annotated[float, BeforeValidator(_duration())]
Count = Annotated[int, BeforeValidator(_count)]
Column = Annotated[int, BeforeValidator(_column)]
PlatformName = Annotated[Platform, BeforeValidator(_choice("nxos", "iosxe"))]
PolicyName = Annotated[HostKeyPolicy, BeforeValidator(_choice("accept-new", "strict", "insecure"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class LayerKeys(_Strict):
    """What `defaults` and each group may set."""

    platform: PlatformName | None = None
    port: Port | None = None
    username: Text | None = None
    password_file: Text | None = None
    password_env: Text | None = None
    password: Text | None = Field(default=None, repr=False)
    key_file: Text | None = None
    key_passphrase_file: Text | None = None
    host_key_policy: PolicyName | None = None
    known_hosts: Text | None = None
    legacy_algorithms: Flag | None = None
    connect_timeout: Timeout | None = None
    command_timeout: Timeout | None = None
    device_timeout: Timeout | None = None


class HostKeys(LayerKeys):
    """What an inventory host brings (its own keys)."""

    host: Text | None = None


class TargetKeys(HostKeys):
    """What a target in `targets` may set."""

    groups: Annotated[list[str], BeforeValidator(_names)] = []


class CollectKeys(_Strict):
    interval: Annotated[float, BeforeValidator(_duration(60))] = CollectSettings.interval
    concurrency: Count = CollectSettings.concurrency
    logins_per_second: Annotated[float, BeforeValidator(_rate)] = CollectSettings.logins_per_second
    jitter: Annotated[float, BeforeValidator(_fraction)] = CollectSettings.jitter
    auth_backoff: Timeout = CollectSettings.auth_backoff
    auth_backoff_max: Timeout = CollectSettings.auth_backoff_max
    suspend_after: Count = CollectSettings.suspend_after
    suspend_window: Timeout = CollectSettings.suspend_window
    suspend_for: Timeout = CollectSettings.suspend_for


class NornirKeys(_Strict):
    hosts: Text
    groups: Text | None = None
    defaults: Text | None = None


class OxidizedMap(_Strict):
    name: Column
    model: Column | None = None
    ip: Column | None = None
    group: Column | None = None
    username: Column | None = None
    password: Column | None = None


class OxidizedKeys(_Strict):
    path: Text
    delimiter: Annotated[str, BeforeValidator(_delimiter)] = ":"
    map: OxidizedMap = OxidizedMap(name=0, model=1)   # Oxidized's own default


class AnsibleKeys(_Strict):
    path: Text


class InventoryKeys(_Strict):
    nornir: NornirKeys | None = None
    oxidized: OxidizedKeys | None = None
    ansible: AnsibleKeys | None = None


class TopKeys(_Strict):
    defaults: Any = None
    groups: Any = None
    targets: Any = None
    collect: Any = None
    inventories: Any = None


_SHAPES = {"dict_type": "expected a mapping (key: value)", "model_type": "expected a mapping (key: value)",
           "model_attributes_type": "expected a mapping (key: value)", "list_type": "expected a list",
           "missing": "missing"}


# ---------------------------------------------------------------- problems in words people understand

def _key_path(prefix: str, loc: Iterable[str | int]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):  # a list's item: groups[1]
            path += f"[{part}]"
            continue
        path = f"{path}.{part}" if path else str(part)
    return path or "(top level)"


def _explain(error: ValidationError, model: type[BaseModel], prefix: str) -> list[str]:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        message = _SHAPES.get(item["type"], item["msg"])
        if item["type"] == "extra_forbidden":
            message = "unknown key" + _hint(item["loc"], model)
        problems.append(f"{_key_path(prefix, item['loc'])}: {message}")
    return problems


def _hint(loc: tuple[str | int, ...], model: type[BaseModel]) -> str:
    """What an unknown key may have meant: a key of targets only, or a near spelling."""
    key = str(loc[-1])
    if model is LayerKeys and key in TargetKeys.model_fields:
        return f" ({key} belongs to a target)"
    close = difflib.get_close_matches(key, _keys_at(model, loc[:-1]), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys of the model found at `loc` inside `model` (for the inventories' nested keys)."""
    for part in loc:
        field_info = model.model_fields.get(part) if isinstance(part, str) else None
        inner = (get_args(field_info.annotation) or (field_info.annotation,)) if field_info else ()
        models = [kind for kind in inner if isinstance(kind, type) and issubclass(kind, BaseModel)]
        if not models:
            return []
        model = models[0]
    return list(model.model_fields)


def _given(names: list[str]) -> str:
    return f"{len(names)} given: {', '.join(names)}" if names else "none given"


# ---------------------------------------------------------------- reading the configuration

@dataclass
class _Reader:
    """One reading of a configuration file: its folder, and the problems and warnings found."""

    base: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def validate(self, model: type[BaseModel], data: Any, prefix: str) -> Any:
        """`data` validated by `model`, or None (its problems noted)."""
        try:
            return model.model_validate({} if data is None else data)
        except ValidationError as error:
            self.problems.extend(_explain(error, model, prefix))
            return None

    def named(self, model: type[BaseModel], data: Any, prefix: str, what: str) -> dict[str, Any]:
        """A section of named entries (groups, targets): name -> validated keys, or None where invalid."""
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.problems.append(f"{prefix}: expected a mapping of {what}")
            return {}
        return {str(name): self.validate(model, entry, f"{prefix}.{name}") for name, entry in data.items()}

    def path(self, text: str) -> Path:
        """A path from the configuration: relative ones start at the configuration's folder."""
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base / path


def _layer(reader: _Reader, keys: LayerKeys | None, prefix: str) -> dict[str, Any] | None:
    """One level's keys as a dict (paths resolved), or None when it cannot be used; checks the
    rules that hold within one level."""
    if keys is None:
        return None
    values = keys.model_dump(exclude_none=True, exclude={"groups"})
    for key in _PATHS:
        if key in values:
            values[key] = reader.path(values[key])
    sources = [key for key in SOURCES if key in values]
    usable = _check_sources(reader, values, sources, prefix)
    for key in _SECRET_FILES:
        if key in values:
            usable = _check_secret_file(reader, values[key], f"{prefix}.{key}") and usable
    if values.get("host_key_policy") == "insecure":
        reader.warn(f"{prefix}.host_key_policy: insecure: host keys are not checked")
    return values if usable else None


def _check_sources(reader: _Reader, values: dict[str, Any], sources: list[str], prefix: str) -> bool:
    if len(sources) > 1:
        reader.problems.append(f"{prefix}: exactly one of {', '.join(SOURCES)} is needed ({_given(sources)})")
        return False
    if "key_passphrase_file" in values and sources and sources != ["key_file"]:
        reader.problems.append(f"{prefix}.key_passphrase_file: needs key_file (a passphrase unlocks a key)")
        return False
    return True


def _check_secret_file(reader: _Reader, path: Path, key_path: str) -> bool:
    try:
        status = path.stat()
    except FileNotFoundError:
        reader.problems.append(f"{key_path}: {path}: no such file")
        return False
    except OSError as error:
        reader.problems.append(f"{key_path}: {path}: cannot read it ({error.strerror or 'error'})")
        return False
    if not stat.S_ISREG(status.st_mode):
        reader.problems.append(f"{key_path}: {path}: not a file")
        return False
    _warn_if_open(reader, path, status.st_mode)
    return True


def _warn_if_open(reader: _Reader, path: Path, mode: int) -> None:
    """A secret's file should be for its owner alone."""
    who = [name for name, bits in (("group", 0o070), ("others", 0o007)) if mode & bits]
    if who:
        reader.warn(f"{path}: readable by {' and '.join(who)} (chmod 600)")


def _merge(layers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Later levels win; the credential's source inherits as one unit (see the module's notes)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if any(key in layer for key in SOURCES):
            for key in (*SOURCES, "key_passphrase_file"):
                merged.pop(key, None)
        merged.update(layer)
    return merged


def _target(reader: _Reader, name: str, values: dict[str, Any], prefix: str) -> Target | None:
    """The target from its merged keys, or None (its problems noted)."""
    credential = _credential(reader, values, prefix)
    if credential is None:
        return None
    keys = {key: values[key] for key in _TARGET_FIELDS if key in values}
    return Target(name=name, credential=credential, **keys)


def _credential(reader: _Reader, values: dict[str, Any], prefix: str) -> Credential | None:
    found = len(reader.problems)
    if "username" not in values:
        reader.problems.append(f"{prefix}.username: missing (set it here, in a group or in defaults)")
    if not any(key in values for key in SOURCES):
        reader.problems.append(f"{prefix}: exactly one of {', '.join(SOURCES)} is needed (none given)")
    elif "key_passphrase_file" in values and "key_file" not in values:
        reader.problems.append(f"{prefix}.key_passphrase_file: needs key_file (a passphrase unlocks a key)")
    if len(reader.problems) > found:
        return None
    return Credential(**{key: values[key] for key in ("username", *SOURCES, "key_passphrase_file") if key in values})


# ---------------------------------------------------------------- the sections

@dataclass
class _Levels:
    """The validated `defaults` and `groups` (None where a level is unusable)."""

    defaults: dict[str, Any] | None
    groups: dict[str, dict[str, Any] | None]

    def chain(self, group_names: Iterable[str]) -> list[dict[str, Any] | None]:
        return [self.defaults, *(self.groups[name] for name in group_names)]


def _levels(reader: _Reader, top: TopKeys) -> _Levels:
    defaults = _layer(reader, reader.validate(LayerKeys, top.defaults, "defaults"), "defaults")
    groups = reader.named(LayerKeys, top.groups, "groups", "group names to their keys")
    return _Levels(defaults, {name: _layer(reader, keys, f"groups.{name}") for name, keys in groups.items()})


def _config_targets(reader: _Reader, top: TopKeys, levels: _Levels) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    keys_by_name = reader.named(TargetKeys, top.targets, "targets", "target names to their keys")
    raw = {str(key): entry for key, entry in _items(top.targets)}
    first_key: dict[str, str] = {}
    for key, keys in keys_by_name.items():
        prefix = f"targets.{key}"
        name = _unique_name(reader, key, prefix, first_key)
        if not _groups_known(reader, raw[key], levels, prefix):
            continue
        target = _config_target(reader, name or key, keys, levels, prefix, host=key)
        if name and target:
            targets[name] = target
    return targets


def _unique_name(reader: _Reader, key: str, prefix: str, first_key: dict[str, str]) -> str | None:
    name = device_name(key)
    if not name:
        reader.problems.append(f"{prefix}: not usable as a device name")
        return None
    if name in first_key:
        reader.problems.append(f"{prefix}: same device name {name!r} as targets.{first_key[name]}")
        return None
    first_key[name] = key
    return name


def _config_target(reader: _Reader, name: str, keys: TargetKeys | None, levels: _Levels, prefix: str,
                   host: str) -> Target | None:
    """A target of `targets`; `host` (the name as written, e.g. a full DNS name) unless it sets one."""
    own = _layer(reader, keys, prefix)
    if keys is None:
        return None
    return _resolve(reader, name, [*levels.chain(keys.groups), own], prefix, host)


def _groups_known(reader: _Reader, entry: Any, levels: _Levels, prefix: str) -> bool:
    """Whether every group the target names exists (checked even when other keys are wrong)."""
    names = entry.get("groups") if isinstance(entry, dict) else None
    names = names if isinstance(names, list) else []
    unknown = [name for name in names if isinstance(name, str) and name not in levels.groups]
    for name in unknown:
        reader.problems.append(f"{prefix}.groups: no group named {printable(name)!r}")
    return not unknown


def _resolve(reader: _Reader, name: str, chain: list[dict[str, Any] | None], prefix: str,
             host: str) -> Target | None:
    """The target from its levels (least specific first); None where a level is unusable (the
    reason is reported where it lies) or a rule fails after inheritance."""
    if any(level is None for level in chain):
        return None
    values = _merge(level for level in chain if level is not None)
    values.setdefault("host", host)
    return _target(reader, name, values, prefix)


def _collect(reader: _Reader, data: Any) -> CollectSettings:
    keys = reader.validate(CollectKeys, data, "collect")
    if keys is None:
        return CollectSettings()
    if keys.auth_backoff_max < keys.auth_backoff:
        reader.problems.append(f"collect.auth_backoff_max: at least auth_backoff ({_human(keys.auth_backoff)})")
    return CollectSettings(**keys.model_dump())


# ---------------------------------------------------------------- inventories

def _inventory_results(reader: _Reader, keys: InventoryKeys) -> list[InventoryResult]:
    results = []
    if keys.nornir:
        nornir = keys.nornir
        results.append(inventory.read_nornir(
            reader.path(nornir.hosts), nornir.groups and reader.path(nornir.groups),
            nornir.defaults and reader.path(nornir.defaults), nornir.hosts))
    if keys.oxidized:
        columns = keys.oxidized.map.model_dump(exclude_none=True)
        results.append(inventory.read_oxidized(reader.path(keys.oxidized.path), keys.oxidized.delimiter, columns,
                                               keys.oxidized.path))
    if keys.ansible:
        results.append(inventory.read_ansible(reader.path(keys.ansible.path), keys.ansible.path))
    return results


def _inventory_targets(reader: _Reader, data: Any, levels: _Levels, taken: dict[str, Target]) -> list[Target]:
    keys = reader.validate(InventoryKeys, data, "inventories")
    if keys is None:
        return []
    _check_columns(reader, keys)
    found: dict[str, Target] = {}
    for result in _inventory_results(reader, keys):
        reader.problems.extend(result.problems)
        for line in result.warnings:
            reader.warn(line)
        for path in result.secret_files:
            _check_secret_file(reader, path, path.name)
        for host in result.hosts:
            _add_inventory_host(reader, host, levels, taken, found)
    return list(found.values())


def _check_columns(reader: _Reader, keys: InventoryKeys) -> None:
    if keys.oxidized is None:
        return
    columns = keys.oxidized.map.model_dump(exclude_none=True)
    twice = sorted({column for column in columns.values() if list(columns.values()).count(column) > 1})
    for column in twice:
        names = [name for name in OXIDIZED_COLUMNS if columns.get(name) == column]
        reader.problems.append(f"inventories.oxidized.map: column {column} given for {' and '.join(names)}")


def _add_inventory_host(reader: _Reader, host: InventoryHost, levels: _Levels, taken: dict[str, Target],
                        found: dict[str, Target]) -> None:
    name = device_name(host.name)
    if name in taken:
        return  # a target in `targets` wins over an inventory host of the same name
    if not name or name in found:
        reader.warn(host.skipped(f"has the same device name as another host ({name})" if name else
                                 "has no usable device name"))
        return
    own = _layer(reader, reader.validate(HostKeys, host.values, host.path), host.path)
    chain = [*levels.chain(group for group in host.groups if group in levels.groups), own]
    if not any(level is not None and "platform" in level for level in chain):
        # Inventories also list servers and other gear: guessing a platform would send them logins.
        reader.warn(host.skipped("has no platform (none in the inventory or the configuration)"))
        return
    target = _resolve(reader, name, chain, host.path, host.name)
    if target is not None:
        found[name] = target


# ---------------------------------------------------------------- the entry point

def load_config(path: Path) -> CollectConfig:
    """The configuration in `path`, validated and resolved; ConfigError lists every problem."""
    path = Path(path)
    reader = _Reader(path.absolute().parent)  # absolute: the daemon's working folder may change
    top = _document(reader, path)
    levels = _levels(reader, top)
    targets = _config_targets(reader, top, levels)
    found = _inventory_targets(reader, top.inventories, levels, targets) if top.inventories is not None else []
    settings = _collect(reader, top.collect)
    if top.targets is None and top.inventories is None:
        reader.problems.append("targets: no targets (give targets, inventories or both)")
    _warn_about_inline_passwords(reader, path, top)
    if reader.problems:
        raise ConfigError(reader.problems)
    return CollectConfig(tuple([*targets.values(), *found]), settings, tuple(reader.warnings))


def _document(reader: _Reader, path: Path) -> TopKeys:
    try:
        data, twice = inventory.read_yaml(path)
    except DocumentError as error:  # the file as a whole: the reason alone (callers name the file)
        raise ConfigError(str(error)) from None
    reader.problems.extend(twice)
    if data is not None and not isinstance(data, dict):
        raise ConfigError([*reader.problems, "(top level): expected a mapping of sections "
                                             "(defaults, groups, targets, collect, inventories)"])
    top = reader.validate(TopKeys, data, "")
    if top is None:  # unknown sections (reported): read the known ones all the same
        top = TopKeys.model_validate({key: value for key, value in data.items() if key in TopKeys.model_fields})
    return top


def _warn_about_inline_passwords(reader: _Reader, path: Path, top: TopKeys) -> None:
    """A configuration that holds a password is itself a secret's file."""
    entries = [top.defaults, *(entry for _, entry in _items(top.groups)), *(entry for _, entry in _items(top.targets))]
    if any(isinstance(entry, dict) and entry.get("password") is not None for entry in entries):
        with contextlib.suppress(OSError):  # read a moment ago; gone now is no news
            _warn_if_open(reader, path, path.stat().st_mode)


def _items(section: Any) -> list[tuple[Any, Any]]:
    """A section's entries, or none where it is not a mapping (reported elsewhere)."""
    return list(section.items()) if isinstance(section, dict) else []
