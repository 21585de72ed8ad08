"""Saved files -> typed records and problems, each problem naming its file and line.

The path of one file: capture (clean, split by prompt) -> pick the index row per section
(typed command, file name, or content) -> run its templates -> build records.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO

import pydantic
from textfsm import TextFSMError

from lic_exporter.model.records import CallhomeRecord, Entitlement, LicenseRecord, SyslogRecord
from lic_exporter.parsing import build
from lic_exporter.parsing.syslog import (
    PARALLEL_BYTES,
    Event,
    LineParser,
    Tally,
    looks_like_syslog,
    read_chunks,
    tally_parallel,
    tally_stream,
)
from lic_exporter.parsing.templates import SIGNATURE_LINES, SYSLOG_TEMPLATE, IndexRow, TemplateIndex
from lic_exporter.sources.capture import (
    MAX_LINE_CHARS,
    WHOLE_FILE_BYTES,
    Capture,
    CaptureError,
    Section,
    file_stem,
    has_prompt,
    read_capture,
)
from lic_exporter.sources.encoding import as_utf8
from lic_exporter.sources.names import device_name
from lic_exporter.sources.privacy import clean_controls, scrub
from lic_exporter.sources.values import MAX_SYSLOG_DEVICES

Record = LicenseRecord | CallhomeRecord | SyslogRecord
RecordStream = Callable[[Record], object]
log = logging.getLogger(__name__)
SNIFF_BYTES = 64 * 1024  # enough of a file to tell a syslog file from a show output

# What each template's rows become. Every template in the index has a role here.
STATUS, ENTITLEMENT_BLOCKS, ENTITLEMENT_HANDLES, ENTITLEMENT_LEGACY, CALLHOME_CONFIG, CALLHOME_SHOW = (
    "status", "entitlement_blocks", "entitlement_handles", "entitlement_legacy", "callhome_config", "callhome_show")
TEMPLATE_ROLES = {
    SYSLOG_TEMPLATE: "syslog",
    "cisco_smart_agent_status.textfsm": STATUS,
    "cisco_smart_agent_usage.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_smart_agent_usage_table.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_smart_agent_usage_handles.textfsm": ENTITLEMENT_HANDLES,
    "cisco_nxos_license_usage_legacy.textfsm": ENTITLEMENT_LEGACY,
    "cisco_nxos_show_running_config_callhome.textfsm": CALLHOME_CONFIG,
    "cisco_nxos_show_callhome.textfsm": CALLHOME_SHOW,
}
_ENTITLEMENT_BUILDERS = {ENTITLEMENT_BLOCKS: build.block_entitlement, ENTITLEMENT_HANDLES: build.handle_entitlement,
                         ENTITLEMENT_LEGACY: build.legacy_entitlement}
_REJECTED = ("% Invalid command", "% Invalid input", "% Incomplete command", "% Ambiguous command",
             "Syntax error while parsing", "% Permission denied")


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


@dataclass
class Parser:
    index: TemplateIndex = field(default_factory=TemplateIndex.load)
    zones: dict[str, int] | None = None  # extra time zone abbreviations, minutes east of UTC
    device_map: dict[str, str] | None = None  # syslog host address -> device name
    jobs: int = 1  # worker processes a large syslog file may be shared among
    syslog_max_devices: int = MAX_SYSLOG_DEVICES
    syslog_known_only: bool = False

    def __post_init__(self) -> None:
        self.syslog_lines = LineParser(self.index.fsms[SYSLOG_TEMPLATE], self.zones, self.device_map,
                                       self.syslog_max_devices, self.syslog_known_only)

    def parse_file(self, path: Path, explicit: bool = True, syslog_events: bool = True,
                   stream: RecordStream | None = None) -> FileResult:
        """Parse one file: saved show outputs, or a syslog file (recognised by its first lines).
        `explicit`: named by the user, so unrecognised content is an error (a file met while
        walking a folder is skipped instead). `syslog_events`: keep one record per licensing
        syslog message (for JSON); without it a syslog file yields only its tally. `stream`: a
        syslog file's records are handed to it as they are read instead of being kept (a
        121 MB log must not sit in memory to be printed as JSON)."""
        source = str(path)
        try:
            with open(path, "rb") as original:
                head = original.read(SNIFF_BYTES)
                converted = as_utf8(original, head)  # UTF-16/32, bare-CR line ends: read as text
                try:
                    if converted is not None:
                        head = converted.read(SNIFF_BYTES)
                    return self._parse_open(path, converted or original, head, explicit, syslog_events, stream)
                finally:
                    if converted is not None:
                        converted.close()
        except CaptureError as exc:
            return FileResult(source, issues=(ParseIssue(source, exc.line, str(exc)),))
        except OSError as exc:
            return FileResult(source, issues=(ParseIssue(source, None, f"cannot read: {exc.strerror}"),))
        except Exception as exc:  # a bug must cost one file, never the whole run (and print no traceback)
            log.debug("internal error while parsing %s", source, exc_info=True)
            message = f"internal error ({type(exc).__name__}: {exc}); please report it with this file"
            return FileResult(source, issues=(ParseIssue(source, None, scrub(message)),))

    def _parse_open(self, path: Path, handle: BinaryIO, head: bytes, explicit: bool, syslog_events: bool,
                    stream: RecordStream | None) -> FileResult:
        # A large file is told apart before it is read: a big syslog file must not go through
        # the line-by-line show-output path. A small one is sniffed only when no show output
        # was found in it (most files are show outputs), or when it holds NUL bytes (a log that
        # survived a crash).
        large = os.fstat(handle.fileno()).st_size > WHOLE_FILE_BYTES
        if large and self._is_syslog(path, head):
            handle.seek(0)
            return self._syslog(path, handle, syslog_events, stream)
        try:
            capture = read_capture(path, self._reads, handle, head, self.zones)
        except CaptureError:
            if large or not self._is_syslog(path, head):
                raise
            handle.seek(0)
            return self._syslog(path, handle, syslog_events, stream)
        if capture.empty:
            return FileResult(str(path), issues=(ParseIssue(str(path), None, "empty file: no output saved"),))
        parse = _FileParse(self, capture, explicit, syslog_events)
        result = parse.run()
        if not parse.recognised and not large and self._is_syslog(path, head):
            handle.seek(0)
            return self._syslog(path, handle, syslog_events, stream)
        return result

    def _reads(self, command: str) -> bool:
        return bool(self.index.rows_for_command(command)) or is_show_logging(command)

    def _is_syslog(self, path: Path, head: bytes) -> bool:
        """Not a show output (not named after a command, no prompt, no signature) and most
        first lines carry a syslog header, whatever NUL or undecodable bytes some hold."""
        if not head or self.index.rows_for_file_name(file_stem(path.name)):
            return False
        text = head.decode("utf-8", errors="replace").replace("\x00", "")
        if has_prompt(text) or self.index.choose((), text)[0] is not None:
            return False
        return looks_like_syslog(text)

    def _syslog(self, path: Path, handle: BinaryIO, keep_events: bool, stream: RecordStream | None) -> FileResult:
        source = str(path)
        mtime = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, tz=UTC)
        kept: list[SyslogRecord] = []
        on_event = None
        if keep_events:
            write = stream or kept.append
            on_event = lambda event: write(syslog_record(event, source, mtime))  # noqa: E731
        fallback = device_name(file_stem(path.name))
        size = os.fstat(handle.fileno()).st_size
        if on_event is None and self.jobs > 1 and size >= PARALLEL_BYTES:
            tally = tally_parallel(str(path), size, self.syslog_lines, fallback, mtime, self.jobs)
        else:
            tally = tally_stream(read_chunks(handle), self.syslog_lines, fallback, mtime, on_event)
        return FileResult(source, tuple(kept), _syslog_issues(source, tally), syslog=tally)

    def parse_paths(self, paths: Iterable[Path], jobs: int = 1, as_json: bool = False,
                    stream: RecordStream | None = None, syslog_events: bool | None = None) -> Iterator[FileResult]:
        """Results for every file below `paths`, in walk order; with `as_json`, records come
        serialised (FileResult.records_json), and syslog files' records go to `stream` as they
        are read. With jobs > 1 and enough files, worker processes share the files in chunks;
        then files over WHOLE_FILE_BYTES are parsed here, after the others, so that their
        records stream instead of piling up in a worker."""
        files = list(walk(paths))
        events = as_json if syslog_events is None else syslog_events  # the daemon wants JSON, not events
        if jobs > 1 and len(files) >= PARALLEL_MIN_FILES:
            big = [item for item in files if stream is not None and _size(item[0]) > WHOLE_FILE_BYTES]
            small = [item for item in files if item not in big] if big else files
            chunks = [small[i:i + _CHUNK] for i in range(0, len(small), _CHUNK)]
            global _WORKER_PARSER
            _WORKER_PARSER = replace(self, jobs=1)  # forked workers inherit it; no pools inside
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                for results in pool.map(partial(_parse_in_worker, as_json=as_json, events=events), chunks):
                    yield from results
            yield from _parse_chunk(big, as_json, self, stream, events)
            return
        yield from _parse_chunk(files, as_json, self, stream, events)


PARALLEL_MIN_FILES = 400  # below this, starting workers costs more than it saves
_CHUNK = 250
_WORKER_PARSER: Parser | None = None


def _parse_chunk(files: list[tuple[Path, bool]], as_json: bool, parser: Parser | None = None,
                 stream: RecordStream | None = None, events: bool | None = None) -> Iterator[FileResult]:
    parser = parser or _WORKER_PARSER
    for path, explicit in files:
        result = parser.parse_file(path, explicit, syslog_events=as_json if events is None else events, stream=stream)
        if result.recognised or result.issues:
            yield result.as_json() if as_json else result


def _parse_in_worker(files: list[tuple[Path, bool]], as_json: bool, events: bool) -> list[FileResult]:
    return list(_parse_chunk(files, as_json, events=events))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def walk(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Files named on the command line (explicit) and files found below folders, in order."""
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path, onerror=_unreadable_folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name, False
        else:
            yield path, True


