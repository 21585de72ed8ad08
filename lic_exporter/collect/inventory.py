"""Inventories the collection configuration may name as sources of targets, read into plain
host records: a Nornir SimpleInventory (hosts.yaml, groups.yaml, defaults.yaml), an Oxidized
router.db and the JSON that `ansible-inventory --list` prints.

This module owns reading those foreign formats and mapping their platform names; it knows
nothing of the configuration's keys beyond the few a host brings (host, port, platform,
username, password). Merging with the configuration's defaults and groups, and validating
the values, is loading.py's work. Hosts of platforms other than NX-OS and IOS-XE are skipped
with one warning each. Problems are returned as "key.path: message" lines, never raised.

Group precedence follows each inventory's own rules, because that is what the people who
keep the inventory expect: Nornir's first listed group wins over later ones and a group
wins over its parents; Ansible's child groups win over their parents, siblings by name.
`InventoryHost.groups` lists a host's groups least specific first (a later one wins).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lic_exporter.collect.platforms import Platform
from lic_exporter.sources.documents import DocumentError, printable, read_json, read_text, read_yaml

_PLATFORMS: dict[str, Platform] = {
    **dict.fromkeys(("nxos", "cisco_nxos", "cisco.nxos.nxos", "nexus", "nx-os", "nx_os"), "nxos"),
    **dict.fromkeys(("ios", "iosxe", "ios-xe", "ios_xe", "cisco_xe", "cisco_ios", "cisco.ios.ios"), "iosxe"),
}
_NORNIR_FIELDS = {"hostname": "host", "port": "port", "platform": "platform", "username": "username",
                  "password": "password"}
# Ansible's current variable names first; the ansible_ssh_* spellings are older aliases.
_ANSIBLE_FIELDS = {"host": ("ansible_host", "ansible_ssh_host"), "port": ("ansible_port", "ansible_ssh_port"),
                   "platform": ("ansible_network_os",), "username": ("ansible_user", "ansible_ssh_user")}
OXIDIZED_COLUMNS = ("name", "model", "ip", "group", "username", "password")
_OXIDIZED_FIELDS = {"model": "platform", "ip": "host", "username": "username", "password": "password"}


@dataclass(frozen=True)
class InventoryHost:
    name: str                                       # the host's name in the inventory
    values: dict[str, Any] = field(repr=False)      # host, port, platform (mapped), username, password
    groups: tuple[str, ...] = ()                    # inventory groups, least specific first
    path: str = ""                                  # key path for problems, e.g. inventories.nornir.sw1
    source: str = ""                                # the file as the configuration names it, for warnings

    def skipped(self, why: str) -> str:
        """The one warning line for a host that is left out."""
        return f"inventory {self.source}: host {printable(self.name)} {why}, skipped"


@dataclass
class InventoryResult:
    hosts: list[InventoryHost] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secret_files: list[Path] = field(default_factory=list)  # files that hold passwords

    def add(self, host: InventoryHost | None) -> None:
        if host is not None:
            self.hosts.append(host)


def map_platform(name: object) -> Platform | None:
    """The collector's platform for an inventory's platform name, or None for other platforms."""
    return _PLATFORMS.get(str(name).strip().lower()) if _scalar(name) else None


def _scalar(value: object) -> bool:
    """Whether `value` is one name or number: only those are ever turned into text (a list
    or mapping where a name belongs is refused, never rendered whole into a message)."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _mapping(data: Any, path: str, what: str, result: InventoryResult) -> dict[Any, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        result.problems.append(f"{path}: expected a mapping of {what}")
        return {}
    return data


# ---------------------------------------------------------------- platform and host records

def _host(name: Any, values: dict[str, Any], groups: list[str], source: str, path: str,
          result: InventoryResult) -> InventoryHost | None:
    """A host record with its platform mapped, or None (and a warning) for another platform."""
    name = str(name)
    values = {key: value for key, value in values.items() if value is not None}
    if "platform" in values and _scalar(values["platform"]):  # anything else: refused where it is validated
        platform = map_platform(values["platform"])
        if platform is None:
            result.warnings.append(
                f"inventory {source}: host {printable(name)} platform {printable(values['platform'])} skipped")
            return None
        values["platform"] = platform
    return InventoryHost(name, values, tuple(groups), f"{path}.{printable(name)}", source)


