"""Read and validate everything `serve` and `collect` were given before they start (and, for
`--config.check`, instead of starting): every problem at once, each naming its file and key."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lic_exporter.cli.options import EXIT_OK, UsageError, read_device_map
from lic_exporter.daemon.http import parse_address
from lic_exporter.daemon.webconfig import WebConfig, WebConfigError, load

if TYPE_CHECKING:
    from lic_exporter.collect.targets import CollectConfig


@dataclass(frozen=True)
class ServeSettings:
    """What `serve` runs with, read and checked."""

    web: WebConfig
    device_map: dict[str, str] | None
    address: tuple[str, int]
    collect: CollectConfig | None  # with --config.file


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """Read and check serve's configuration; UsageError listing every problem."""
    if not args.watch and not args.syslog and not args.config_file:
        raise UsageError("nothing to do: give --watch DIR, --syslog PATH and/or --config.file FILE --collect.dir DIR")
    if (args.config_file is None) != (args.collect_dir is None):
        raise UsageError("--config.file and --collect.dir go together")
    for folder in args.watch:
        if not folder.is_dir():
            raise UsageError(f"--watch {folder}: no such folder")
    try:
        web = load(args.web_config) if args.web_config else WebConfig()
        device_map = read_device_map(args.device_map) if args.device_map else None
        address = parse_address(args.listen)
    except (WebConfigError, OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return ServeSettings(web, device_map, address, _collect_config(args))


def _collect_config(args: argparse.Namespace) -> CollectConfig | None:
    if args.config_file is None:
        return None
    from lic_exporter.collect import ConfigError
    from lic_exporter.collect.command import configured

    try:
        return configured(args.config_file, args.collect_dir, shard=args.shard)
    except ConfigError as exc:
        raise UsageError(*(f"{args.config_file}: {problem}" for problem in exc.problems)) from None


def check_configuration(args: argparse.Namespace) -> int:
    """`serve --config.check` / `collect --config.check` (placeholder: serve only, first problems)."""
    serve_settings(args)
    return EXIT_OK
