"""A saved file -> cleaned sections of command output.

A file holds one command's output or a whole terminal session. Lines are cleaned (CRLF,
trailing spaces, ANSI escapes, `--More--` remnants, exec headers) and split at prompt lines
(`nx-dc1-leaf01# show license status`), recognised by the patterns of terminal.py that the
collector drives live sessions with. The file is streamed: memory is bounded by the largest
section kept, never by the file size.

A transcript lic-exporter's collector saved says so in its first line, which also lists the
lines where the collector saw each command it sent echoed after the prompt (`prompts=2,9,...`):
such a file is split there and nowhere else, so a prompt-looking line a switch printed inside
its output never cuts a section, and its pager prompts (already removed where the collector
answered them) are not guessed at again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from lic_exporter.sources.names import device_name
from lic_exporter.sources.terminal import ESCAPE, PAGER_SAVED, PROMPT_LINE
from lic_exporter.sources.values import BadValueError, UnknownZoneError, parse_timestamp

WHOLE_FILE_BYTES = 1 << 20  # read at once up to here; stream beyond
MAX_SECTION_LINES = 100_000  # far above any licensing output; a section past it is refused
# No licensing line is longer than a few hundred characters: a line is cut here before any
# regular expression sees it, so every match stays linear in the file (reported, PATH:LINE).
MAX_LINE_CHARS = 1024
NUL_CHECK_BYTES = 8192

_EXEC_HEADER_TIME = re.compile(r"^Time source is [^,]*,\s*(?P<time>.+)$")
_CLOCK_LINE = re.compile(r"^[*.]?\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\s+\S+\s+\w{3}\s+\w{3}\s+\d{1,2}\s+\d{4}$")
# Characters str.splitlines() (and so TextFSM) would take for line ends: made spaces.
_ODD_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_BLANK_ODD_BREAKS = str.maketrans(dict.fromkeys(_ODD_BREAKS, " "))
# What sends a file down the line-by-line path: terminal control characters, a pager prompt,
# an exec header or a printed time (plain substring tests, far cheaper than a regex), or a
# prompt line (checked only at the rare '#' and '>').
_NEEDS_LINES = ("\r", "\x1b", "\x08", "More", "Time source", "Load for", "!Time", "\ufeff",
                *_ODD_BREAKS)
_PROMPT_CHAR = re.compile(r"[#>]")
# The first line of a transcript lic-exporter's collector saved: the target's name is the
# device, whatever host name the switch's prompt shows (so collection and licensing series join).
TRANSCRIPT_PREFIX = "! lic-exporter transcript "
TRANSCRIPT_HEADER = re.compile(r"^! lic-exporter transcript device=(?P<device>\S{1,253})")
MAX_PROMPT_LINES = 64  # a collection sends a handful of commands
_HEADER_PROMPTS = re.compile(rf" prompts=(?P<lines>\d{{1,9}}(?:,\d{{1,9}}){{0,{MAX_PROMPT_LINES - 1}}})(?= |$)")
# A prompt line the collector marked whose prompt is not shaped like PROMPT_LINE's.
_MARKED_PROMPT = re.compile(r"^(?P<host>\S{1,120}?)[#>]\s?(?P<command>.*)$")
_DO_PREFIX = re.compile(r"do\s+(?=\S)", re.IGNORECASE)
_CONFIG_TIME = re.compile(r"^!Time:\s+(?P<time>.+)$")
_SHOW_CLOCK = re.compile(r"^sh(?:o(?:w)?)?\s+clo(?:c(?:k)?)?$")
_EXEC_HEADERS = ("Load for five secs", "Time source is")  # IOS-XE exec banner, not output
_TRANSCRIPT_BYTES = TRANSCRIPT_PREFIX.encode()


class CaptureError(Exception):
    """The file as a whole cannot be read (binary, unreadable)."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line


@dataclass
class Section:
    """One command's output. `first_line` is the file line of `lines[0]`."""

    command: str | None  # as typed after the prompt; None before any prompt
    host: str | None  # from the prompt
    first_line: int
    lines: list[str] = field(default_factory=list)
    captured_at: datetime | None = None  # a time printed in this section's header
    overflow: bool = False
    skip: bool = False  # a command nobody reads: lines are counted, not kept
    closed: bool = False  # a prompt followed: the output is whole as the device printed it
    is_clock: bool = field(init=False)

    def __post_init__(self) -> None:
        typed = " ".join((self.command or "").lower().split())
        self.is_clock = bool(_SHOW_CLOCK.match(typed))

    def add(self, line: str) -> None:
        if self.skip:
            return
        if len(self.lines) < MAX_SECTION_LINES:
            self.lines.append(line)
        else:
            self.overflow = True


