"""What parsing a file yields: its records, or its problems, each naming file and line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lic_exporter.model.records import Record
from lic_exporter.parsing.syslog_tally import Tally
from lic_exporter.sources.privacy import clean_controls

RecordStream = Callable[[Record], object]


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
class FileResult:
    path: str
    records: tuple[Record, ...] = ()
    issues: tuple[ParseIssue, ...] = ()
    recognised: bool = True  # False: nothing in it this tool knows (skipped when walking)
    records_json: tuple[str, ...] = ()  # the records as JSON instead, when asked for (as_json)
    syslog: Tally | None = None  # a syslog file: its messages added up
    devices: frozenset[str] = frozenset()  # the devices of records_json (as_json keeps them)

    def as_json(self) -> FileResult:
        """The same result with its records serialised: cheap to hand between processes
        and ready to print."""
        rendered = tuple(record.model_dump_json() for record in self.records)
        devices = frozenset(record.device for record in self.records)
        return FileResult(self.path, (), self.issues, self.recognised, rendered, self.syslog, devices)

    @property
    def ok(self) -> bool:
        return not any(issue.fatal for issue in self.issues)

