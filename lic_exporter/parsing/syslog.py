"""Syslog lines -> licensing and call-home events, and their tally per device.

Most of a switch log is about anything but licensing, so lines are pre-filtered on raw bytes
(a regex scan for LICMGR, SMART_LIC, CALLHOME, CALL_HOME over whole chunks, in C); only the
survivors are decoded and handed, one batch per chunk, to TextFSM, which stays the parser of
record for the lines that count. Memory is bounded by the chunk size, not the file size.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import BinaryIO

from lic_exporter.model.vocabulary import Reason
from lic_exporter.parsing.reasons import classify
from lic_exporter.parsing.templates import FastFSM
from lic_exporter.sources.names import device_name
from lic_exporter.sources.privacy import scrub
from lic_exporter.sources.values import MAX_SYSLOG_DEVICES, BadValueError, parse_timestamp

log = logging.getLogger(__name__)
CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 8192  # longer lines are read up to here: every regex stays linear and cheap
_FIND_KEYWORDS = (b"LICMGR", b"SMART_LIC", b"CALL")  # CALL: CALLHOME or CALL_HOME, checked
# TextFSM splits its input with str.splitlines(), which also breaks at these characters; a
# survivor holding one would shift every row after it.
_LINE_BREAKS = str.maketrans({c: " " for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})
_WRAPPER = "LOG_SMART_LIC_"  # NX-OS: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED
_PROCESS_SUFFIX = re.compile(r"\s+-\s+[\w.]+\[\d+\]$")  # SYSTEM_MSG bodies end in ' - proc[pid]'
SEVERITY_NAMES = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")
# Messages that report a failed communication with Cisco. The follow-ons that report the same
# incident again (AUTH_RENEW_FAILED, AGENT_REG_FAILED, ID_CERT_RENEW_FAILED) are not failures
# here: they count only in the per-mnemonic total.
FAILURE_MNEMONICS = frozenset({"COMM_FAILED", "SL_MESSAGE_FAILED"})

# A line that looks like syslog in any layout this tool reads: used to recognise a log file.
_SYSLOG_LINE = re.compile(
    r"^(?:<\d{1,3}>|\d{4}\s+[A-Za-z]{3}\s+\d|[A-Za-z]{3}\s+\d{1,2}\s+\d{1,2}:\d\d:\d\d|[*.][A-Z][a-z]{2}\s"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d|[A-Z0-9]+(?:/[A-Z0-9]+)+:[A-Z][a-z]{2}\s|%[A-Z][A-Z0-9_]*-\d-)")


@dataclass(frozen=True)
class Event:
    """One licensing or call-home message."""

    device: str
    line: int
    facility: str
    severity: int
    mnemonic: str  # the Smart Agent name, LOG_SMART_LIC_ removed
    message: str
    time: datetime | None  # from the line itself; None where it prints none
    reason: Reason | None  # set for failed communications only
    year_inferred: bool = False  # the line printed no year: it was taken from the reference time

    @property
    def severity_name(self) -> str:
        return SEVERITY_NAMES[self.severity] if 0 <= self.severity < len(SEVERITY_NAMES) else str(self.severity)


@dataclass
class DeviceSyslog:
    """What the syslog lines say about one device (Tally.per_device)."""

    failures: dict[str, int] = field(default_factory=dict)  # reason -> count
    messages: int = 0
    clock_changes: int = 0


@dataclass
class Tally:
    """What the syslog lines say, added up: the counters the metrics are built from."""

    messages: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # device, mnemonic, severity
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # device, reason
    last_failure: dict[str, datetime] = field(default_factory=dict)
    lines: int = 0  # every line read
    unparsed: int = 0  # lines that passed the pre-filter but hold no message
    undecodable: int = 0  # lines that passed the pre-filter with bytes that are not UTF-8
    first_undecodable: int | None = None  # line number of the first line with bytes that are not UTF-8
    device_limited: int = 0  # licensing lines from hosts past the device limit: not counted
    nul: int = 0  # lines holding NUL bytes (a crash or a full disk): the NULs are dropped, the rest read
    first_nul: int | None = None
    unknown_zones: set[str] = field(default_factory=set)  # zones no table or --tz knows: times left out

    def undecodable_at(self, line: int) -> None:
        self.undecodable += 1
        if self.first_undecodable is None or line < self.first_undecodable:
            self.first_undecodable = line

    def nul_at(self, lines: list[int]) -> None:
        self.nul += len(lines)
        if lines and (self.first_nul is None or lines[0] < self.first_nul):
            self.first_nul = lines[0]

    def per_device(self) -> dict[str, DeviceSyslog]:
        """The counts of each device, gathered in one pass (linear in the tally)."""
        found: dict[str, DeviceSyslog] = {}
        for (device, reason), count in self.failures.items():
            found.setdefault(device, DeviceSyslog()).failures[reason] = count
        for (device, mnemonic, _), count in self.messages.items():
            entry = found.setdefault(device, DeviceSyslog())
            entry.messages += count
            if mnemonic == "SYSTEM_CLOCK_CHANGED":
                entry.clock_changes += count
        return found

    def shift_lines(self, offset: int) -> None:
        """Line numbers counted from a later start (a range of a file, a section of a session)."""
        if self.first_undecodable is not None:
            self.first_undecodable += offset
        if self.first_nul is not None:
            self.first_nul += offset

    def add(self, event: Event) -> None:
        self.messages[(event.device, event.mnemonic, event.severity_name)] += 1
        if event.reason is not None:
            self.failures[(event.device, event.reason.value)] += 1
            if event.time is not None:
                known = self.last_failure.get(event.device)
                if known is None or event.time > known:
                    self.last_failure[event.device] = event.time

    def merge(self, other: Tally) -> None:
        self.messages.update(other.messages)
        self.failures.update(other.failures)
        for device, when in other.last_failure.items():
            if device not in self.last_failure or when > self.last_failure[device]:
                self.last_failure[device] = when
        self.lines += other.lines
        self.unparsed += other.unparsed
        self.undecodable += other.undecodable
        if self.first_undecodable is None:
            self.first_undecodable = other.first_undecodable
        self.nul += other.nul
        self.device_limited += other.device_limited
        if self.first_nul is None:
            self.first_nul = other.first_nul
        self.unknown_zones |= other.unknown_zones


def looks_like_syslog(head: str, sample: int = 50) -> bool:
    """Most of the first non-blank lines have a syslog header (or are bare messages). NUL
    bytes (a crash, a full disk) and a byte-order mark do not hide a header."""
    head = head.replace("\x00", "").removeprefix("\ufeff")
    lines = [line for line in head.splitlines() if line.strip()][:sample]
    return bool(lines) and sum(bool(_SYSLOG_LINE.match(line)) for line in lines) * 2 >= len(lines)


def scan(data: bytes, first_line: int) -> tuple[int, list[tuple[int, bytes]]]:
    """Complete lines in `data` -> (how many, [(line number, raw line)] that may count).
    `data` must end at a line boundary (or at the end of the file). The keywords are found
    with bytes.find (a C scan per keyword, far faster than a regex alternation); a `CALL`
    hit must read CALLHOME or CALL_HOME."""
    starts = set()
    for keyword in _FIND_KEYWORDS:
        found = data.find(keyword)
        while found >= 0:
            if keyword != b"CALL" or data.startswith((b"HOME", b"_HOME"), found + 4):
                starts.add(data.rfind(b"\n", 0, found) + 1)
            found = data.find(keyword, found + len(keyword))
    survivors: list[tuple[int, bytes]] = []
    line_no, counted_to = first_line, 0
    for start in sorted(starts):
        line_no += data.count(b"\n", counted_to, start)
        counted_to = start
        end = data.find(b"\n", start)
        survivors.append((line_no, data[start:end if end >= 0 else len(data)]))
    line_no += data.count(b"\n", counted_to)  # the rest: every line is counted, once
    lines = line_no - first_line + (0 if not data or data.endswith(b"\n") else 1)
    return lines, survivors


def nul_lines(data: bytes, first_line: int) -> list[int]:
    """Line numbers of the lines of `data` holding a NUL byte (a C scan when there is none)."""
    found: list[int] = []
    position = data.find(b"\x00")
    line, counted_to = first_line, 0
    while position >= 0:
        line += data.count(b"\n", counted_to, position)
        counted_to = position
        found.append(line)
        end = data.find(b"\n", position)
        if end < 0:
            break
        position = data.find(b"\x00", end)
    return found


def read_block(data: bytes, first_line: int, parser: LineParser, fallback_device: str, reference: datetime,
               tally: Tally) -> tuple[int, list[Event]]:
    """Count the complete lines of `data`, the first being line `first_line` of its file,
    into `tally`; returns how many lines and their licensing events. The one path of every
    syslog reader: files, the follower, `show logging` in sessions."""
    lines, survivors = scan(data, first_line)
    if b"\x00" in data:
        tally.nul_at(nul_lines(data, first_line))
    events = list(parser.events(survivors, fallback_device, reference, tally))
    for event in events:
        tally.add(event)
    tally.lines += lines
    return lines, events


class LineParser:
    """Survivor lines -> events, with TextFSM. One instance per process (compiled once).

    Devices are admitted up to `max_devices` (with `known_only`, only those named by the
    device map or made known by show outputs): every distinct host in a line would otherwise
    become a device, and anyone who can send syslog to the collector could add them."""

    def __init__(self, fsm: FastFSM, zones: dict[str, int] | None = None,
                 device_map: dict[str, str] | None = None, max_devices: int = MAX_SYSLOG_DEVICES,
                 known_only: bool = False):
        self.fsm = fsm
        self.zones = zones
        self.device_map = device_map or {}
        self.max_devices = max_devices
        self.known_only = known_only
        self.admitted: set[str] = set()
        self.known: set[str] = {device_name(name) for name in self.device_map.values()}
        self._refusal_logged = False

    def know(self, devices: Iterable[str]) -> None:
        """Devices the show outputs name: admitted under `known_only` too."""
        self.known.update(devices)

    def _admit(self, device: str, tally: Tally) -> bool:
        if device in self.admitted:
            return True
        if (not self.known_only or device in self.known) and len(self.admitted) < self.max_devices:
            self.admitted.add(device)
            return True
        tally.device_limited += 1
        if not self._refusal_logged:
            self._refusal_logged = True
            why = ("not a known device (--syslog.known-devices-only)" if self.known_only and device not in self.known
                   else f"{self.max_devices} devices already (--syslog.max-devices)")
            log.warning("syslog lines from %s and further new hosts are not counted: %s; counted in "
                        "lic_exporter_syslog_skipped_lines_total{reason=\"device_limit\"}", device, why)
        return False

    def events(self, survivors: list[tuple[int, bytes]], fallback_device: str, reference: datetime,
               tally: Tally) -> Iterator[Event]:
        """Events of these lines, in order; `reference` dates year-less lines (the newest
        time they can have: the file's modification time, or now for a followed file)."""
        if not survivors:
            return
        texts = [self._decode(number, raw, tally) for number, raw in survivors]
        rows = self.fsm.rows("\n".join(texts))
        for (number, _), row in zip(survivors, rows, strict=True):
            if not row["FACILITY"]:
                tally.unparsed += 1
                continue
            device = self._device(row, fallback_device)
            if self._admit(device, tally):  # before the message is read: a refused flood costs little
                yield self._event(row, number, device, reference, tally)

    @staticmethod
    def _decode(number: int, raw: bytes, tally: Tally) -> str:
        if len(raw) > MAX_LINE_BYTES:  # a message is short; a huge line is junk, and must stay cheap
            raw = raw[:MAX_LINE_BYTES]
        if b"\x00" in raw:  # counted by read_block; the rest of the line is still read
            raw = raw.replace(b"\x00", b"")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            tally.undecodable_at(number)
            text = raw.decode("utf-8", errors="replace")
        text = text.rstrip("\r\n")
        if number == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark from a Windows editor
        return text.translate(_LINE_BREAKS) if not text.isascii() or "\r" in text or "\x0b" in text or "\x0c" in text \
            or "\x1c" in text or "\x1d" in text or "\x1e" in text else text

    def _device(self, row: dict[str, object], fallback_device: str) -> str:
        """The sender: origin-id or host, else the collector's host field (mapped), else the file's."""
        host = str(row["ORIGIN"] or row["HOST"] or row["COLLECTOR_HOST"] or "").replace("\ufffd", "")
        if host:
            host = self.device_map.get(host.lower(), host)
        return (device_name(host) if host else "") or fallback_device

    def _event(self, row: dict[str, object], number: int, device: str, reference: datetime,
               tally: Tally) -> Event:
        mnemonic = str(row["MNEMONIC"]).removeprefix(_WRAPPER)
        message = str(row["MESSAGE"]).strip()
        if message.endswith("]"):
            message = _PROCESS_SUFFIX.sub("", message)
        time = self._time(row, reference, tally)
        return Event(
            device=device,
            line=number,
            facility=str(row["FACILITY"]),
            severity=int(str(row["SEVERITY"])),
            mnemonic=mnemonic,
            message=scrub(message),
            time=time,
            reason=classify(message) if mnemonic in FAILURE_MNEMONICS else None,
            year_inferred=time is not None and not (row["YEAR"] or row["ISO_TIME"]),
        )

    def _time(self, row: dict[str, object], reference: datetime, tally: Tally) -> datetime | None:
        """The device's own time; without a zone it is UTC (contract); without a year, the
        latest year that does not put it in the future of `reference` (new-year rollover)."""
        try:
            if row["ISO_TIME"]:
                return datetime.fromisoformat(str(row["ISO_TIME"]).replace("Z", "+00:00"))
            if not row["DATE"]:
                return None
            zone = str(row["ZONE"] or "UTC")
            if row["YEAR"]:
                return parse_timestamp(f"{row['DATE']} {row['TIME']} {row['YEAR']} {zone}", None, self.zones)
            return _without_year(f"{row['DATE']} {row['TIME']}", zone, reference, self.zones)
        except BadValueError as exc:
            if "time zone" in str(exc):
                tally.unknown_zones.add(str(row["ZONE"]))
            return None  # the message still counts, without a time
        except ValueError:
            return None


def _without_year(day_time: str, zone: str, reference: datetime, zones: dict[str, int] | None) -> datetime | None:
    """The latest of next, this and last year that is at most a day after `reference` (a
    clock slightly ahead, or a zone east of UTC, puts Jan 1 lines before the collector's new
    year)."""
    for year in (reference.year + 1, reference.year, reference.year - 1):
        try:
            when = parse_timestamp(f"{day_time} {year} {zone}", None, zones)
        except BadValueError:  # Feb 29 in a year without one
            continue
        if when <= reference + timedelta(days=1):
            return when
    return None


def read_chunks(handle: BinaryIO, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Whole lines, about `size` bytes at a time; the last chunk may lack its newline."""
    return whole_lines(iter(lambda: handle.read(size), b""))


def whole_lines(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Blocks of bytes re-cut at line ends; what follows the last newline comes last."""
    partial = b""
    for block in blocks:
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            partial += block
            continue
        yield partial + block[:cut] if partial else block[:cut]
        partial = block[cut:]
    if partial:
        yield partial


def tally_stream(chunks: Iterable[bytes], parser: LineParser, fallback_device: str, reference: datetime,
                 on_event: Callable[[Event], object] | None = None) -> Tally:
    """Scan, parse and add up a whole stream; each event is also handed to `on_event` as it
    is read (kept in a list, or written out at once: memory stays bounded by a chunk)."""
    tally = Tally()
    for chunk in chunks:
        _, events = read_block(chunk, tally.lines + 1, parser, fallback_device, reference, tally)
        if on_event is not None:
            for event in events:
                on_event(event)
    return tally


PARALLEL_BYTES = 32 << 20  # a syslog file this large is shared among worker processes
_RANGE_PARSER: LineParser | None = None


def tally_parallel(path: str, size: int, parser: LineParser, fallback_device: str, reference: datetime,
                   jobs: int) -> Tally:
    """The tally of a large file, its line-aligned byte ranges counted by `jobs` processes.
    Events are not kept (their line numbers would need the ranges before them)."""
    global _RANGE_PARSER
    _RANGE_PARSER = parser  # forked workers inherit it, compiled template and all
    with open(path, "rb") as handle:
        ranges = _line_ranges(handle, size, jobs * 4)
    work = [(path, start, end, fallback_device, reference) for start, end in ranges]
    total = Tally()
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        for tally in pool.map(_tally_range, work):
            tally.shift_lines(total.lines)  # range-relative -> file line numbers
            total.merge(tally)
    return total


def _line_ranges(handle: BinaryIO, size: int, parts: int) -> list[tuple[int, int]]:
    bounds = [0]
    for part in range(1, parts):
        handle.seek(size * part // parts)
        handle.readline()  # the range starts after the line that straddles the cut
        if bounds[-1] < handle.tell() < size:
            bounds.append(handle.tell())
    bounds.append(size)
    return list(pairwise(bounds))


def _tally_range(work: tuple[str, int, int, str, datetime]) -> Tally:
    path, start, end, fallback, reference = work
    with open(path, "rb") as handle:
        handle.seek(start)
        return tally_stream(whole_lines(_bounded(handle, end - start)), _RANGE_PARSER, fallback, reference)


def _bounded(handle: BinaryIO, length: int) -> Iterator[bytes]:
    while length > 0:
        block = handle.read(min(CHUNK_BYTES, length))
        if not block:
            return
        length -= len(block)
        yield block