def _note_secrets(path: Path, holds_password: bool, result: InventoryResult) -> None:
    if holds_password and path not in result.secret_files:
        result.secret_files.append(path)


# ---------------------------------------------------------------- Nornir SimpleInventory

def read_nornir(hosts: Path, groups: Path | None, defaults: Path | None, label: str,
                path: str = "inventories.nornir") -> InventoryResult:
    """Hosts of a Nornir SimpleInventory; each value resolved as Nornir does (the host, then its
    groups depth first, then defaults)."""
    result = InventoryResult()
    host_map = _nornir_file(hosts, f"{path}.hosts", "host names", result)
    group_map = _nornir_file(groups, f"{path}.groups", "group names", result) if groups else {}
    default_map = _nornir_file(defaults, f"{path}.defaults", "settings", result) if defaults else {}
    for name, data in host_map.items():
        data = data if isinstance(data, dict) else {}
        chain = _nornir_chain(data, group_map)
        entries = [data, *(_entry(group_map, group) for group in chain), default_map]
        values = {ours: _first(entries, theirs) for theirs, ours in _NORNIR_FIELDS.items()}
        result.add(_host(name, values, list(reversed(chain)), label, path, result))
    return result


def _nornir_file(file: Path, path: str, what: str, result: InventoryResult) -> dict[Any, Any]:
    try:
        data, twice = read_yaml(file)
    except DocumentError as error:
        result.problems.append(f"{path}: {error.at(file)}")
        return {}
    result.problems.extend(f"{path}: {file}:{line}" for line in twice)
    data = _mapping(data, path, what, result)
    _note_secrets(file, _holds_password(data), result)
    return data


def _holds_password(data: dict[Any, Any]) -> bool:
    entries = [data, *(value for value in data.values() if isinstance(value, dict))]
    return any(entry.get("password") is not None for entry in entries)


def _entry(group_map: dict[Any, Any], name: str) -> dict[Any, Any]:
    entry = group_map.get(name)
    return entry if isinstance(entry, dict) else {}


def _group_names(entry: dict[Any, Any]) -> list[str]:
    names = entry.get("groups") or []
    return [str(name) for name in names if _scalar(name)] if isinstance(names, list) else []


def _nornir_chain(entry: dict[Any, Any], group_map: dict[Any, Any]) -> list[str]:
    """The groups Nornir consults for a host, most specific first: each listed group followed
    by its own parents, depth first, each group once (a cycle ends there)."""
    chain: list[str] = []

    def visit(names: list[str]) -> None:
        for name in names:
            if name not in chain:
                chain.append(name)
                visit(_group_names(_entry(group_map, name)))

    visit(_group_names(entry))
    return chain


def _first(entries: list[dict[Any, Any]], *keys: str) -> Any:
    """The first value set (not null) for any of `keys`, looking through `entries` in order."""
    found = (entry[key] for entry in entries for key in keys if entry.get(key) is not None)
    return next(found, None)


# ---------------------------------------------------------------- Oxidized router.db

def read_oxidized(file: Path, delimiter: str, columns: dict[str, int], label: str,
                  path: str = "inventories.oxidized") -> InventoryResult:
    """Hosts of an Oxidized router.db: one host a line, fields split at `delimiter` and picked
    by the column map (name, model, ip, group, username, password). Blank lines and lines
    starting with # are skipped, as Oxidized does."""
    result = InventoryResult()
    try:
        text = read_text(file)
    except DocumentError as error:
        result.problems.append(f"{path}.path: {file}: {error}")
        return result
    _note_secrets(file, "password" in columns, result)
    for number, fields in _oxidized_lines(text, delimiter):
        result.add(_oxidized_host(number, fields, columns, label, path, result))
    return result


