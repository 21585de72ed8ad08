"""`lic-exporter`: the command line (arguments in; the stages do the work).

Exit codes (contract): 0 everything parsed; 1 some input could not be parsed (the rest is
still printed, each problem on stderr as PATH:LINE: message); 2 usage error.

Flag style (docs/cli.md): daemon settings are dotted, grouped by what they set (`--web.*`,
`--log.*`, `--config.*`, `--collect.*`, `--syslog.*`, `--metrics.*`), as the Prometheus
exporters name theirs; inputs and one-shot options are plain words (`--watch`, `--format`).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lic_exporter.cli.options import (
    EXIT_OK,
    EXIT_PARSE_ERRORS,
    EXIT_USAGE,
    UsageError,
    device_pattern,
    instant,
    positive,
    read_device_map,
    shard_option,
    zone_option,
)
from lic_exporter.model.release import version_line
from lic_exporter.sources.values import MAX_SYSLOG_DEVICES

if TYPE_CHECKING:  # imported where used: `--help` and usage errors stay fast
    from lic_exporter.analysis.facts import Finding
    from lic_exporter.model.accounts import AccountRecord
    from lic_exporter.model.records import Record
    from lic_exporter.parsing.files import Parser
    from lic_exporter.parsing.results import ParseIssue
    from lic_exporter.parsing.syslog_tally import Tally

DESCRIPTION = ("Cisco Smart Licensing state of Nexus (NX-OS) switches, from saved show outputs, syslog and "
               "SSH collection, as tables, JSON, findings and Prometheus metrics.")
EPILOG = ("'lic-exporter COMMAND --help' lists a command's options. Start with "
          "'lic-exporter parse examples/fleet' in a checkout; the documentation is in docs/.")
DEFAULT_LISTEN = ":10311"  # above the exhausted 9100-9999 range of Prometheus' port allocations
CPUS = os.cpu_count() or 1
LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("logfmt", "json")
DEVICE_PATTERN_HELP = ("name devices from the file's path relative to the folder given, with a group named device, "
                       "e.g. '^[^/]+/(?P<device>[^/]+)$' for GROUP/DEVICE files; a prompt in the file still wins")


class _Help(argparse.HelpFormatter):
    """Help with each option's default shown, where it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or action.default in (None, [], False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Version(argparse.Action):
    """`--version`: the line as it is (argparse's own action wraps it at the terminal's width),
    asking for the revision only when it is wanted."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lic-exporter", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_Help)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the version, the source revision it was built from and the Python version")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parse = commands.add_parser("parse", formatter_class=_Help, help="parse saved show outputs and syslog files "
                                "once and print what they say",
                                description="Parse saved show outputs and syslog files once and print the result.")
    parse.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or folder (walked recursively)")
    parse.add_argument("--format", choices=("table", "json", "prometheus"), default="table",
                       help="table for people, json for scripts, prometheus for node_exporter's textfile collector")
    _common(parse)
    diagnose = commands.add_parser("diagnose", formatter_class=_Help,
                                   help="findings with remedies, from the same inputs as parse",
                                   description="What is wrong, why, and what to do, from the same inputs as parse. "
                                               "Exit 1 when a warning or critical finding is found, when input "
                                               "could not be read or parsed, or when no device is found at all.")
    diagnose.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or folder (walked recursively)")
    diagnose.add_argument("--format", choices=("text", "json"), default="text",
                          help="text for people, json for scripts")
    _common(diagnose)
    _serve_arguments(commands.add_parser(
        "serve", formatter_class=_Help, help="the exporter daemon: watch folders and syslog files, serve /metrics",
        description="The exporter daemon: watch folders of saved outputs and follow syslog files (and, with "
                    "--config.file, collect over SSH), and serve /metrics. SIGHUP (or POST /-/reload with "
                    "--web.enable-lifecycle) re-reads the configuration and rescans."))
    _collect_arguments(commands.add_parser(
        "collect", formatter_class=_Help, help="log in to the switches over SSH once and save their transcripts",
        description="Log in to each configured switch over SSH once, run its licensing show commands and save "
                    "the session as DIR/<device>.log. Exit 0 all collected, 1 some failed, 2 a configuration "
                    "error."))
    from lic_exporter.cli import accounts_command  # argparse only: the account modules load when it runs

    accounts_command.add_parser(commands, formatter_class=_Help)
    return parser


def _log_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--log.level", dest="log_level", default="info", choices=LOG_LEVELS,
                         help="least severe log lines written to stderr")
    command.add_argument("--log.format", dest="log_format", default="logfmt", choices=LOG_FORMATS,
                         help="one logfmt or JSON object per line, with ts (RFC 3339, UTC), level and msg")


def _collect_arguments(collect: argparse.ArgumentParser) -> None:
    collect.add_argument("--config.file", dest="config_file", type=Path, required=True, metavar="FILE",
                         help="targets and credentials (YAML; docs/collecting.md)")
    collect.add_argument("--config.check", dest="config_check", action="store_true",
                         help="validate --config.file (and the inventories and secret files it names), print "
                              "each problem as FILE: key.path: message, exit 0 or 2; connects to nothing")
    collect.add_argument("--out", type=Path, metavar="DIR", help="where DIR/<device>.log is written (required "
                                                                 "unless --config.check)")
    collect.add_argument("--limit", metavar="GLOB", help="only targets whose name matches, e.g. 'nx-dc1-*'")
    collect.add_argument("--collect.concurrency", dest="concurrency", type=positive, metavar="N",
                         help="SSH sessions at once (default: the configuration's collect.concurrency)")
    collect.add_argument("--jobs", dest="concurrency", type=positive, help=argparse.SUPPRESS)  # its old name
    collect.add_argument("--collect.shard", dest="shard", type=shard_option, metavar="K/N",
                         help="only the targets whose name hashes to shard K of N")
    _log_arguments(collect)


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    inputs = serve.add_argument_group("inputs")
    inputs.add_argument("--watch", type=Path, action="append", default=[], metavar="DIR",
                        help="folder of saved show outputs, watched recursively (repeatable)")
    inputs.add_argument("--syslog", action="append", default=[], metavar="PATH",
                        help="syslog file or glob pattern to follow, quoted (repeatable)")
    inputs.add_argument("--config.file", dest="config_file", type=Path, metavar="FILE",
                        help="collect from the switches over SSH on the configured schedule (needs --collect.dir)")
    inputs.add_argument("--collect.dir", dest="collect_dir", type=Path, metavar="DIR",
                        help="where collected transcripts go; watched like --watch")
    inputs.add_argument("--collect.shard", dest="shard", type=shard_option, metavar="K/N",
                        help="collect only the targets whose name hashes to shard K of N")
    inputs.add_argument("--config.check", dest="config_check", action="store_true",
                        help="validate every configuration given (--web.config.file, --config.file and the "
                             "inventories and secret files it names, --device-map), print each problem as "
                             "FILE: key.path: message, exit 0 or 2; serves and connects to nothing")
    web = serve.add_argument_group("web")
    web.add_argument("--web.listen-address", dest="listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                     help="where to serve /metrics and the status page (':PORT' is every interface)")
    web.add_argument("--web.config.file", dest="web_config", type=Path, metavar="FILE",
                     help="exporter-toolkit web configuration: TLS, client certificates, basic auth (docs/security.md)")
    web.add_argument("--web.enable-lifecycle", dest="lifecycle", action="store_true",
                     help="let POST /-/reload do what SIGHUP does (behind the same TLS and authentication); "
                          "without it that path answers 403")
    metrics = serve.add_argument_group("metrics and parsing")
    metrics.add_argument("--metrics.deadline-days", dest="deadline_days", action="store_true",
                         help="also export cisco_smartlic_deadline_days (days left, computed at each page); rules "
                              "and dashboards compute days from the timestamps and do not need it")
    metrics.add_argument("--device-map", type=Path, metavar="FILE",
                         help="names for syslog senders known only by address: lines of ADDRESS NAME")
    metrics.add_argument("--device-pattern", type=device_pattern, metavar="REGEX", help=DEVICE_PATTERN_HELP)
    metrics.add_argument("--tz", type=zone_option, action="append", default=[], metavar="NAME=+HH:MM",
                         help="a time zone abbreviation the switches print, e.g. CET=+01:00 (repeatable)")
    metrics.add_argument("--jobs", type=positive, default=CPUS, metavar="N",
                         help="worker processes for the initial scan")
    metrics.add_argument("--syslog.max-devices", dest="syslog_max_devices", type=positive,
                         default=MAX_SYSLOG_DEVICES, metavar="N",
                         help="count syslog lines of at most N devices; lines of further hosts are skipped and "
                              "counted")
    metrics.add_argument("--syslog.known-devices-only", dest="syslog_known_only", action="store_true",
                         help="count syslog lines only of devices the --device-map names or the show outputs know")
    metrics.add_argument("--now", type=instant, metavar="ISO8601",
                         help="pretend the time is this (tests and demos): day counts and findings are computed "
                              "for it")
    _log_arguments(serve.add_argument_group("logging"))  # type: ignore[arg-type]  # a group adds arguments alike


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--tz", type=zone_option, action="append", default=[], metavar="NAME=+HH:MM",
                         help="a time zone abbreviation the switch prints (clock timezone), e.g. CET=+01:00 "
                              "(repeatable)")
    command.add_argument("--device-map", type=Path, metavar="FILE",
                         help="names for syslog senders known only by address: lines of ADDRESS NAME")
    command.add_argument("--device-pattern", type=device_pattern, metavar="REGEX", help=DEVICE_PATTERN_HELP)
    command.add_argument("--now", type=instant, metavar="ISO8601",
                         help="judge deadlines as of this time instead of the current time")
    command.add_argument("--jobs", type=positive, default=CPUS, metavar="N",
                         help="worker processes for large inputs (1: none)")
    command.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                         help="colour the output (auto: when writing to a terminal and NO_COLOR is unset)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except UsageError as error:
        for problem in error.problems:
            print(f"lic-exporter {args.command}: {problem}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    if args.command == "accounts":
        from lic_exporter.cli import accounts_command

        return accounts_command.run(args)
    if args.command == "parse":
        return _parse(args)
    if args.command == "diagnose":
        return _diagnose(args)
    if args.command in ("serve", "collect") and args.config_check:
        from lic_exporter.cli.check import check_configuration

        return check_configuration(args)
    if args.command == "serve":
        from lic_exporter.cli.serve import serve  # the daemon's imports (watchdog, http) only when serving

        return serve(args)
    if args.command == "collect":
        from lic_exporter.cli.logs import configure_logging
        from lic_exporter.collect.command import collect_command  # asyncssh only when collecting

        if args.out is None:
            raise UsageError("--out DIR is required (unless --config.check)")
        configure_logging(args.log_level, args.log_format)
        return collect_command(args.config_file, args.out, args.limit, args.concurrency, args.shard)
    return EXIT_USAGE


def _parse(args: argparse.Namespace) -> int:
    if args.format == "json":
        return _parse_json(args)
    read = _read(args)
    from lic_exporter.exposition import formats as render  # imported here: `--help` and usage errors stay fast

    now = args.now or datetime.now(UTC)
    if args.format == "prometheus":
        sys.stdout.write(render.as_prometheus(read.records, read.issues, read.files_ok, now, read.tally,
                                              read.accounts))
    else:
        sys.stdout.write(render.as_table(read.records, now, _color(args), read.tally, read.accounts))
    return EXIT_PARSE_ERRORS if read.issues else EXIT_OK


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
    missing = [str(path) for path in args.paths if not _exists(path)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    try:
        device_map = read_device_map(args.device_map) if args.device_map else None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--device-map: {exc}") from None
    from lic_exporter.parsing.files import Parser

    return Parser(zones=dict(args.tz) or None, device_map=device_map, jobs=args.jobs,
                  device_pattern=args.device_pattern)


def _exists(path: Path) -> bool:
    """Whether the PATH is there; one that cannot be looked at (below a folder without search
    permission) may well be: reading it says why it cannot be read (exit 1, not 2)."""
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


@dataclass
class _Read:
    """What the PATHs held: device records, account records, problems, files read, syslog tally."""

    records: list[Record]
    accounts: list[AccountRecord]
    issues: list[ParseIssue]
    files_ok: int
    tally: Tally


def _read(args: argparse.Namespace) -> _Read:
    """Parse the PATHs as `parse` does."""
    parser = _parser(args)
    from lic_exporter.parsing.syslog_tally import Tally

    # A one-shot run over thousands of files: the cyclic garbage collector would rescan every
    # record kept so far again and again (records hold no reference cycles), so it is off.
    gc.disable()
    read = _Read([], [], [], 0, Tally())
    for result in parser.parse_paths(args.paths, jobs=args.jobs):
        read.records.extend(result.records)
        read.accounts.extend(result.accounts)
        read.issues.extend(result.issues)
        read.files_ok += result.ok
        if result.syslog is not None:
            read.tally.merge(result.syslog)
    for issue in read.issues:
        print(issue, file=sys.stderr)
    from lic_exporter.parsing.results import newest_captures

    # As the daemon does: of several files giving a device the same command (or holding one
    # account source's poll), the newest counts.
    read.records = newest_captures(read.records)
    if read.accounts:  # the account readers (YAML, JSON schemas) load only for account snapshots
        from lic_exporter.parsing.accounts import newest_accounts

        read.accounts = newest_accounts(read.accounts)
    return read


def _color(args: argparse.Namespace) -> bool:
    return args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))


def _diagnose(args: argparse.Namespace) -> int:
    """Exit 0 when nothing above info was found, 1 for warnings or critical findings, input
    that could not be read or parsed, or no device at all (so it can gate a pipeline), 2 for
    usage errors."""
    read = _read(args)
    issues = read.issues
    from lic_exporter.analysis.accounts import account_findings
    from lic_exporter.analysis.diagnose import diagnose, fleet_facts
    from lic_exporter.analysis.views import device_views
    from lic_exporter.exposition import formats as render

    now = args.now or datetime.now(UTC)
    fleet = fleet_facts(device_views(read.records), read.tally)
    # The devices' findings (the join with their virtual accounts among them), then the accounts'.
    findings = _joined(diagnose(fleet, now), account_findings(read.accounts, fleet, now))
    judged = len(fleet) + len(read.accounts)
    nothing = f"no device found in {', '.join(str(path) for path in args.paths)}: nothing to judge\n"
    if args.format == "json":
        sys.stdout.write(render.findings_json(findings, issues) + "\n")
        if not judged:
            sys.stderr.write(nothing)
    else:  # never "every device looks healthy" over no device, nor over input not all read
        if not judged:
            sys.stdout.write(nothing)
        elif not findings and issues:
            sys.stdout.write(f"no findings in what could be read ({_counted(len(fleet), len(read.accounts))})\n")
        else:
            sys.stdout.write(render.as_diagnosis(findings, _color(args)))
        if issues:
            sys.stdout.write(f"\n{len(issues)} input problem(s), listed on stderr: findings may be missing\n")
    # Input that could not be read or parsed, or none at all, must not pass a gate as "healthy".
    return EXIT_PARSE_ERRORS if issues or not judged or any(f.severity != "info" for f in findings) else EXIT_OK


def _joined(device_findings: list[Finding], account_findings: list[Finding]) -> list[Finding]:
    """Diagnose's findings per device and the account findings, grouped as they are printed:
    a device's join findings (out of compliance where its virtual account is short) under
    that device, after its own; then each account's, in the order of its worst finding."""
    devices = list(dict.fromkeys(finding.device for finding in device_findings))
    joined = {device: [f for f in device_findings if f.device == device] for device in devices}
    for finding in account_findings:
        if finding.device:
            joined.setdefault(finding.device, []).append(finding)
    for finding in account_findings:  # each account's together, worst account first
        if not finding.device:
            joined.setdefault(f"account {finding.account}", []).append(finding)
    return [finding for found in joined.values() for finding in found]


def _counted(devices: int, accounts: int) -> str:
    return f"{devices} device(s)" + (f", {accounts} account snapshot(s)" if accounts else "")
