"""Syslog events added up: the counters the metrics are built from.

By device, mnemonic, severity and failure reason, with what was skipped on the way (NUL
bytes, undecodable lines, hosts past the device limit, times in unknown zones).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lic_exporter.parsing.syslog_lines import Event

# Smart Licensing Using Policy warns before a usage report is due (IOS-XE `%SMART_LIC-6-`, NX-OS
# `%LICMGR-6-LOG_SMART_LIC_` REPORTING_REQUIRED): "A Usage report acknowledgement will be
# required in 89 days." The line's own time plus those days is when the ACK is due.
REPORT_WARNING = "REPORTING_REQUIRED"
_REQUIRED_IN = re.compile(r"required in (\d{1,5}) days?")


@dataclass
class DeviceSyslog:
    """What the syslog lines say about one device (Tally.per_device)."""

    failures: dict[str, int] = field(default_factory=dict)  # reason -> count
    messages: int = 0
    clock_changes: int = 0
    # (when the newest REPORTING_REQUIRED was logged, when it says the report ACK is due)
    report_due: tuple[datetime, datetime] | None = None


@dataclass
class Tally:
    """What the syslog lines say, added up: the counters the metrics are built from."""

    messages: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # device, mnemonic, severity
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # device, reason
    last_failure: dict[str, datetime] = field(default_factory=dict)
    report_due: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # see REPORT_WARNING
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
        for device, due in self.report_due.items():
            found.setdefault(device, DeviceSyslog()).report_due = due
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
        if event.mnemonic == REPORT_WARNING and event.time is not None:
            days = _REQUIRED_IN.search(event.message)
            if days:
                self._report_due(event.device, (event.time, event.time + timedelta(days=int(days[1]))))

    def _report_due(self, device: str, due: tuple[datetime, datetime]) -> None:
        """Keep what the newest warning says (a report sent meanwhile moves the date)."""
        known = self.report_due.get(device)
        if known is None or due[0] > known[0]:
            self.report_due[device] = due

    def merge(self, other: Tally) -> None:
        self.messages.update(other.messages)
        self.failures.update(other.failures)
        for device, when in other.last_failure.items():
            if device not in self.last_failure or when > self.last_failure[device]:
                self.last_failure[device] = when
        for device, due in other.report_due.items():
            self._report_due(device, due)
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