@dataclass
class Capture:
    path: Path
    sections: list[Section]
    printed_time: datetime | None  # the first time printed anywhere in the file
    mtime: datetime
    undecodable_lines: list[int]
    empty: bool
    zones: dict[str, int] | None = None  # extra zone abbreviations (--tz)
    # printed times not understood: (line, message, the unknown zone name if that was why)
    unread_times: list[tuple[int, str, str | None]] = field(default_factory=list)
    long_lines: list[int] = field(default_factory=list)  # lines cut at MAX_LINE_CHARS
    device: str | None = None  # named by a collector's transcript header: wins over prompts

    def bounded(self, line: str, number: int) -> str:
        """The line cut at MAX_LINE_CHARS (noted); the raw line may carry escapes and pager
        erasures, so it is cut at four times that before cleaning."""
        if len(line) > MAX_LINE_CHARS:
            self.long_lines.append(number)
            return line[:MAX_LINE_CHARS]
        return line


def transcript_header(device: str, platform: str, collected: str, prompt_lines: Sequence[int]) -> str:
    """The first line of a transcript the collector saves (without its newline): the device,
    its platform, when it was collected, and the file lines (1 = this header) of the prompt
    lines it delimited the commands' outputs with."""
    lines = ",".join(str(number) for number in prompt_lines[:MAX_PROMPT_LINES])
    return f"{TRANSCRIPT_PREFIX}device={device} platform={platform} collected={collected} prompts={lines}"


def header_prompt_lines(header: str) -> frozenset[int] | None:
    """The prompt lines a collector's transcript header lists; None for a header without them
    (a transcript saved by an older collector is split at prompt-looking lines)."""
    listed = _HEADER_PROMPTS.search(header)
    return frozenset(int(number) for number in listed["lines"].split(",")) if listed else None


def clean_line(text: str, pager: bool = True) -> str:
    """A line as a terminal showed it; `pager`: a saved `--More--` at its start removed too."""
    text = text.rstrip("\r\n")
    if "\x1b" in text:
        text = ESCAPE.sub("", text)
    if "\x08" in text or "\r" in text:
        text = _overwrite(text)
    if pager and "More" in text:
        text = PAGER_SAVED.sub("", text)
    return text.translate(_BLANK_ODD_BREAKS).rstrip()


def _overwrite(text: str) -> str:
    """What a terminal shows after backspaces and carriage returns (a pager erasing its
    `--More--` prompt, a progress line redrawn)."""
    screen: list[str] = []
    cursor = 0
    for char in text:
        if char == "\x08":
            cursor = max(cursor - 1, 0)
        elif char == "\r":
            cursor = 0
        else:
            if cursor < len(screen):
                screen[cursor] = char
            else:
                screen.append(char)
            cursor += 1
    return "".join(screen)


def read_capture(path: Path, wanted: Callable[[str], bool] = lambda command: True,
                 handle: BinaryIO | None = None, head: bytes = b"", zones: dict[str, int] | None = None) -> Capture:
    """Read the file into sections. Lines of sections whose typed command is not `wanted`
    are not kept, so a long session costs only the outputs that matter. Files up to
    WHOLE_FILE_BYTES are read at once; larger ones are streamed line by line, so memory is
    bounded by the sections kept, never by the file size. A caller that already opened the
    file and read its `head` passes both. Raises CaptureError for binary content."""
    if handle is None:
        with open(path, "rb") as opened:
            return read_capture(path, wanted, opened, zones=zones)
    stat = os.fstat(handle.fileno())
    capture = Capture(path, [], None, datetime.fromtimestamp(stat.st_mtime, tz=UTC), [], empty=True, zones=zones)
    if stat.st_size <= WHOLE_FILE_BYTES:
        data = head + handle.read()
        if data.startswith(_TRANSCRIPT_BYTES):  # terminal fill the collector did not drop: not binary
            data = data.replace(b"\x00", b"")
        _refuse_binary(data)
        text = _decode_whole(data, capture.undecodable_lines)
        if _is_plain(text):  # one prompt-less output with nothing to clean: the fast path
            lines = _plain_lines(_split_lines(text), 1, capture)
            capture.sections.append(Section(None, None, 1, lines))
            return capture
        # Split at newlines only: a bare carriage return or form feed is not a new line.
        numbered: Iterable[tuple[int, str | list[str]]] = enumerate(_split_lines(text), 1)
    else:
        handle.seek(0)
        first = handle.read(NUL_CHECK_BYTES)
        transcript = first.startswith(_TRANSCRIPT_BYTES)
        if not transcript:
            _refuse_binary(first)
        handle.seek(0)
        numbered = (_stream(handle, capture.undecodable_lines, drop_nul=True) if transcript
                    else _stream_blocks(handle, capture.undecodable_lines))
    _split(numbered, capture, wanted)
    return capture


