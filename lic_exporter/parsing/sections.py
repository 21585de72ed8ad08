"""One capture -> its records and issues: each section matched to its command's index row,
checked to be that command's output, and built."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from lic_exporter.parsing.fields import Context, SectionError
from lic_exporter.parsing.results import FileResult, ParseIssue, ZoneIssue
from lic_exporter.parsing.syslog_files import is_show_logging, read_logging_section
from lic_exporter.parsing.syslog_tally import Tally
from lic_exporter.parsing.templates import SIGNATURE_LINES, IndexRow
from lic_exporter.sources.capture import MAX_LINE_CHARS, Capture, Section, file_stem
from lic_exporter.sources.names import device_name
from lic_exporter.sources.privacy import scrub
from lic_exporter.sources.terminal import REJECTED_COMMAND

if TYPE_CHECKING:
    from lic_exporter.model.records import Record
    from lic_exporter.parsing.files import Parser


class FileParse:
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
        except SectionError as exc:
            if exc.zone is not None:
                self._zone_issue(exc.line, exc.zone, fatal=True)
            else:
                self._issue(exc.line, exc.message)

    def _logging(self, section: Section) -> None:
        """`show logging logfile` in a session: its lines are syslog, the prompt names the
        device of lines that carry no host."""
        self.recognised = True
        fallback = self.capture.device or (device_name(section.host) if section.host else self.file_device)
        records, tally = read_logging_section(section, self.parser.syslog_lines, fallback, self.capture.mtime,
                                              self.source, self.keep_events)
        self.records.extend(records)
        if self.syslog is None:
            self.syslog = Tally()
        self.syslog.merge(tally)

    def _check_output(self, section: Section, row: IndexRow, head: str, signed: bool) -> None:
        if section.overflow:
            raise SectionError(section.first_line, f"'{row.command}' output longer than "
                               f"{len(section.lines)} lines: not a licensing output")
        for number, line in enumerate(section.lines[:5]):
            if REJECTED_COMMAND.match(line):
                raise SectionError(section.first_line + number,
                                   f"'{row.command}' was rejected by the device: {line.strip()}")
        if not any(section.lines):
            raise SectionError(section.first_line - 1, f"'{row.command}' printed nothing")
        if not signed:
            raise SectionError(section.first_line, f"does not look like the output of '{row.command}'")

    def _context(self, section: Section, row: IndexRow) -> Context:
        when = section.captured_at or self.capture.printed_time
        return Context(
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
        # The record builders (and pydantic) load at the first show-output section: a small log
        # sniffed here first, or a file of no known command, never needs them.
        from lic_exporter.parsing.section_record import section_record

        record = section_record(self.index, section, row, ctx)
        for line, message in ctx.notes:  # a line missing mid-output: the record stands, said once
            self._issue(line, message, fatal=False)
        return record

