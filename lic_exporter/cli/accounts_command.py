"""`lic-exporter accounts`: one poll of every configured account source into DIR, one line per
source on stdout, exit 0 (all polled), 1 (some failed) or 2 (a usage or configuration error).

Each line is `SOURCE ok|failed REASON SECONDS REQUESTS FILE` (`-` where there is none), the
shape of `collect`'s lines with the number of HTTP requests added. The account modules (and
httpx) are imported only when the command runs: `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lic_exporter.cli.logs import FORMATS, LEVELS
from lic_exporter.cli.options import EXIT_OK, EXIT_PARSE_ERRORS, UsageError

COMMAND = "accounts"
DESCRIPTION = ("Poll each account source of --config.file (Cisco Smart Software Manager in the cloud, or an SSM "
               "On-Prem server) once, read-only, and save its answers, without any token or secret, as "
               "DIR/<source>.accounts.json. Exit 0 all polled, 1 some failed, 2 a usage or configuration error.")


def add_parser(subparsers: Any, formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter) \
        -> argparse.ArgumentParser:
    """Add the `accounts` command to `subparsers` (what add_subparsers returned)."""
    command: argparse.ArgumentParser = subparsers.add_parser(
        COMMAND, formatter_class=formatter_class, description=DESCRIPTION,
        help="poll the Smart Account (CSSM or SSM On-Prem) once and save what it says")
    command.add_argument("--config.file", dest="config_file", type=Path, required=True, metavar="FILE",
                         help="the account sources, in its accounts: section (YAML; docs/accounts.md)")
    command.add_argument("--config.check", dest="config_check", action="store_true",
                         help="validate the accounts: section of --config.file (and the secret and CA files it "
                              "names), print each problem as FILE: key.path: message, exit 0 or 2; connects to "
                              "nothing")
    command.add_argument("--out", type=Path, metavar="DIR",
                         help="where DIR/<source>.accounts.json is written (required unless --config.check)")
    command.add_argument("--log.level", dest="log_level", default="info", choices=tuple(LEVELS),
                         help="least severe log lines written to stderr")
    command.add_argument("--log.format", dest="log_format", default="logfmt", choices=FORMATS,
                         help="one logfmt or JSON object per line, with ts (RFC 3339, UTC), level and msg")
    return command


def run(args: argparse.Namespace) -> int:
    """Run `lic-exporter accounts` as parsed into `args`; the exit code (a UsageError: main's exit 2)."""
    from lic_exporter.cli.check import check_accounts

    config, found = check_accounts(args.config_file, args.out)
    for warning in found.warnings:
        print(f"lic-exporter {COMMAND}: warning: {warning}", file=sys.stderr)
    if found.problems or config is None:
        raise UsageError(*found.problems)
    if args.config_check:
        print(f"configuration OK: {len(config.sources)} account source(s) in {args.config_file}")
        return EXIT_OK
    if args.out is None:
        raise UsageError("--out DIR is required (unless --config.check)")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {args.out}: {error.strerror}") from None
    return _poll(config, args)


def _poll(config: Any, args: argparse.Namespace) -> int:
    import asyncio

    from lic_exporter.accounts import AccountsPoller
    from lic_exporter.cli.logs import configure_logging

    configure_logging(args.log_level, args.log_format)
    from lic_exporter.parsing.accounts import snapshot_problem

    results = asyncio.run(AccountsPoller(config, args.out, check=snapshot_problem).poll_all())
    for result in results:
        print(result.line())
    return EXIT_PARSE_ERRORS if any(not result.ok for result in results) else EXIT_OK
