"""Read and validate everything `serve`, `collect` and `accounts` were given before they start (and, for
`--config.check`, instead of starting): every problem at once, each one line naming its file
(or option) and key, `FILE: key.path: message`.

Checking reads files and the environment only: it serves nothing, connects to nothing and
creates no folder (a folder still to be created is checked to be creatable).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lic_exporter.cli.options import EXIT_OK, EXIT_USAGE, DeviceMapError, UsageError, read_device_map
from lic_exporter.daemon.http import parse_address
from lic_exporter.daemon.webconfig import WebConfig, WebConfigError, load

if TYPE_CHECKING:
    from lic_exporter.accounts.settings import AccountsConfig
    from lic_exporter.collect.targets import CollectConfig


@dataclass(frozen=True)
class ServeSettings:
    """What `serve` runs with, read and checked."""

    web: WebConfig
    device_map: dict[str, str] | None
    address: tuple[str, int]
    collect: CollectConfig | None  # with --config.file
    accounts: AccountsConfig | None = None  # with --config.file holding account sources


@dataclass
class _Findings:
    """What a check found: problems (the command cannot run) and warnings (it can)."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """Read and check serve's configuration; UsageError listing every problem."""
    settings, found = _serve(args)
    if found.problems or settings is None:
        raise UsageError(*found.problems)
    return settings


def check_configuration(args: argparse.Namespace) -> int:
    """`serve --config.check` / `collect --config.check`: every problem on stderr, one a line,
    exit 2; or a short summary on stdout and exit 0."""
    if args.command == "serve":
        settings, found = _serve(args)
        summary = _serve_summary(args, settings) if settings is not None else ""
    else:
        config, found = _collect_command(args)
        summary = f"{len(config.targets)} target(s) in {args.config_file}" if config is not None else ""
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in found.problems:
        print(problem, file=sys.stderr)
    if found.problems:
        return EXIT_USAGE
    print(f"configuration OK: {summary}")
    return EXIT_OK


# ---------------------------------------------------------------- serve

def _serve(args: argparse.Namespace) -> tuple[ServeSettings | None, _Findings]:
    found = _Findings()
    if not args.watch and not args.syslog and not args.config_file:
        found.problems.append("nothing to do: give --watch DIR, --syslog PATH and/or --config.file FILE "
                              "--collect.dir DIR")
    if args.config_file is not None and args.collect_dir is None:
        found.problems.append(f"--config.file {args.config_file} needs --collect.dir DIR (where the transcripts go)")
    if args.collect_dir is not None and args.config_file is None:
        found.problems.append(f"--collect.dir {args.collect_dir} needs --config.file FILE (what to collect)")
    for folder in args.watch:
        _watch_folder(folder, found)
    for pattern in args.syslog:
        if not any(os.path.isfile(path) for path in glob.iglob(pattern, recursive=True)):
            found.warnings.append(f"--syslog {pattern} matches no file now (followed once one appears)")
    address = _address(args.listen, found)
    web = _web(args.web_config, found)
    device_map = _device_map(args.device_map, found)
    collect = accounts = None
    if args.config_file is not None:
        collect = _collect_config(args.config_file, args.collect_dir or Path("."), found, shard=args.shard)
        accounts = _accounts_config(args.config_file, found)  # its unknown sections: the collection says which
        if args.collect_dir is not None:
            _writable_folder("--collect.dir", args.collect_dir, found)
    if found.problems or address is None or web is None:
        return None, found
    return ServeSettings(web, device_map, address, collect, accounts if accounts and accounts.sources else None), \
        found


def _serve_summary(args: argparse.Namespace, settings: ServeSettings) -> str:
    parts = [f"{len(args.watch)} watched folder(s)", f"{len(args.syslog)} syslog pattern(s)"]
    if settings.collect is not None:
        parts.append(f"{len(settings.collect.targets)} target(s) to collect")
    if settings.accounts is not None:
        parts.append(f"{len(settings.accounts.sources)} account source(s) to poll")
    if settings.device_map is not None:
        parts.append(f"{len(settings.device_map)} device map entries")
    web = ("TLS" if settings.web.tls is not None else "plain HTTP") + (
        f", basic auth for {len(settings.web.users)} user(s)" if settings.web.users else "")
    return ", ".join(parts) + f"; {web} on {args.listen}"