def _is_plain(text: str) -> bool:
    return (not text.startswith(TRANSCRIPT_PREFIX) and not any(marker in text for marker in _NEEDS_LINES)
            and not has_prompt(text))


def has_prompt(text: str) -> bool:
    """Whether a line of `text` is a prompt (`host# command`); looks only at lines holding '#'
    or '>', each line once (linear however many there are on a line)."""
    position = 0
    while (found := _PROMPT_CHAR.search(text, position)) is not None:
        line_start = text.rfind("\n", 0, found.start()) + 1
        line_end = text.find("\n", found.start())
        line_end = len(text) if line_end < 0 else line_end
        if PROMPT_LINE.match(text[line_start:min(line_end, line_start + MAX_LINE_CHARS)]):
            return True
        position = line_end + 1
    return False


def _split_lines(text: str) -> list[str]:
    """Lines at newlines only (a bare carriage return or form feed is no new line); the
    newline ending the last line starts no further line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _stream(handle: BinaryIO, undecodable: list[int], drop_nul: bool = False) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(handle, 1):
        if b"\x00" in raw:
            if not drop_nul:
                raise CaptureError(number, "binary content (NUL bytes): not a saved CLI output")
            raw = raw.replace(b"\x00", b"")
        yield number, _decode(raw, number, undecodable)


def _stream_blocks(handle: BinaryIO, undecodable: list[int]) -> Iterator[tuple[int, str | list[str]]]:
    """A large file that is no transcript, a block of whole lines at a time: a block with
    nothing to clean and no prompt (as _is_plain judges a whole file) comes as one run of
    lines, (its first line's number, [lines]); any other block line by line, as _stream does."""
    number = 1
    while block := handle.read(WHOLE_FILE_BYTES) + handle.readline():
        nul = block.find(b"\x00")
        if nul >= 0:
            raise CaptureError(number + block.count(b"\n", 0, nul),
                               "binary content (NUL bytes): not a saved CLI output")
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:  # rare: the lines at fault found one by one
            raws = block.split(b"\n")
            if raws[-1] == b"":
                raws.pop()
            lines = [_decode(raw, number + offset, undecodable) for offset, raw in enumerate(raws)]
        else:
            lines = _split_lines(text)
            if max(map(len, lines), default=0) > 4 * MAX_LINE_CHARS:  # what is read of a line at most
                lines = [line[:4 * MAX_LINE_CHARS] for line in lines]
                text = "\n".join(lines)
            if _is_plain(text):
                yield number, lines
                number += len(lines)
                continue
            if number == 1 and lines:
                lines[0] = lines[0].removeprefix("\ufeff")
        yield from enumerate(lines, number)
        number += len(lines)


def _split(numbered: Iterable[tuple[int, str | list[str]]], capture: Capture, wanted: Callable[[str], bool]) -> None:
    """Clean each line and cut the stream at prompt lines: the ones a collector's header lists,
    or else every line shaped like a prompt."""
    splitter = _Splitter(capture, wanted)
    for number, raw in numbered:
        if isinstance(raw, str):
            splitter.line(number, raw)
        else:
            splitter.plain_run(number, raw)
    capture.sections.append(splitter.current)


class _Splitter:
    """The section being filled as lines come, and whether a collector's header marked the prompts."""

    def __init__(self, capture: Capture, wanted: Callable[[str], bool]):
        self.capture = capture
        self.wanted = wanted
        self.current = Section(command=None, host=None, first_line=1)
        self.marked: frozenset[int] | None = None

    def line(self, number: int, raw: str) -> None:
        capture, current = self.capture, self.current
        line = capture.bounded(clean_line(raw[:4 * MAX_LINE_CHARS], pager=self.marked is None), number)
        if number == 1 and (header := TRANSCRIPT_HEADER.match(line)):
            capture.device = device_name(header["device"]) or None
            self.marked = header_prompt_lines(line)
            return
        if capture.empty and line:
            capture.empty = False
        if self.marked is None:
            prompt = PROMPT_LINE.match(line) if ("#" in line or ">" in line) else None
        else:
            prompt = (PROMPT_LINE.match(line) or _MARKED_PROMPT.match(line)) if number in self.marked else None
        if prompt:
            current.closed = True
            capture.sections.append(current)
            command = _typed_command(line[:prompt.start("command")], prompt["command"])
            self.current = Section(command, prompt["host"], number + 1)
            self.current.skip = command is not None and not self.wanted(command)
            return
        when = _header_time(line, current, capture, number)
        if when is not None:
            current.captured_at = current.captured_at or when
            capture.printed_time = capture.printed_time or when
        current.add("" if line.startswith(_EXEC_HEADERS) else line)

    def plain_run(self, number: int, lines: list[str]) -> None:
        """Lines with nothing to clean but trailing blanks, and no prompt among them: added
        at once (a `show clock` section reads its lines one by one for the time)."""
        if self.current.is_clock:
            for offset, raw in enumerate(lines):
                self.line(number + offset, raw)
            return
        kept = _plain_lines(lines, number, self.capture)
        section = self.current
        if not section.skip:
            room = MAX_SECTION_LINES - len(section.lines)
            section.lines.extend(kept[:room])
            section.overflow = section.overflow or len(kept) > room


def _plain_lines(lines: list[str], number: int, capture: Capture) -> list[str]:
    """Lines with nothing to clean, as kept: trailing blanks dropped, over-long ones bounded
    (counted on `capture`, the first being line `number`); any with text makes it non-empty."""
    if max(map(len, lines), default=0) > MAX_LINE_CHARS:  # rare: checked in C first
        lines = [capture.bounded(line, line_number) for line_number, line in enumerate(lines, number)]
    kept = [line.rstrip() for line in lines]
    if capture.empty and any(kept):
        capture.empty = False
    return kept


def _typed_command(prompt: str, typed: str) -> str | None:
    """The command a prompt line ran: at a configuration prompt (`Router(config)#do sh lic
    summ`) `do` runs an exec command, which is the command; elsewhere what was typed."""
    command = typed.strip()
    if "(" in prompt and (do := _DO_PREFIX.match(command)):
        command = command[do.end():]
    return command or None


def _refuse_binary(head: bytes) -> None:
    position = head.find(b"\x00")
    if position >= 0:
        raise CaptureError(head.count(b"\n", 0, position) + 1,
                           "binary content (NUL bytes): not a saved CLI output")


def _decode_whole(data: bytes, undecodable: list[int]) -> str:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark from a Windows editor
    except UnicodeDecodeError:  # rare: find the lines at fault, replace only their bytes
        return "\n".join(_decode(raw, n, undecodable) for n, raw in enumerate(data.split(b"\n"), 1))


def _decode(raw: bytes, number: int, undecodable: list[int]) -> str:
    try:
        return raw.decode("utf-8").removeprefix("\ufeff") if number == 1 else raw.decode("utf-8")
    except UnicodeDecodeError:
        undecodable.append(number)
        return raw.decode("utf-8", errors="replace")


def _header_time(line: str, section: Section, capture: Capture, number: int) -> datetime | None:
    """A capture time printed by the device: the exec header `Time source is NTP, <time>`,
    a running-config `!Time: <time>` (no zone printed: read as UTC, like syslog), or a line
    of `show clock` output."""
    text = None
    if line.startswith(("Time source", "!Time")):
        match = _EXEC_HEADER_TIME.match(line) or _CONFIG_TIME.match(line)
        text = match["time"] if match else None
    elif section.is_clock and _CLOCK_LINE.match(line):
        text = line
    if text is None:
        return None
    try:
        return parse_timestamp(text, "UTC", capture.zones)
    except BadValueError as exc:
        zone = exc.zone if isinstance(exc, UnknownZoneError) else None
        capture.unread_times.append((number, f"printed capture time not used: {exc}", zone))
        return None


_LEADING_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?!\d)")


def file_stem(name: str) -> str:
    """A file's name up to its first dot, unless it starts with an IPv4 address (10.2.2.2.txt)."""
    address = _LEADING_IPV4.match(name)
    return address.group(0) if address else name.split(".", 1)[0]
