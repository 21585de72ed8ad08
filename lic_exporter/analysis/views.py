"""Records -> one view per device: the newest fact of each kind.

A device is often described by several files (`show license status` from last night,
`show license usage` from this morning). Each aspect comes from the newest record that states
it, so a fresh usage output never blanks the registration read from an older status output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from lic_exporter.model.records import (
    Authorization,
    CallhomeRecord,
    Entitlement,
    LicenseRecord,
    Mode,
    Record,
    Registration,
    UsageReporting,
)
from lic_exporter.model.vocabulary import Deadline


@dataclass
class DeviceView:
    device: str
    info: LicenseRecord | None = None  # newest record stating the licensing mode
    registration: Registration | None = None
    authorization: Authorization | None = None
    usage_reporting: UsageReporting | None = None
    entitlements: tuple[Entitlement, ...] | None = None
    callhome: CallhomeRecord | None = None
    sources: dict[str, datetime] = field(default_factory=dict)  # command -> newest capture
    _rank: dict[str, tuple[bool, datetime]] = field(default_factory=dict, repr=False)

    def deadlines(self) -> dict[Deadline, datetime]:
        """The contract's deadlines this device's outputs state, in the vocabulary's order."""
        found = {
            Deadline.REGISTRATION_EXPIRY: self.registration.expires if self.registration else None,
            Deadline.COMMUNICATION_DEADLINE: self.authorization.communication_deadline if self.authorization else None,
            Deadline.EVALUATION_EXPIRY: self.authorization.evaluation_expires if self.authorization else None,
            Deadline.REPORT_ACK: self.usage_reporting.next_ack_deadline if self.usage_reporting else None,
        }
        return {name: when for name, when in found.items() if when is not None}

    def nearest_deadline(self) -> tuple[Deadline, datetime] | None:
        deadlines = self.deadlines()
        if not deadlines:
            return None
        name = min(deadlines, key=deadlines.__getitem__)
        return name, deadlines[name]

    def _take(self, aspect: str, value: object, when: datetime, partial: bool = False) -> None:
        """Keep the newest value; a partial one (an authorization Status line without its
        deadlines) only fills a gap and never replaces a whole one."""
        if value is None:
            return
        rank = (not partial, when)
        if aspect not in self._rank or rank >= self._rank[aspect]:
            self._rank[aspect] = rank
            setattr(self, aspect, value)


def device_views(records: Iterable[Record]) -> list[DeviceView]:
    """One view per device the show-output records describe (syslog records are left out:
    their counts come from the Tally), sorted by device."""
    views: dict[str, DeviceView] = {}
    for record in records:
        if record.kind == "syslog":
            continue
        view = views.setdefault(record.device, DeviceView(record.device))
        when = record.captured_at
        previous = view.sources.get(record.command)
        if previous is None or when > previous:
            view.sources[record.command] = when
        if isinstance(record, CallhomeRecord):
            view._take("callhome", record, when)
            continue
        # The mode alone (a policy-mode `show license usage`) only fills a gap: it must not
        # blank the accounts and transport a status output stated.
        view._take("info", record if record.mode is not None else None, when,
                   partial=record.account is None and record.transport is None)
        view._take("registration", record.registration, when)
        # `show license usage` prints the authorization Status line alone.
        view._take("authorization", record.authorization, when, partial=record.registration is None
                   and record.mode is not Mode.POLICY)
        view._take("usage_reporting", record.usage_reporting, when)
        view._take("entitlements", record.entitlements, when)
    return [views[name] for name in sorted(views)]
