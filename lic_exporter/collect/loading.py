"""Loading the collection configuration (`--config.file`): the YAML file and the inventories it
names -> validated, resolved targets (`load_config`).

What the keys mean together lives here: inheritance (`defaults`, then each of a target's
`groups` in order, then the target's own keys), relative paths (from the configuration's
folder), device names, reading the secrets (secret_files.py: a secret that cannot be read is
a problem of the configuration, reported where its key is written). Hosts from inventories (inventory.py) get
the same defaults and the groups named like their inventory groups; a target in `targets`
wins over an inventory host of the same name.

Every problem of a configuration is reported at once, each as "key.path: message", e.g.
`targets.sw2.port: not a port number`. Passwords and passphrases never appear in a problem,
a warning or a repr: values are never quoted back, and pydantic is told to hide its inputs.

The credential keys inherit as one unit: a level that names any of password_file,
password_env, password or key_file replaces the one it inherited (and its
key_passphrase_file), so that a target can use a key where the defaults give a password file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lic_exporter.collect.inventory import (
    OXIDIZED_COLUMNS,
    InventoryHost,
    InventoryResult,
    read_ansible,
    read_nornir,
    read_oxidized,
)
from lic_exporter.collect.problems import explain
from lic_exporter.collect.schema import (
    CollectKeys,
    HostKeys,
    InventoryKeys,
    LayerKeys,
    TargetKeys,
    TopKeys,
)
from lic_exporter.collect.targets import (
    SOURCES,
    CollectConfig,
    CollectSettings,
    ConfigError,
    Credential,
    Secret,
    Target,
    given,
)
from lic_exporter.sources.config_values import human_duration
from lic_exporter.sources.documents import SECRET_READ_SECONDS, DocumentError, printable, read_yaml, within
from lic_exporter.sources.names import device_name  # the contract's device rule, as the parser applies it
from lic_exporter.sources.secret_files import SecretStore

_SECRET_FILES = ("password_file", "key_file", "key_passphrase_file")
_PATHS = (*_SECRET_FILES, "known_hosts")
_READ_AT_LOAD = (*_SECRET_FILES, "password_env")
_TARGET_FIELDS = ("host", "port", "platform", "host_key_policy", "known_hosts", "legacy_algorithms",
                  "connect_timeout", "command_timeout", "device_timeout")


# ---------------------------------------------------------------- reading the configuration

@dataclass
class _Reader:
    """One reading of a configuration file: its folder, and the problems and warnings found."""

    base: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secrets: SecretStore = field(init=False, repr=False)
    asked: set[tuple[str, str]] = field(default_factory=set)  # (key, file or variable) read already
    timed_out: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.secrets = SecretStore(on_file=lambda path, mode: _warn_if_open(self, path, mode))

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def validate(self, model: type[BaseModel], data: Any, prefix: str) -> Any:
        """`data` validated by `model`, or None (its problems noted)."""
        try:
            return model.model_validate({} if data is None else data)
        except ValidationError as error:
            self.problems.extend(explain(error, model, prefix))
            return None

    def named(self, model: type[BaseModel], data: Any, prefix: str, what: str) -> dict[str, Any]:
        """A section of named entries (groups, targets): name -> validated keys, or None where invalid."""
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.problems.append(f"{prefix}: expected a mapping of {what}")
            return {}
        return {str(name): self.validate(model, entry, f"{prefix}.{name}") for name, entry in data.items()}

    def secret(self, key: str, where: Path | str, key_path: str) -> bool:
        """Whether the secret `key` names can be read (else the problem is noted at `key_path`).
        Each file is read once, in a thread of its own and within SECRET_READ_SECONDS."""
        source = (key, str(where))
        if source not in self.asked:
            self.asked.add(source)
            try:
                within(SECRET_READ_SECONDS, lambda: self.secrets.read(key, where), str(where))
            except TimeoutError as error:
                self.timed_out[source] = str(error)
        problem = self.timed_out.get(source) or self.secrets.read(key, where)
        if problem is not None:
            self.problems.append(f"{key_path}: {problem}")
        return problem is None

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
    for key in _READ_AT_LOAD:
        if key in values:
            usable = reader.secret(key, values[key], f"{prefix}.{key}") and usable
    if values.get("host_key_policy") == "insecure":
        reader.warn(f"{prefix}.host_key_policy: insecure: host keys are not checked")
    return values if usable else None


def _check_sources(reader: _Reader, values: dict[str, Any], sources: list[str], prefix: str) -> bool:
    if len(sources) > 1:
        reader.problems.append(f"{prefix}: exactly one of {', '.join(SOURCES)} is needed ({given(sources)})")
        return False
    if "key_passphrase_file" in values and sources and sources != ["key_file"]:
        reader.problems.append(f"{prefix}.key_passphrase_file: needs key_file (a passphrase unlocks a key)")
        return False
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
    keys = {key: values[key] for key in ("username", *SOURCES, "key_passphrase_file") if key in values}
    return Credential(**keys, loaded=_loaded(reader, values))


def _loaded(reader: _Reader, values: dict[str, Any]) -> Secret:
    """The credential's secret, as its levels read it (each level's secrets were read there)."""
    if "password" in values:
        return Secret(password=values["password"])
    for key in ("password_file", "password_env"):
        if key in values:
            return Secret(password=reader.secrets.text(key, values[key]))
    passphrase = values.get("key_passphrase_file")
    return Secret(key_file=values["key_file"],
                  passphrase=reader.secrets.text("key_passphrase_file", passphrase) if passphrase else None)


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
        reader.problems.append(f"collect.auth_backoff_max: at least auth_backoff ({human_duration(keys.auth_backoff)})")
    return CollectSettings(**keys.model_dump())


# ---------------------------------------------------------------- inventories

def _inventory_results(reader: _Reader, keys: InventoryKeys) -> list[InventoryResult]:
    results = []
    if keys.nornir:
        nornir = keys.nornir
        results.append(read_nornir(
            reader.path(nornir.hosts), reader.path(nornir.groups) if nornir.groups else None,
            reader.path(nornir.defaults) if nornir.defaults else None, nornir.hosts))
    if keys.oxidized:
        columns = keys.oxidized.map.model_dump(exclude_none=True)
        results.append(read_oxidized(reader.path(keys.oxidized.path), keys.oxidized.delimiter, columns,
                                               keys.oxidized.path))
    if keys.ansible:
        results.append(read_ansible(reader.path(keys.ansible.path), keys.ansible.path))
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
        for path in result.secret_files:  # read already: only who else may read it
            with contextlib.suppress(OSError):
                _warn_if_open(reader, path, path.stat().st_mode)
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
    if top.targets is None and top.inventories is None and top.accounts is None:  # accounts alone: nothing to collect
        reader.problems.append("targets: no targets (give targets, inventories or both)")
    _warn_about_inline_passwords(reader, path, top)
    if reader.problems:
        raise ConfigError(reader.problems)
    return CollectConfig(tuple([*targets.values(), *found]), settings, tuple(reader.warnings))


def _document(reader: _Reader, path: Path) -> TopKeys:
    try:
        data, twice = read_yaml(path)
    except DocumentError as error:  # the file as a whole: the reason, or LINE:COL: reason (callers name the file)
        raise ConfigError(error.located()) from None
    reader.problems.extend(twice)
    if data is not None and not isinstance(data, dict):
        raise ConfigError([*reader.problems, "(top level): expected a mapping of sections "
                                             "(defaults, groups, targets, collect, inventories)"])
    top = reader.validate(TopKeys, data, "")
    if top is None and isinstance(data, dict):  # unknown sections (reported): read the known ones all the same
        top = TopKeys.model_validate({key: value for key, value in data.items() if key in TopKeys.model_fields})
    assert top is not None  # TopKeys takes any value of every known section, and no document at all
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
