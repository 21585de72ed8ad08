"""Saved files -> typed records and problems, each problem naming its file and line.

The path of one file: capture (clean, split by prompt) -> pick the index row per section
(typed command, file name, or content) -> run its templates -> build records. The device a
file's name gives (when no prompt in it names one) is FileNames' to say.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lic_exporter.parsing import walk
from lic_exporter.parsing.results import FileResult, ParseIssue, RecordStream, read_issue
from lic_exporter.parsing.syslog_files import is_show_logging, read_syslog_file
from lic_exporter.parsing.syslog_lines import LineParser, looks_like_syslog
from lic_exporter.parsing.templates import SYSLOG_TEMPLATE, IndexRow, TemplateIndex
from lic_exporter.sources.capture import WHOLE_FILE_BYTES, CaptureError, file_stem, has_prompt, read_capture
from lic_exporter.sources.encoding import as_utf8
from lic_exporter.sources.names import device_name
from lic_exporter.sources.privacy import scrub
from lic_exporter.sources.values import MAX_SYSLOG_DEVICES

log = logging.getLogger(__name__)
# Every account snapshot's name ends so (parsing.accounts.is_snapshot decides): other files are
# told apart without loading the account models and their YAML and JSON readers.
_SNAPSHOT_NAME_END = ".json"
SNIFF_BYTES = 64 * 1024  # enough of a file to tell a syslog file from a show output


@dataclass
class Parser:
    index: TemplateIndex = field(default_factory=TemplateIndex.load)
    zones: dict[str, int] | None = None  # extra time zone abbreviations, minutes east of UTC
    device_map: dict[str, str] | None = None  # syslog host address -> device name
    jobs: int = 1  # worker processes a large syslog file may be shared among
    syslog_max_devices: int = MAX_SYSLOG_DEVICES
    syslog_known_only: bool = False
    # --device-pattern: names the device of a file from its path (group `device`), before the
    # file-name rules; searched in the path relative to the folder given
    device_pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        self.syslog_lines = LineParser(self.index.fsms[SYSLOG_TEMPLATE], self.zones, self.device_map,
                                       self.syslog_max_devices, self.syslog_known_only)
        self.names = FileNames(self.index.rows, self.device_pattern)

    def parse_file(self, path: Path, explicit: bool = True, syslog_events: bool = True,
                   stream: RecordStream | None = None, root: Path | None = None) -> FileResult:
        """Parse one file: saved show outputs, or a syslog file (recognised by its first lines).
        `explicit`: named by the user, so unrecognised content is an error (a file met while
        walking a folder is skipped instead). `syslog_events`: keep one record per licensing
        syslog message (for JSON); without it a syslog file yields only its tally. `stream`: a
        syslog file's records are handed to it as they are read instead of being kept (a
        121 MB log must not sit in memory to be printed as JSON). `root`: the folder given
        that the file was found below (--device-pattern reads the path relative to it). A file
        named `*.accounts.json` is an account snapshot, whatever it holds."""
        source = str(path)
        if path.name.endswith(_SNAPSHOT_NAME_END):
            from lic_exporter.parsing.accounts import is_snapshot

            if is_snapshot(path):
                return self._snapshot(path)
        try:
            with open(path, "rb") as original:
                head = original.read(SNIFF_BYTES)
                converted = as_utf8(original, head)  # UTF-16/32, bare-CR line ends: read as text
                try:
                    if converted is not None:
                        head = converted.read(SNIFF_BYTES)
                    return self._parse_open(path, converted or original, head, explicit, syslog_events, stream,
                                            root)
                finally:
                    if converted is not None:
                        converted.close()
        except CaptureError as exc:
            return FileResult(source, issues=(ParseIssue(source, exc.line, str(exc)),))
        except OSError as exc:  # exists but cannot be read (mode 000, EIO), or vanished since the walk
            return FileResult(source, issues=(read_issue(source, exc),))
        except Exception as exc:  # a bug must cost one file, never the whole run (and print no traceback)
            log.debug("internal error while parsing %s", source, exc_info=True)
            message = f"internal error ({type(exc).__name__}: {exc}); please report it with this file"
            return FileResult(source, issues=(ParseIssue(source, None, scrub(message)),))

    def _snapshot(self, path: Path) -> FileResult:
        from lic_exporter.parsing.accounts import read_snapshot

        try:
            return read_snapshot(path)
        except Exception as exc:  # a bug costs this file only, as for any other file
            log.debug("internal error while reading %s", path, exc_info=True)
            message = f"internal error ({type(exc).__name__}); please report it with this file"
            return FileResult(str(path), issues=(ParseIssue(str(path), None, message),))

    def _parse_open(self, path: Path, handle: BinaryIO, head: bytes, explicit: bool, syslog_events: bool,
                    stream: RecordStream | None, root: Path | None) -> FileResult:
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
        from lic_exporter.parsing.sections import FileParse  # the show-output path: a large log never loads it

        parse = FileParse(self, capture, explicit, syslog_events)
        # The file-name rules live here, with --device-pattern (FileParse reads these two
        # before its first section; a prompt in the capture still names its own device).
        parse.file_device, parse.named_rows = self.names.name(path, root)
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
        if not head or self.names.command_rows(path.name):
            return False
        text = head.decode("utf-8", errors="replace").replace("\x00", "")
        if has_prompt(text) or self.index.choose((), text)[0] is not None:
            return False
        return looks_like_syslog(text)

    def _syslog(self, path: Path, handle: BinaryIO, keep_events: bool, stream: RecordStream | None) -> FileResult:
        return read_syslog_file(path, handle, self.syslog_lines, self.jobs, keep_events, stream)

    def parse_paths(self, paths: Iterable[Path], jobs: int = 1, as_json: bool = False,
                    stream: RecordStream | None = None, syslog_events: bool | None = None) -> Iterator[FileResult]:
        """Results for every file below `paths`, in walk order (see walk.parse_paths)."""
        return walk.parse_paths(self, paths, jobs, as_json, stream, syslog_events)


_GAP = r"[\s._-]"  # what separates the words of a file name: `sw-a_show_license_status_2026-12-01.txt`


class FileNames:
    """What a saved file's name says: its device and the command it holds (the contract's
    Devices rules after the prompt, in order). `--device-pattern` first, searched in the path
    relative to the folder given (a file named by itself: its path as given); then a file named
    after its command alone (`show_license_status.txt`, `show-license-all-2026-12-01.log`) is
    its folder's; one whose name holds a command after the device's
    (`NX-DC1-Leaf01.example.net_show_license_usage.txt`) is that device's; otherwise the name
    up to its first dot. Names are short host names, lower-cased (sources.names)."""

    def __init__(self, rows: Iterable[IndexRow], pattern: re.Pattern[str] | None = None):
        self.pattern = pattern
        by_command: dict[str, list[IndexRow]] = {}
        for row in rows:
            by_command.setdefault(row.file_name_re.pattern, []).append(row)
        self._rows = {f"c{number}": tuple(found) for number, found in enumerate(by_command.values())}
        # One search a name: a command's words start the name or follow a gap, and a gap or the
        # end follows them; where two could start at one place, the longer is tried first.
        commands = sorted((f"(?P<c{number}>{command})" for number, command in enumerate(by_command)),
                          key=len, reverse=True)
        self._command = re.compile(rf"(?:^|{_GAP})(?:{'|'.join(commands)})(?={_GAP}|$)")

    def name(self, path: Path, root: Path | None = None) -> tuple[str, tuple[IndexRow, ...]]:
        """(the device, the index rows of the command the name holds: none when it holds none)."""
        start, rows = self._command_in(path.name)
        if self.pattern is not None:
            relative = path.relative_to(root) if root is not None and path.is_relative_to(root) else path
            matched = self.pattern.search(relative.as_posix())
            if matched is not None and matched["device"] and (device := device_name(matched["device"])):
                return device, rows
        if rows and start == 0:  # named after its command: the folder holding it is the device
            folder = path.parent.name or path.resolve().parent.name
            if folder:
                return device_name(folder), rows
        if rows:
            return device_name(path.name[:start].rstrip(" ._-")), rows
        return device_name(file_stem(path.name)), rows

    def command_rows(self, name: str) -> tuple[IndexRow, ...]:
        """The rows of the command a file name holds, if any."""
        return self._command_in(name)[1]

    def _command_in(self, name: str) -> tuple[int, tuple[IndexRow, ...]]:
        """Where in the (lower-cased) name the first command starts, and its rows."""
        lowered = name.lower()
        if "sh" not in lowered:  # every command starts with `sh`: most names are ruled out at once
            return -1, ()
        found = self._command.search(lowered)
        if found is None or found.lastgroup is None:
            return -1, ()
        return found.start(found.lastgroup), self._rows[found.lastgroup]