def _unreadable_folder(error: OSError) -> None:
    log.error("%s: cannot read folder: %s; its files are not parsed", error.filename, error.strerror)


class _FileParse:
    """The parse of one capture; holds what its sections share."""

    def __init__(self, parser: Parser, capture: Capture, explicit: bool, keep_events: bool = True):
        self.parser = parser
        self.keep_events = keep_events
        self.syslog: Tally | None = None
        self.index = parser.index
        self.zones = parser.zones
        self.capture = capture
        self.explicit = explicit
        self.source = str(capture.path)
        stem = file_stem(capture.path.name)
        self.named_rows = self.index.rows_for_file_name(stem)
        # A file named after its command is named for the folder holding it (the device).
        folder = capture.path.parent.name or capture.path.resolve().parent.name if self.named_rows else ""
        self.file_device = device_name(folder if self.named_rows and folder else stem)
        self.records: list[Record] = []
        self.issues: list[ParseIssue] = []
        self.recognised = False

    def run(self) -> FileResult:
        for line, message, zone in self.capture.unread_times:
            if zone is not None:
                self._zone_issue(line, zone, fatal=False)
            else:
                self._issue(line, message, fatal=False)
        if self.capture.long_lines:
            lines = self.capture.long_lines
            self._issue(lines[0], f"{len(lines)} line(s) longer than {MAX_LINE_CHARS} characters cut there "
                        "(no licensing line is that long)", fatal=False)
        if self.capture.undecodable_lines:
            lines = self.capture.undecodable_lines
            self._issue(lines[0], f"{len(lines)} line(s) not UTF-8; undecodable bytes replaced", fatal=False)
        for section in self.capture.sections:
            self._section(section)
        if not self.recognised and (self.explicit or self.named_rows):
            self._issue(None, "no output of a known command found (known: "
                        + ", ".join(self.index.commands) + ")")
        return FileResult(self.source, tuple(self.records), tuple(self.issues), self.recognised or bool(self.issues),
                          syslog=self.syslog)

    def _issue(self, line: int | None, message: str, fatal: bool = True) -> None:
        self.issues.append(ParseIssue(self.source, line, scrub(message), fatal))

    def _zone_issue(self, line: int, zone: str, fatal: bool) -> None:
        """One issue per unknown zone and file, however many times use it; fatal once a
        section could not be read for it."""
        for position, issue in enumerate(self.issues):
            if getattr(issue, "zone", None) == zone.upper():
                if fatal and not issue.fatal:
                    self.issues[position] = replace(issue, fatal=True)
                return
        message = scrub(f"unknown time zone {zone!r} (add it with --tz {zone}=+HH:MM)")
        self.issues.append(ZoneIssue(self.source, line, message, fatal, zone.upper()))

    def _section(self, section: Section) -> None:
        if section.command and is_show_logging(section.command):
            self._logging(section)
            return
        if section.command:
            candidates = self.index.rows_for_command(section.command)
            if not candidates:
                return  # a command this tool does not read: skipped quietly
        elif not any(section.lines):
            return
        else:
            candidates = self.named_rows
        head = "\n".join(section.lines[:SIGNATURE_LINES])
        row, signed = self.index.choose(candidates, head)
        if row is None:
            return
        self.recognised = True
        try:
            self._check_output(section, row, head, signed)
            record = self._build(section, row)
            if record is not None:
                self.records.append(record)
        except build.SectionError as exc:
            if exc.zone is not None:
                self._zone_issue(exc.line, exc.zone, fatal=True)
            else:
                self._issue(exc.line, exc.message)

    def _logging(self, section: Section) -> None:
        """`show logging logfile` in a session: its lines are syslog, the prompt names the
        device of lines that carry no host."""
        self.recognised = True
        events: list[Event] = []
        data = "\n".join(section.lines).encode()
        fallback = self.capture.device or (device_name(section.host) if section.host else self.file_device)
        tally = tally_stream([data], self.parser.syslog_lines, fallback, self.capture.mtime,
                             events.append if self.keep_events else None)
        offset = section.first_line - 1
        tally.shift_lines(offset)
        for event in events:
            self.records.append(syslog_record(replace(event, line=event.line + offset), self.source,
                                              self.capture.mtime))
        if self.syslog is None:
            self.syslog = Tally()
        self.syslog.merge(tally)

    def _check_output(self, section: Section, row: IndexRow, head: str, signed: bool) -> None:
        if section.overflow:
            raise build.SectionError(section.first_line, f"'{row.command}' output longer than "
                                     f"{len(section.lines)} lines: not a licensing output")
        for number, line in enumerate(section.lines[:5]):
            if line.lstrip().startswith(_REJECTED):
                raise build.SectionError(section.first_line + number,
                                         f"'{row.command}' was rejected by the device: {line.strip()}")
        if not any(section.lines):
            raise build.SectionError(section.first_line - 1, f"'{row.command}' printed nothing")
        if not signed:
            raise build.SectionError(section.first_line, f"does not look like the output of '{row.command}'")

    def _context(self, section: Section, row: IndexRow) -> build.Context:
        when = section.captured_at or self.capture.printed_time
        return build.Context(
            device=self.capture.device or (device_name(section.host) if section.host else self.file_device),
            command=row.command,
            source=self.source,
            first_line=section.first_line,
            captured_at=when or self.capture.mtime,
            captured_at_from="output" if when else "file_mtime",
            zones=self.zones,
            lines=section.lines,
            closed=section.closed,
        )

    def _build(self, section: Section, row: IndexRow) -> Record | None:
        ctx = self._context(section, row)
        record = self._record(section, row, ctx)
        for line, message in ctx.notes:  # a line missing mid-output: the record stands, said once
            self._issue(line, message, fatal=False)
        return record

    def _record(self, section: Section, row: IndexRow, ctx: build.Context) -> Record | None:
        text = "\n".join(line for line in section.lines if line)  # blank lines carry nothing
        status: build.Fields | None = None
        entitlements: list[Entitlement] | None = None
        for name in row.templates:
            role = TEMPLATE_ROLES[name]
            rows = [build.Fields(values, ctx) for values in self._run(name, text, ctx)]
            if role in (CALLHOME_CONFIG, CALLHOME_SHOW):  # one row; none at all: nothing configured
                convert = build.callhome_config_record if role == CALLHOME_CONFIG else build.show_callhome_record
                return convert(ctx, rows[0] if rows else build.Fields({}, ctx))
            if role == STATUS:
                status = rows[0] if rows else None
            else:
                entitlements = (entitlements or []) + [_ENTITLEMENT_BUILDERS[role](fields) for fields in rows]
        try:
            return build.license_record(ctx, status, tuple(entitlements) if entitlements is not None else None)
        except pydantic.ValidationError as exc:  # a value the models refuse: name it, do not crash
            raise build.SectionError(ctx.first_line, f"unexpected value: {exc.errors()[0]['msg']}") from None

    def _run(self, name: str, text: str, ctx: build.Context) -> list[dict[str, object]]:
        try:
            return self.index.fsms[name].rows(text)
        except TextFSMError as exc:
            message = str(exc)
            reason = message.split(". Rule Line:", 1)[0].removeprefix("Error: ")
            culprit = message.split("Input Line: ", 1)[-1].rstrip(".")
            raise build.SectionError(ctx.line_of(culprit), reason) from None


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
    return SyslogRecord(
        device=event.device, command="syslog", source=source, line=event.line,
        captured_at=event.time or mtime, captured_at_from="output" if event.time else "file_mtime",
        facility=event.facility, severity=event.severity, severity_name=event.severity_name,
        mnemonic=event.mnemonic, message=event.message, time=event.time, year_inferred=event.year_inferred,
        failure=event.reason is not None, reason=event.reason,
    )

