"""Syslog lines -> licensing and call-home events, with TextFSM.

Only the lines the byte pre-filter let through (syslog_chunks.scan) come here: they are
decoded and handed, one batch per chunk, to TextFSM, which stays the parser of record for the
lines that count.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from lic_exporter.model.vocabulary import Reason
from lic_exporter.parsing.reasons import classify
from lic_exporter.parsing.syslog_tally import Tally
from lic_exporter.parsing.templates import FastFSM
from lic_exporter.sources.names import device_name
from lic_exporter.sources.privacy import scrub
from lic_exporter.sources.values import MAX_SYSLOG_DEVICES, BadValueError, parse_timestamp

log = logging.getLogger(__name__)
MAX_LINE_BYTES = 8192  # longer lines are read up to here: every regex stays linear and cheap
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


@dataclass(slots=True)
class Event:
    """One licensing or call-home message. Not frozen: a frozen one costs about a microsecond
    more to make, for every licensing line of a log, and nothing changes an event once made."""

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


def looks_like_syslog(head: str, sample: int = 50) -> bool:
    """Most of the first non-blank lines have a syslog header (or are bare messages). NUL
    bytes (a crash, a full disk) and a byte-order mark do not hide a header."""
    head = head.replace("\x00", "").removeprefix("\ufeff")
    lines = [line for line in head.splitlines() if line.strip()][:sample]
    return bool(lines) and sum(bool(_SYSLOG_LINE.match(line)) for line in lines) * 2 >= len(lines)


class LineParser:
    """Survivor lines -> events, with TextFSM. One instance per process (compiled once).

    Devices are admitted up to `max_devices` (with `known_only`, only those named by the
    device map or made known by show outputs): every distinct host in a line would otherwise
    become a device, and anyone who can send syslog to the collector could add them."""

    def __init__(self, fsm: FastFSM, zones: dict[str, int] | None = None,
                 device_map: dict[str, str] | None = None, max_devices: int = MAX_SYSLOG_DEVICES,
                 known_only: bool = False):
        self.fsm = fsm
        self._at = _Columns.of(fsm.header)
        self.zones = zones
        self.device_map = device_map or {}
        self.max_devices = max_devices
        self.known_only = known_only
        self.admitted: set[str] = set()
        self.known: set[str] = {device_name(name) for name in self.device_map.values()}
        self._refusal_logged = False
        # A log repeats its senders, its seconds and its messages: each is worked out once
        # (caches emptied when full, so that a flood of distinct values costs no memory).
        self._devices: dict[tuple[object, object, object], str] = {}
        self._times: dict[tuple[_Stamp, datetime], tuple[datetime | None, str | None]] = {}
        self._messages: dict[tuple[str, str], tuple[str, Reason | None]] = {}

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

    def events(self, survivors: Sequence[tuple[int, bytes | bytearray]], fallback_device: str, reference: datetime,
               tally: Tally) -> Iterator[Event]:
        """Events of these lines, in order; `reference` dates year-less lines (the newest
        time they can have: the file's modification time, or now for a followed file)."""
        if not survivors:
            return
        texts = [self._decode(number, raw, tally) for number, raw in survivors]
        rows = self.fsm.lists("\n".join(texts))  # lists, not dicts: a dict per line cost as much as its header rule
        for (number, _), row in zip(survivors, rows, strict=True):
            if not row[self._at.facility]:
                tally.unparsed += 1
                continue
            device = self._device(row, fallback_device)
            if self._admit(device, tally):  # before the message is read: a refused flood costs little
                yield self._event(row, number, device, reference, tally)

    @staticmethod
    def _decode(number: int, raw: bytes | bytearray, tally: Tally) -> str:
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

    def _device(self, row: Row, fallback_device: str) -> str:
        """The sender: origin-id or host, else the collector's host field (mapped), else the file's."""
        at = self._at
        key = (row[at.origin], row[at.host], row[at.collector_host])
        device = self._devices.get(key)
        if device is None:
            host = str(key[0] or key[1] or key[2] or "").replace("\ufffd", "")
            if host:
                host = self.device_map.get(host.lower(), host)
            device = _remember(self._devices, key, device_name(host) if host else "")
        return device or fallback_device

    def _event(self, row: Row, number: int, device: str, reference: datetime, tally: Tally) -> Event:
        at = self._at
        mnemonic = str(row[at.mnemonic]).removeprefix(_WRAPPER)
        message, reason = self._message(mnemonic, str(row[at.message]))
        stamp = _Stamp(row[at.iso_time], row[at.date], row[at.time], row[at.year], row[at.zone])
        time = self._time(stamp, reference, tally)
        return Event(
            device=device,
            line=number,
            facility=str(row[at.facility]),
            severity=int(str(row[at.severity])),
            mnemonic=mnemonic,
            message=message,
            time=time,
            reason=reason,
            year_inferred=time is not None and not (stamp.year or stamp.iso_time),
        )

    def _message(self, mnemonic: str, text: str) -> tuple[str, Reason | None]:
        """The message as kept (secrets redacted) and, for a failed communication, its reason."""
        known = self._messages.get((mnemonic, text))
        if known is None:
            message = text.strip()
            if message.endswith("]"):
                message = _PROCESS_SUFFIX.sub("", message)
            reason = classify(message) if mnemonic in FAILURE_MNEMONICS else None
            known = _remember(self._messages, (mnemonic, text), (scrub(message), reason))
        return known

    def _time(self, stamp: _Stamp, reference: datetime, tally: Tally) -> datetime | None:
        key = (stamp, reference)
        known = self._times.get(key)
        if known is None:
            known = _remember(self._times, key, self._read_time(stamp, reference))
        if known[1] is not None:
            tally.unknown_zones.add(known[1])
        return known[0]

    def _read_time(self, stamp: _Stamp, reference: datetime) -> tuple[datetime | None, str | None]:
        """The device's own time; without a zone it is UTC (contract); without a year, the
        latest year that does not put it in the future of `reference` (new-year rollover).
        With it, the zone when the time could not be read for want of knowing it."""
        try:
            if stamp.iso_time:
                return datetime.fromisoformat(stamp.iso_time.replace("Z", "+00:00")), None
            if not stamp.date:
                return None, None
            zone = stamp.zone or "UTC"
            if stamp.year:
                return parse_timestamp(f"{stamp.date} {stamp.time} {stamp.year} {zone}", None, self.zones), None
            return _without_year(f"{stamp.date} {stamp.time}", zone, reference, self.zones), None
        except BadValueError as exc:  # the message still counts, without a time
            return None, (stamp.zone if "time zone" in str(exc) else None)
        except ValueError:
            return None, None


Row = list[Any]  # one TextFSM record: the template's values in its header's order


class _Columns(NamedTuple):
    """Where each value the events need sits in a row."""

    facility: int
    severity: int
    mnemonic: int
    message: int
    origin: int
    host: int
    collector_host: int
    iso_time: int
    date: int
    time: int
    year: int
    zone: int

    @classmethod
    def of(cls, header: Sequence[str]) -> _Columns:
        at = {name: index for index, name in enumerate(header)}
        return cls(*(at[name.upper()] for name in cls._fields))


class _Stamp(NamedTuple):
    """A line's time as printed (each part '' where absent): the key its reading is kept under."""

    iso_time: str
    date: str
    time: str
    year: str
    zone: str


_CACHE_ENTRIES = 4096
K = TypeVar("K")
V = TypeVar("V")


def _remember(cache: dict[K, V], key: K, value: V) -> V:
    """`value`, kept under `key`; a full cache is emptied first (memory stays bounded)."""
    if len(cache) >= _CACHE_ENTRIES:
        cache.clear()
    cache[key] = value
    return value


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
