"""Saved files -> typed records and problems, each problem naming its file and line.

The path of one file: capture (clean, split by prompt) -> pick the index row per section
(typed command, file name, or content) -> run its templates -> build records.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pydantic
from textfsm import TextFSMError

from . import build
from .capture import Capture, CaptureError, Section, device_name, read_capture
from .models import CallhomeRecord, Entitlement, LicenseRecord
from .privacy import redact
from .templates import SIGNATURE_LINES, IndexRow, TemplateIndex

Record = LicenseRecord | CallhomeRecord

# What each template's rows become. Every template in the index has a role here.
STATUS, ENTITLEMENT_BLOCKS, ENTITLEMENT_LEGACY, CALLHOME_CONFIG, CALLHOME_SHOW = (
    "status", "entitlement_blocks", "entitlement_legacy", "callhome_config", "callhome_show")
TEMPLATE_ROLES = {
    "cisco_smart_agent_status.textfsm": STATUS,
    "cisco_smart_agent_usage.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_smart_agent_usage_table.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_nxos_license_usage_legacy.textfsm": ENTITLEMENT_LEGACY,
    "cisco_nxos_show_running_config_callhome.textfsm": CALLHOME_CONFIG,
    "cisco_nxos_show_callhome.textfsm": CALLHOME_SHOW,
}
_REJECTED = ("% Invalid command", "% Invalid input", "% Incomplete command", "% Ambiguous command",
             "Syntax error while parsing", "% Permission denied")


@dataclass(frozen=True)
class ParseIssue:
    path: str
    line: int | None
    message: str
    fatal: bool = True  # False: reported, but the file's records still stand

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class FileResult:
    path: str
    records: tuple[Record, ...] = ()
    issues: tuple[ParseIssue, ...] = ()
    recognised: bool = True  # False: nothing in it this tool knows (skipped when walking)
    records_json: tuple[str, ...] = ()  # the records as JSON instead, when asked for (as_json)

    def as_json(self) -> FileResult:
        """The same result with its records serialised: cheap to hand between processes
        and ready to print."""
        rendered = tuple(record.model_dump_json() for record in self.records)
        return FileResult(self.path, (), self.issues, self.recognised, rendered)

    @property
    def ok(self) -> bool:
        return not any(issue.fatal for issue in self.issues)


@dataclass
class Parser:
    index: TemplateIndex = field(default_factory=TemplateIndex.load)
    zones: dict[str, int] | None = None  # extra time zone abbreviations, minutes east of UTC

    def parse_file(self, path: Path, explicit: bool = True) -> FileResult:
        """Parse one file. `explicit`: named by the user, so unrecognised content is an error
        (a file met while walking a folder is skipped instead)."""
        source = str(path)
        try:
            capture = read_capture(path, lambda command: bool(self.index.rows_for_command(command)))
        except CaptureError as exc:
            return FileResult(source, issues=(ParseIssue(source, exc.line, str(exc)),))
        except OSError as exc:
            return FileResult(source, issues=(ParseIssue(source, None, f"cannot read: {exc.strerror}"),))
        if capture.empty:
            return FileResult(source, issues=(ParseIssue(source, None, "empty file: no output saved"),))
        return _FileParse(self, capture, explicit).run()

    def parse_paths(self, paths: Iterable[Path], jobs: int = 1, as_json: bool = False) -> Iterator[FileResult]:
        """Results for every file below `paths`, in walk order; with `as_json`, records come
        serialised (FileResult.records_json). With jobs > 1 and enough files, worker
        processes share the files in chunks."""
        files = list(walk(paths))
        if jobs > 1 and len(files) >= PARALLEL_MIN_FILES:
            chunks = [files[i:i + _CHUNK] for i in range(0, len(files), _CHUNK)]
            global _WORKER_PARSER
            _WORKER_PARSER = self  # forked workers inherit it, compiled templates and all
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                for results in pool.map(partial(_parse_chunk, as_json=as_json), chunks):
                    yield from results
            return
        yield from _parse_chunk(files, as_json, self)


PARALLEL_MIN_FILES = 400  # below this, starting workers costs more than it saves
_CHUNK = 250
_WORKER_PARSER: Parser | None = None


def _parse_chunk(files: list[tuple[Path, bool]], as_json: bool, parser: Parser | None = None) -> list[FileResult]:
    parser = parser or _WORKER_PARSER
    kept = []
    for path, explicit in files:
        result = parser.parse_file(path, explicit)
        if result.recognised or result.issues:
            kept.append(result.as_json() if as_json else result)
    return kept


def walk(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Files named on the command line (explicit) and files found below folders, in order."""
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name, False
        else:
            yield path, True


