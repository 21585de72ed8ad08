"""What parsing a file yields: its records, or its problems, each naming file and line; and,
where several files captured one device's command, whose records stand."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from lic_exporter.parsing.syslog_tally import Tally
from lic_exporter.sources.privacy import clean_controls

if TYPE_CHECKING:  # the record and account models (pydantic) load only where records are built
    from lic_exporter.model.accounts import AccountRecord
    from lic_exporter.model.records import Record

RecordStream = Callable[["Record"], object]


@dataclass(frozen=True)
class ParseIssue:
    path: str
    line: int | None
    message: str
    fatal: bool = True  # False: reported, but the file's records still stand

    def __str__(self) -> str:
        path = clean_controls(self.path)  # a file name may hold escape sequences: not for a terminal
        where = f"{path}:{self.line}" if self.line is not None else path
        return f"{where}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class ZoneIssue(ParseIssue):
    zone: str = ""  # the unknown zone, upper-cased: one issue per zone and file


@dataclass(frozen=True)
class ReadIssue(ParseIssue):
    """A file or folder that exists but cannot be read (permission denied, an I/O error): an
    error like a file that cannot be parsed, and counted apart (lic_exporter_unreadable_paths)."""

    folder: bool = False  # a folder that could not be listed: nothing below it is known


def read_issue(path: str, error: OSError, folder: bool = False) -> ReadIssue:
    """`PATH: cannot read: permission denied`, the reason as the system words it, lower-cased."""
    reason = error.strerror or type(error).__name__
    return ReadIssue(path, None, f"cannot read: {reason[:1].lower()}{reason[1:]}", folder=folder)


@dataclass(frozen=True)
class FileResult:
    path: str
    records: tuple[Record, ...] = ()
    issues: tuple[ParseIssue, ...] = ()
    recognised: bool = True  # False: nothing in it this tool knows (skipped when walking)
    records_json: tuple[str, ...] = ()  # the records as JSON instead, when asked for (as_json)
    syslog: Tally | None = None  # a syslog file: its messages added up
    devices: frozenset[str] = frozenset()  # the devices of records_json (as_json keeps them)
    # An account snapshot's record (parsing/accounts.py): what an account says, not a device's
    # record, so kept apart from `records`; as JSON it follows them in records_json.
    accounts: tuple[AccountRecord, ...] = ()

    def as_json(self) -> FileResult:
        """The same result with its records serialised: cheap to hand between processes
        and ready to print."""
        rendered = tuple(record.model_dump_json() for record in (*self.records, *self.accounts))
        devices = frozenset(record.device for record in self.records)
        return FileResult(self.path, (), self.issues, self.recognised, rendered, self.syslog, devices)

    @property
    def ok(self) -> bool:
        return not any(issue.fatal for issue in self.issues)

    @property
    def unreadable(self) -> ReadIssue | None:
        """Why the file (or folder) could not be read at all; None when it could."""
        return next((issue for issue in self.issues if isinstance(issue, ReadIssue)), None)


def newest_captures(records: Iterable[Record]) -> list[Record]:
    """The records that stand: where several files give one device the same command (last
    night's `sw-a_show_license_status_2026-12-01.txt` and tonight's), only the file captured
    last counts (its capture time, else its mtime; on a tie, the later path), so an older
    copy never fills in what the newer one left out. Syslog records all stand: each line is
    its own event. Order is kept."""
    records = list(records)
    newest: dict[tuple[str, str], tuple[datetime, str]] = {}
    for record in records:
        if record.kind != "syslog":
            key, rank = (record.device, record.command), (record.captured_at, record.source)
            if key not in newest or rank > newest[key]:
                newest[key] = rank
    return [record for record in records
            if record.kind == "syslog" or newest[(record.device, record.command)][1] == record.source]

