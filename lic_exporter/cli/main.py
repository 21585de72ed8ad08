"""`lic-exporter`: the command line. Thin: arguments in, the other modules do the work.

Exit codes (contract): 0 everything parsed; 1 some input could not be parsed (the rest is
still printed, each problem on stderr as PATH:LINE: message); 2 usage error.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lic_exporter import __version__
from lic_exporter.cli.options import (
    EXIT_OK,
    EXIT_PARSE_ERRORS,
    EXIT_USAGE,
    UsageError,
    instant,
    positive,
    read_device_map,
    shard_option,
    zone_option,
)
from lic_exporter.sources.values import MAX_SYSLOG_DEVICES

if TYPE_CHECKING:  # imported where used: `--help` and usage errors stay fast
    from lic_exporter.model.records import Record
    from lic_exporter.parsing.files import Parser
    from lic_exporter.parsing.results import ParseIssue
    from lic_exporter.parsing.syslog_tally import Tally


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lic-exporter", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"lic-exporter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parse = commands.add_parser("parse", help="parse saved show outputs and print the result")
    parse.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or folder (walked recursively)")
    parse.add_argument("--format", choices=("table", "json", "prometheus"), default="table")
    _common(parse)
    diagnose = commands.add_parser("diagnose", help="findings with remedies, from the same inputs as parse")
    diagnose.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or folder (walked recursively)")
    diagnose.add_argument("--format", choices=("text", "json"), default="text")
    _common(diagnose)
    _serve_arguments(commands.add_parser("serve", help="the exporter daemon: watch folders and syslog files, "
                                                       "serve /metrics"))
    collect = commands.add_parser("collect", help="log in to the switches over SSH once and save their transcripts")
    collect.add_argument("--config.file", dest="config_file", type=Path, required=True, metavar="FILE",
                         help="targets and credentials (YAML; README, 'Collecting from the switches')")
    collect.add_argument("--out", type=Path, required=True, metavar="DIR", help="where DIR/<device>.log is written")
    collect.add_argument("--limit", metavar="GLOB", help="only targets whose name matches, e.g. 'nx-dc1-*'")
    collect.add_argument("--jobs", type=positive, metavar="N", help="sessions at once (default: collect.concurrency)")
    collect.add_argument("--collect.shard", dest="shard", type=shard_option, metavar="K/N",
                         help="only the targets whose name hashes to shard K of N")
    return parser


DEFAULT_LISTEN = ":10311"  # above the exhausted 9100-9999 range of Prometheus' port allocations


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--watch", type=Path, action="append", default=[], metavar="DIR",
                       help="folder of saved show outputs, watched recursively (repeatable)")
    serve.add_argument("--syslog", action="append", default=[], metavar="PATH",
                       help="syslog file or glob pattern to follow (repeatable)")
    serve.add_argument("--web.listen-address", dest="listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                       help=f"where to serve /metrics (default {DEFAULT_LISTEN}: every interface)")
    serve.add_argument("--web.config.file", dest="web_config", type=Path, metavar="FILE",
                       help="exporter-toolkit web configuration: TLS, client certificates, basic auth")
    serve.add_argument("--log.level", dest="log_level", default="info", choices=("debug", "info", "warn", "error"))
    serve.add_argument("--device-map", type=Path, metavar="FILE",
                       help="names for syslog senders known only by address: lines of ADDRESS NAME")
    serve.add_argument("--tz", type=zone_option, action="append", default=[], metavar="NAME=+HH:MM",
                       help="a time zone abbreviation the switches print, e.g. CET=+01:00")
    serve.add_argument("--jobs", type=positive, default=os.cpu_count() or 1, metavar="N",
                       help="worker processes for the initial scan (default: one per CPU)")
    serve.add_argument("--syslog.max-devices", dest="syslog_max_devices", type=positive, default=MAX_SYSLOG_DEVICES,
                       metavar="N", help=f"count syslog lines of at most N devices (default {MAX_SYSLOG_DEVICES}); "
                                         "lines of further hosts are skipped and counted")
    serve.add_argument("--config.file", dest="config_file", type=Path, metavar="FILE",
                       help="collect from the switches over SSH on the configured schedule (needs --collect.dir)")
    serve.add_argument("--collect.dir", dest="collect_dir", type=Path, metavar="DIR",
                       help="where collected transcripts go; watched like --watch")
    serve.add_argument("--collect.shard", dest="shard", type=shard_option, metavar="K/N",
                       help="collect only the targets whose name hashes to shard K of N")
    serve.add_argument("--syslog.known-devices-only", dest="syslog_known_only", action="store_true",
                       help="count syslog lines only of devices the --device-map names or the show outputs know")
    serve.add_argument("--now", type=instant, metavar="ISO8601",
                       help="pretend the time is this (tests and demos): day counts and findings are computed for it")


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--tz", type=zone_option, action="append", default=[], metavar="NAME=+HH:MM",
                         help="a time zone abbreviation the switch prints (clock timezone), e.g. CET=+01:00")
    command.add_argument("--device-map", type=Path, metavar="FILE",
                         help="names for syslog senders known only by address: lines of ADDRESS NAME")
    command.add_argument("--now", type=instant, metavar="ISO8601",
                         help="judge deadlines as of this time instead of the current time")
    command.add_argument("--jobs", type=positive, default=os.cpu_count() or 1, metavar="N",
                         help="worker processes for large inputs (default: one per CPU; 1: none)")
    command.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                         help="colour the output (auto: when writing to a terminal)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except UsageError as error:
        for problem in error.problems:
            print(f"lic-exporter {args.command}: {problem}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    if args.command == "parse":
        return _parse(args)
    if args.command == "diagnose":
        return _diagnose(args)
    if args.command == "serve":
        from lic_exporter.cli.serve import serve  # the daemon's imports (watchdog, http) only when serving

        return serve(args)
    if args.command == "collect":
        from lic_exporter.collect.command import collect_command  # asyncssh only when collecting

        return collect_command(args.config_file, args.out, args.limit, args.jobs, args.shard)
    return EXIT_USAGE


def _parse(args: argparse.Namespace) -> int:
    if args.format == "json":
        return _parse_json(args)
    records, issues, files_ok, tally = _read(args)
    from lic_exporter.exposition import formats as render  # imported here: `--help` and usage errors stay fast

    now = args.now or datetime.now(UTC)
    if args.format == "prometheus":
        sys.stdout.write(render.as_prometheus(records, issues, files_ok, now, tally))
    else:
        sys.stdout.write(render.as_table(records, now, _color(args), tally))
    return EXIT_PARSE_ERRORS if issues else EXIT_OK


def _parse_json(args: argparse.Namespace) -> int:
    """The JSON document is written as the records come: memory does not grow with the input."""
    parser = _parser(args)
    from lic_exporter.exposition.formats import JsonWriter

    writer = JsonWriter(sys.stdout)
    issues: list[ParseIssue] = []
    for result in parser.parse_paths(args.paths, jobs=args.jobs, as_json=True, stream=writer.record):
        writer.records_json(result.records_json)
        issues.extend(result.issues)
        for issue in result.issues:
            print(issue, file=sys.stderr)
    writer.close(issues)
    return EXIT_PARSE_ERRORS if issues else EXIT_OK


def _parser(args: argparse.Namespace) -> Parser:
    """The Parser for these options (UsageError: a PATH that does not exist, a bad --device-map)."""
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    try:
        device_map = read_device_map(args.device_map) if args.device_map else None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--device-map: {exc}") from None
    from lic_exporter.parsing.files import Parser

    return Parser(zones=dict(args.tz) or None, device_map=device_map, jobs=args.jobs)


def _read(args: argparse.Namespace) -> tuple[list[Record], list[ParseIssue], int, Tally]:
    """Parse the PATHs as `parse` does: (records, issues, files ok, syslog tally)."""
    parser = _parser(args)
    from lic_exporter.parsing.syslog_tally import Tally

    # A one-shot run over thousands of files: the cyclic garbage collector would rescan every
    # record kept so far again and again (records hold no reference cycles), so it is off.
    gc.disable()
    records: list[Record] = []
    issues: list[ParseIssue] = []
    files_ok, tally = 0, Tally()
    for result in parser.parse_paths(args.paths, jobs=args.jobs):
        records.extend(result.records)
        issues.extend(result.issues)
        files_ok += result.ok
        if result.syslog is not None:
            tally.merge(result.syslog)
    for issue in issues:
        print(issue, file=sys.stderr)
    return records, issues, files_ok, tally


def _color(args: argparse.Namespace) -> bool:
    return args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))


def _diagnose(args: argparse.Namespace) -> int:
    """Exit 0 when nothing above info was found, 1 for warnings or critical findings (so it
    can gate a pipeline), 2 for usage errors."""
    records, issues, _, tally = _read(args)
    from lic_exporter.analysis.diagnose import diagnose, fleet_facts
    from lic_exporter.analysis.views import device_views
    from lic_exporter.exposition import formats as render

    findings = diagnose(fleet_facts(device_views(records), tally), args.now or datetime.now(UTC))
    if args.format == "json":
        sys.stdout.write(render.findings_json(findings, issues) + "\n")
    else:
        sys.stdout.write(render.as_diagnosis(findings, _color(args)))
        if issues:
            sys.stdout.write(f"\n{len(issues)} input problem(s), listed on stderr: findings may be missing\n")
    # Input that could not be parsed must not pass a gate as "healthy".
    return EXIT_PARSE_ERRORS if issues or any(f.severity != "info" for f in findings) else EXIT_OK