def _oxidized_lines(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, [field.strip() for field in line.split(delimiter)]


def _oxidized_host(number: int, fields: list[str], columns: dict[str, int], label: str, path: str,
                   result: InventoryResult) -> InventoryHost | None:
    if max(columns.values()) >= len(fields) or not fields[columns["name"]]:
        result.warnings.append(f"inventory {label}: line {number} has too few fields, skipped")
        return None
    values = {ours: fields[columns[theirs]] or None for theirs, ours in _OXIDIZED_FIELDS.items() if theirs in columns}
    group = fields[columns["group"]] if "group" in columns else ""
    return _host(fields[columns["name"]], values, [group] if group else [], label, path, result)


# ---------------------------------------------------------------- ansible-inventory --list

def read_ansible(file: Path, label: str, path: str = "inventories.ansible") -> InventoryResult:
    """Hosts of `ansible-inventory --list` output: `_meta.hostvars` and the groups' `hosts`
    and `children`. Group `vars` (present with --export) apply below the host's own."""
    result = InventoryResult()
    data = _ansible_document(file, path, result)
    groups = {name: entry for name, entry in data.items() if name != "_meta" and isinstance(entry, dict)}
    meta = _mapping(data.get("_meta"), f"{path}.path", "_meta sections", result)
    hostvars = _mapping(meta.get("hostvars"), f"{path}.path", "host variables", result)
    order = _ansible_order(groups)
    direct, parents = _ansible_membership(groups)
    for name in _ansible_hosts(groups, hostvars):
        member = _ansible_groups(name, direct, parents, groups, order)
        variables = _ansible_vars(name, member, groups, hostvars)
        values = {ours: _first([variables], *names) for ours, names in _ANSIBLE_FIELDS.items()}
        result.add(_host(name, values, member, label, path, result))
    return result


def _ansible_document(file: Path, path: str, result: InventoryResult) -> dict[str, Any]:
    try:
        data = read_json(file)
    except DocumentError as error:
        result.problems.append(f"{path}.path: {file}: {error}")
        return {}
    return _mapping(data, f"{path}.path", "groups (the output of ansible-inventory --list)", result)


def _listed(entry: dict[str, Any], key: str) -> list[str]:
    items = entry.get(key) or []
    return [str(item) for item in items if _scalar(item)] if isinstance(items, list) else []


def _ansible_hosts(groups: dict[str, Any], hostvars: dict[Any, Any]) -> list[str]:
    names = dict.fromkeys(str(name) for name in hostvars)
    for entry in groups.values():
        names.update(dict.fromkeys(_listed(entry, "hosts")))
    return list(names)


def _ansible_order(groups: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Each group's place in Ansible's precedence: by depth below `all`, then by name."""
    depth = {"all": 0}
    frontier = ["all"]
    while frontier:
        parent = frontier.pop(0)
        for child in _listed(groups.get(parent, {}), "children"):
            if child not in depth:
                depth[child] = depth[parent] + 1
                frontier.append(child)
    return {name: (depth.get(name, 1), name) for name in groups}


def _ansible_membership(groups: dict[str, Any]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Read once: host -> the groups listing it, group -> the groups listing it as a child
    (so each host's groups are found without scanning every group again: linear in the file)."""
    direct: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {}
    for name, entry in groups.items():
        for host in _listed(entry, "hosts"):
            direct.setdefault(host, set()).add(name)
        for child in _listed(entry, "children"):
            parents.setdefault(child, set()).add(name)
    return direct, parents


def _ansible_groups(host: str, direct: dict[str, set[str]], parents: dict[str, set[str]], groups: dict[str, Any],
                    order: dict[str, tuple[int, str]]) -> list[str]:
    """The groups holding `host`, directly or through children, least specific first."""
    member = set(direct.get(host, ()))
    frontier = list(member)
    while frontier:
        for parent in parents.get(frontier.pop(), ()):
            if parent not in member:
                member.add(parent)
                frontier.append(parent)
    if "all" in groups:
        member.add("all")
    return sorted(member, key=order.__getitem__)


def _ansible_vars(host: str, member: list[str], groups: dict[str, Any], hostvars: dict[Any, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for name in member:
        group_vars = groups[name].get("vars")
        variables.update(group_vars if isinstance(group_vars, dict) else {})
    own = hostvars.get(host)
    variables.update(own if isinstance(own, dict) else {})
    return variables
