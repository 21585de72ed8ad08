"""What the commands share: exit codes, the usage error, and the readers of option values (--tz,
--device-map, --device-pattern, --now, counts). Both the command line (cli) and the daemon's start-up (serve)
import it, so neither needs the other."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path

from lic_exporter.sources.values import MAX_ZONE_NAME, BadValueError, offset_minutes

# The contract's exit codes: 0 everything parsed; 1 some input could not be parsed (each
# problem on stderr as PATH:LINE: message); 2 usage error. serve: 1 for a runtime failure.
EXIT_OK, EXIT_PARSE_ERRORS, EXIT_USAGE = 0, 1, 2
EXIT_RUNTIME = 1


class UsageError(Exception):
    """The command cannot run as asked. `lic-exporter` prints each problem on stderr after the
    command's name (`lic-exporter serve: ...`) and exits EXIT_USAGE."""

    def __init__(self, *problems: str):
        super().__init__(*problems)
        self.problems = problems


_ZONE_OPTION = re.compile(rf"([A-Za-z]{{1,{MAX_ZONE_NAME}}})=([+-])(\d{{1,2}}):?(\d{{2}})")


def zone_option(text: str) -> tuple[str, int]:
    """`--tz NAME=+HH:MM` -> (NAME upper-cased, minutes east of UTC); ±14:00 at most."""
    match = _ZONE_OPTION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected NAME=+HH:MM, got {text!r}")
    try:
        minutes = offset_minutes(match[2], match[3], match[4])
    except BadValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return match[1].upper(), minutes


def shard_option(text: str) -> tuple[int, int]:
    """`--collect.shard K/N`: this exporter collects shard K (1..N) of N."""
    number, _, shards = text.partition("/")
    if not (number.isdigit() and shards.isdigit()) or not 1 <= int(number) <= int(shards):
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return int(number), int(shards)


def device_pattern(text: str) -> re.Pattern[str]:
    """`--device-pattern REGEX`: a regular expression with a group named `device`."""
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression ({exc}): {text!r}") from None
    if "device" not in pattern.groupindex:
        raise argparse.ArgumentTypeError(f"needs a group named device, as in (?P<device>[^/]+): {text!r}")
    return pattern


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class DeviceMapError(ValueError):
    """A device map that cannot be used: every bad line, each `FILE:LINE: message`."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def read_device_map(path: Path) -> dict[str, str]:
    """`ADDRESS NAME` per line (a comma may separate them); `#` starts a comment. OSError when
    the file cannot be read, DeviceMapError listing every bad line."""
    mapping, problems = {}, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].replace(",", " ").split()
        if not words:
            continue
        if len(words) != 2:
            problems.append(f"{path}:{number}: expected ADDRESS NAME, got {line.strip()!r}")
            continue
        mapping[words[0].lower()] = words[1]
    if problems:
        raise DeviceMapError(problems)
    return mapping
