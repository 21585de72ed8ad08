"""Syslog files and `show logging` sections -> their tally, and their messages as records."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lic_exporter.parsing.results import FileResult, ParseIssue, RecordStream
from lic_exporter.parsing.syslog_chunks import PARALLEL_BYTES, Block, read_chunks, tally_parallel, tally_stream
from lic_exporter.parsing.syslog_lines import Event, LineParser
from lic_exporter.parsing.syslog_tally import Tally
from lic_exporter.sources.capture import Section, file_stem
from lic_exporter.sources.names import device_name

if TYPE_CHECKING:
    from lic_exporter.model.records import SyslogRecord


def read_syslog_file(path: Path, handle: BinaryIO, line_parser: LineParser, jobs: int, keep_events: bool,
                     stream: RecordStream | None) -> FileResult:
    """A syslog file's tally; with `keep_events`, a record per message too, kept or handed to
    `stream`. A large one is shared among `jobs` processes when its records are not wanted."""
    source = str(path)
    mtime = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, tz=UTC)
    kept: list[SyslogRecord] = []
    on_event = None
    if keep_events:
        write = stream or kept.append
        on_event = lambda event: write(syslog_record(event, source, mtime))  # noqa: E731
    fallback = device_name(file_stem(path.name))
    size = os.fstat(handle.fileno()).st_size
    if on_event is None and jobs > 1 and size >= PARALLEL_BYTES:
        tally = tally_parallel(str(path), size, line_parser, fallback, mtime, jobs)
    else:
        tally = tally_stream(read_chunks(handle), line_parser, fallback, mtime, on_event)
    return FileResult(source, tuple(kept), _syslog_issues(source, tally), syslog=tally)


def read_logging_section(section: Section, line_parser: LineParser, fallback_device: str, mtime: datetime,
                         source: str, keep_events: bool) -> tuple[list[SyslogRecord], Tally]:
    """`show logging logfile` in a session: its lines are syslog, the prompt names the
    device of lines that carry no host (`fallback_device`)."""
    events: list[Event] = []
    data = "\n".join(section.lines).encode()
    tally = tally_stream([Block.of(data)], line_parser, fallback_device, mtime, events.append if keep_events else None)
    offset = section.first_line - 1
    tally.shift_lines(offset)
    records = [syslog_record(replace(event, line=event.line + offset), source, mtime) for event in events]
    return records, tally


_SHOW_LOGGING = re.compile(r"^sh(?:o(?:w)?)?\s+log(?:g(?:i(?:n(?:g)?)?)?)?(?:\s|$)")


def is_show_logging(command: str) -> bool:
    return bool(_SHOW_LOGGING.match(" ".join(command.lower().split())))


def _syslog_issues(source: str, tally: Tally) -> tuple[ParseIssue, ...]:
    """What the one-shot run reports about a log. Lines that merely mention a keyword
    (an interface called to-CALLHOME) are counted in the metrics, not reported."""
    issues = []
    if tally.nul:
        issues.append(ParseIssue(source, tally.first_nul, f"{tally.nul} line(s) with NUL bytes (dropped; the rest "
                                 "of each line was read)", fatal=False))
    if tally.undecodable:
        issues.append(ParseIssue(source, tally.first_undecodable, f"{tally.undecodable} licensing line(s) with bytes "
                                 "that are not UTF-8 (replaced)", fatal=False))
    for zone in sorted(tally.unknown_zones):
        issues.append(ParseIssue(source, None, f"times in unknown time zone {zone!r} left out (add it with "
                                 f"--tz {zone}=+HH:MM)", fatal=False))
    return tuple(issues)


def syslog_record(event: Event, source: str, mtime: datetime) -> SyslogRecord:
    # Imported here: a log counted for its metrics alone builds no record and loads no pydantic.
    from lic_exporter.model.records import SyslogRecord

    return SyslogRecord(
        device=event.device, command="syslog", source=source, line=event.line,
        captured_at=event.time or mtime, captured_at_from="output" if event.time else "file_mtime",
        facility=event.facility, severity=event.severity, severity_name=event.severity_name,
        mnemonic=event.mnemonic, message=event.message, time=event.time, year_inferred=event.year_inferred,
        failure=event.reason is not None, reason=event.reason,
    )