def _watch_folder(folder: Path, found: _Findings) -> None:
    if folder.is_dir():
        return
    if folder.exists():
        found.problems.append(f"--watch {folder} is a file: --watch takes folders; give its folder "
                              f"(--watch {folder.parent}), or read the file once with `lic-exporter parse {folder}`")
    else:
        found.problems.append(f"--watch {folder}: no such folder")


def _address(text: str, found: _Findings) -> tuple[str, int] | None:
    try:
        return parse_address(text)
    except ValueError as exc:
        found.problems.append(f"--web.listen-address {text}: {exc}")
        return None


def _web(path: Path | None, found: _Findings) -> WebConfig | None:
    if path is None:
        return WebConfig()
    try:
        return load(path)
    except WebConfigError as exc:
        found.problems.extend(exc.problems)
        return None


def _device_map(path: Path | None, found: _Findings) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        return read_device_map(path)
    except DeviceMapError as exc:
        found.problems.extend(exc.problems)
    except UnicodeDecodeError:
        found.problems.append(f"--device-map {path}: not UTF-8 text")
    except FileNotFoundError:
        found.problems.append(f"--device-map {path}: no such file")
    except OSError as exc:
        found.problems.append(f"--device-map {path}: cannot read it ({(exc.strerror or 'error').lower()})")
    return None


# ---------------------------------------------------------------- collect

def _collect_command(args: argparse.Namespace) -> tuple[CollectConfig | None, _Findings]:
    found = _Findings()
    config = _collect_config(args.config_file, args.out or Path("."), found, limit=args.limit,
                             shard=args.shard, jobs=args.concurrency)
    if config is not None and not config.targets:
        found.problems.append(f"{args.config_file}: no target to collect"
                              + (f" matches --limit {args.limit}" if args.limit else ""))
    if args.out is not None:
        _writable_folder("--out", args.out, found)
    return config, found


def _collect_config(path: Path, out_dir: Path, found: _Findings, limit: str | None = None,
                    shard: tuple[int, int] | None = None, jobs: int | None = None) -> CollectConfig | None:
    """The collection configuration, its inventories and its secrets read and checked (the
    collection's modules are imported only here: the SSH library only when it is needed)."""
    from lic_exporter.collect import ConfigError
    from lic_exporter.collect.command import configured

    try:
        config = configured(path, out_dir, limit=limit, shard=shard, jobs=jobs)
    except ConfigError as exc:
        found.problems.extend(exc.located(path))
        return None
    found.warnings.extend(f"{path}: {warning}" for warning in config.warnings)
    return config


def _writable_folder(option: str, folder: Path, found: _Findings) -> None:
    """That `folder` is a folder this user may write in, or can be created (not creating it)."""
    if folder.exists():
        if not folder.is_dir():
            found.problems.append(f"{option} {folder}: not a folder")
        elif not os.access(folder, os.W_OK | os.X_OK):
            found.problems.append(f"{option} {folder}: not writable by this user")
        return
    parent = folder.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        found.problems.append(f"{option} {folder}: cannot be created ({parent} is not a writable folder)")


# ---------------------------------------------------------------- accounts

def check_accounts(path: Path, out_dir: Path | None) -> tuple[AccountsConfig | None, _Findings]:
    """`lic-exporter accounts`: the `accounts:` section of `path` read and checked (a top-level
    key that no section of the file knows is a problem too), and `--out` writable."""
    from lic_exporter.collect.schema import TopKeys  # the names of the sections only; nothing collect runs

    found = _Findings()
    config = _accounts_config(path, found, other_sections=tuple(TopKeys.model_fields))
    if config is not None and not config.sources:
        found.problems.append(f"{path}: no account source (give accounts: with sources)")
    if out_dir is not None:
        _writable_folder("--out", out_dir, found)
    return config, found


def _accounts_config(path: Path, found: _Findings, other_sections: tuple[str, ...] | None = None) \
        -> AccountsConfig | None:
    """The account sources of `path`, their secrets read and checked; None when the section has
    problems (each noted as FILE: accounts.key.path: message)."""
    from lic_exporter.accounts.loading import load_accounts
    from lic_exporter.accounts.settings import AccountsConfigError

    try:
        config = load_accounts(path, other_sections=other_sections)
    except AccountsConfigError as exc:
        # A file YAML cannot read is reported by the collection's loader too: once is enough.
        found.problems.extend(problem for problem in exc.located(path) if problem not in found.problems)
        return None
    warnings = (f"{path}: {warning}" for warning in config.warnings)
    found.warnings.extend(warning for warning in warnings if warning not in found.warnings)
    return config
