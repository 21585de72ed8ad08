"""A template row's values, typed, each knowing the file line it came from.

TextFSM hands over strings; `Fields` turns them into values and names the file line (and the
label Cisco prints) of any value it cannot read. `Context` is what a section's records share:
its device, command, capture time and lines, and whether the output ends inside a block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from lic_exporter.sources.privacy import scrub
from lic_exporter.sources.values import (
    BadValueError,
    UnknownZoneError,
    clean,
    parse_bool,
    parse_count,
    parse_duration,
    parse_timestamp,
)


class SectionError(Exception):
    """An output this tool recognised but cannot turn into a whole record. `zone`: the time
    zone no table or --tz knows, when that was the reason (reported once per file)."""

    def __init__(self, line: int, message: str, zone: str | None = None):
        super().__init__(message)
        self.line = line
        self.message = message
        self.zone = zone


@dataclass(frozen=True)
class Context:
    """What every record of one section shares."""

    device: str
    command: str
    source: str
    first_line: int  # file line of the section's first output line
    captured_at: datetime
    captured_at_from: Literal["output", "file_mtime"]
    zones: dict[str, int] | None = None
    lines: Sequence[str] = ()  # the section's lines, to find where a value stood
    closed: bool = False  # a prompt followed the output: it is whole as printed
    notes: list[tuple[int, str]] = field(default_factory=list)  # reported, but the record stands

    def note(self, line: int, message: str) -> None:
        self.notes.append((line, message))

    def ends_inside(self, line: int) -> bool:
        """Whether the output stops inside the block whose header is at file line `line`:
        no prompt came after the output and no other block or heading follows the block.
        This, not a line one release prints and another does not, tells a cut-off output."""
        if self.closed:
            return False
        following = self.lines[max(line - self.first_line + 1, 0):]
        return not any(_starts_block(text) for text in following)

    def last_text_line(self) -> int:
        """The file line of the section's last non-blank line."""
        for offset in range(len(self.lines) - 1, -1, -1):
            if self.lines[offset].strip():
                return self.first_line + offset
        return self.first_line

    def line_of(self, text: str, label: str | None = None) -> int:
        """The file line of the first section line holding `text` (after `label`, when
        given). Looked up only when something is wrong, so parsing pays nothing for it."""
        for offset, line in enumerate(self.lines):
            if text in line and (label is None or label in line.split(text, 1)[0]):
                return self.first_line + offset
        return self.first_line

    def base(self) -> RecordBase:
        return {
            "device": self.device, "command": self.command, "source": self.source,
            "line": self.first_line, "captured_at": self.captured_at,
            "captured_at_from": self.captured_at_from,
        }


class RecordBase(TypedDict):
    """The fields every record of this section starts with (where and when it was captured)."""

    device: str
    command: str
    source: str
    line: int
    captured_at: datetime
    captured_at_from: Literal["output", "file_mtime"]


# A TextFSM row: each value a string, a list of strings (List values) or a list of dicts (List
# values with named groups). Which one a name holds is the template's to say, so callers index
# them without a check per value: typed as Any on purpose.
RowValues = dict[str, Any]


class Fields:
    """One template row with typed accessors that know the file line of each value."""

    def __init__(self, values: RowValues, ctx: Context):
        self.values = values
        self.ctx = ctx

    def raw(self, name: str) -> str:
        value = self.values.get(name) or ""
        return scrub(value) if isinstance(value, str) else ""

    def has(self, name: str) -> bool:
        return bool(self.values.get(name))

    def line(self, name: str) -> int:
        label = LABELS.get(name, "").split(" ...")[0] or None
        value = self.values.get(name)
        return self.ctx.line_of(value if value and isinstance(value, str) else name, label)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return clean(scrub(value)) if value and isinstance(value, str) else None

    def time(self, name: str) -> datetime | None:
        return self._convert(name, lambda text: parse_timestamp(text, None, self.ctx.zones))

    def duration(self, name: str) -> timedelta | None:
        return self._convert(name, parse_duration)

    def count(self, name: str) -> int | None:
        return self._convert(name, parse_count)

    def flag(self, name: str) -> bool | None:
        text = self.text(name)
        return None if text is None else parse_bool(text)

    def _convert(self, name, convert):
        value = self.values.get(name)  # read, not kept: no scrubbing (an error message is scrubbed)
        text = clean(value) if value and isinstance(value, str) else None
        if text is None:
            return None
        try:
            return convert(text)
        except UnknownZoneError as exc:
            raise SectionError(self.line(name), str(exc), exc.zone) from None
        except (BadValueError, OverflowError, ValueError) as exc:
            raise SectionError(self.line(name), f"{_label(name)}: {exc}") from None


# Template value -> the label Cisco prints, for error messages people can find in the file.
LABELS = {
    "ACCOUNT_AS_OF": "Smart Account ... As of", "INITIAL_REG_AT": "Initial Registration",
    "RENEWAL_AT": "Last Renewal Attempt", "NEXT_RENEWAL": "Next Renewal Attempt",
    "REG_EXPIRES": "Registration Expires", "AUTH_SINCE": "Status ... on", "COMM_AT": "Last Communication Attempt",
    "NEXT_COMM": "Next Communication Attempt", "COMM_DEADLINE": "Communication Deadline",
    "EVAL_REMAINING": "Evaluation Period Remaining", "PROXY_PORT": "Port", "POLICY_INSTALLED": "Policy in use",
    "LAST_ACK": "Last ACK received", "NEXT_ACK_DEADLINE": "Next ACK deadline",
    "PUSH_INTERVAL": "Reporting push interval", "NEXT_ACK_PUSH_CHECK": "Next ACK push check",
    "NEXT_REPORT_PUSH": "Next report push", "LAST_REPORT_PUSH": "Last report push",
    "LAST_REPORT_FILE_WRITE": "Last report file write", "TRUST_CODE": "Trust Code Installed",
    "COUNT": "Count",
}


def _label(name: str) -> str:
    return LABELS.get(name, name.lower().replace("_", " "))


# A line that starts a block: a label with nothing after it (`License Usage:`, a licence
# `(TAG):`), an underline, a table header or rule. A value label left without its value
# (`Communication Deadline:` cut after the colon) does not count.
_BLOCK_START = re.compile(r"^\s*(?:(?P<label>\S[^:]{0,80}):|=+|-{10,}|License\s+Entitlement\s+[Tt]ag.*"
                          r"|(?:Product Information|Agent Version|License Usage|Handle:\s*\d+))\s*$")
_VALUE_LABELS = frozenset(label.split(" ...")[0].lower() for label in LABELS.values()) | {
    "status", "smart account", "virtual account", "export-controlled functionality", "failure reason",
    "description", "count", "version", "export status", "enforcement type", "license type", "type", "url",
    "address", "port", "username", "password", "vrf"}


def _starts_block(line: str) -> bool:
    match = _BLOCK_START.match(line)
    if match is None:
        return False
    label = match["label"]
    return label is None or label.strip().lower() not in _VALUE_LABELS