class _FileParse:
    """The parse of one capture; holds what its sections share."""

    def __init__(self, parser: Parser, capture: Capture, explicit: bool):
        self.index = parser.index
        self.zones = parser.zones
        self.capture = capture
        self.explicit = explicit
        self.source = str(capture.path)
        stem = capture.path.name.split(".", 1)[0]
        self.named_rows = self.index.rows_for_file_name(stem)
        # A file named after its command is named for the folder holding it (the device).
        folder = capture.path.parent.name or capture.path.resolve().parent.name if self.named_rows else ""
        self.file_device = device_name(folder if self.named_rows and folder else stem)
        self.records: list[Record] = []
        self.issues: list[ParseIssue] = []
        self.recognised = False

    def run(self) -> FileResult:
        if self.capture.undecodable_lines:
            lines = self.capture.undecodable_lines
            self._issue(lines[0], f"{len(lines)} line(s) not UTF-8; undecodable bytes replaced", fatal=False)
        for section in self.capture.sections:
            self._section(section)
        if not self.recognised and (self.explicit or self.named_rows):
            self._issue(None, "no output of a known command found (known: "
                        + ", ".join(self.index.commands) + ")")
        return FileResult(self.source, tuple(self.records), tuple(self.issues), self.recognised or bool(self.issues))

    def _issue(self, line: int | None, message: str, fatal: bool = True) -> None:
        self.issues.append(ParseIssue(self.source, line, redact(message), fatal))

    def _section(self, section: Section) -> None:
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
            self._issue(exc.line, exc.message)

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
        if not signed and not _plausible(row, head):
            raise build.SectionError(section.first_line, f"does not look like the output of '{row.command}'")

    def _context(self, section: Section, row: IndexRow) -> build.Context:
        when = section.captured_at or self.capture.printed_time
        return build.Context(
            device=device_name(section.host) if section.host else self.file_device,
            command=row.command,
            source=self.source,
            first_line=section.first_line,
            last_line=section.last_line,
            captured_at=when or self.capture.mtime,
            captured_at_from="output" if when else "file_mtime",
            zones=self.zones,
            lines=section.lines,
        )

    def _build(self, section: Section, row: IndexRow) -> Record | None:
        ctx = self._context(section, row)
        text = "\n".join(line for line in section.lines if line)  # blank lines carry nothing
        status: build.Fields | None = None
        entitlements: list[Entitlement] | None = None
        for name in row.templates:
            role = TEMPLATE_ROLES[name]
            rows = [build.Fields(values, ctx) for values in self._run(name, text, ctx)]
            if role == CALLHOME_CONFIG:
                return build.callhome_config_record(ctx, rows[0])
            if role == CALLHOME_SHOW:
                return build.show_callhome_record(ctx, rows[0])
            if role == STATUS:
                status = rows[0] if rows else None
            else:
                convert = build.block_entitlement if role == ENTITLEMENT_BLOCKS else build.legacy_entitlement
                entitlements = (entitlements or []) + [convert(fields) for fields in rows]
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


def _plausible(row: IndexRow, head: str) -> bool:
    """An output its signature misses can still be right (a policy-mode `show license usage`
    with no licence prints only its authorization block)."""
    return "License Authorization:" in head and "usage" in row.command
