"""Records -> one view per device: the newest fact of each kind.

A device is often described by several files (`show license status` from last night,
`show license usage` from this morning). Each aspect comes from the newest record that states
it, so a fresh usage output never blanks the registration read from an older status output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from lic_exporter.model.states import Mode
from lic_exporter.model.vocabulary import Deadline

if TYPE_CHECKING:  # the record models (pydantic) load only where records are built
    from lic_exporter.model.records import (
        Authorization,
        CallhomeRecord,
        Entitlement,
        LicenseRecord,
        Record,
        Registration,
        UsageReporting,
    )

Platform = Literal["nxos", "iosxe"]
# Commands only one platform has: NX-OS spells call-home `callhome`, and only NX-OS 10.5 has
# Nexus Dashboard controller licences.
_NXOS_COMMANDS = frozenset({"show running-config callhome", "show callhome", "show license controller usage"})
# What a UDI's product ID or a licence tag says: Nexus and MDS product IDs (N9K-C93180YC-FX,
# N77-C7706, DS-C9148T) and NX-OS licence tags (LAN_ENTERPRISE_SERVICES_PKG, NXOS_ADVANTAGE_XF,
# DCN_PREMIER); IOS-XE's Catalyst, ISR, ASR and virtual routers, and its regid and lower-case
# tags (network-advantage).
_NXOS_PID = re.compile(r"PID:(?:N\d{1,2}K|N77|N3K|DS-C)", re.IGNORECASE)
_NXOS_TAG = re.compile(r"_PKG$|^(?:NXOS|DCN|ACI|N\dK|LAN|SAN|FCOE|FC|MPLS|VDC)_")
_IOSXE_TAG = re.compile(r"^regid\.|^(?:C9\d{2,3}|C8\d{2,3}|ISR|ASR|CSR|IR\d|CAT)[\w-]*|^[a-z]+(?:-[a-z0-9]+)+$")
# A command whose licences only fill a gap: the licences Nexus Dashboard asks for are no count
# of what the switch uses, so `show license usage` wins whenever the device has it.
_REQUESTS_ONLY = "show license controller usage"


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
    # whether each capture printed its time (True) or was dated by its file's time (False)
    printed_times: dict[str, bool] = field(default_factory=dict)
    udi: str | None = None
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

    @property
    def platform(self) -> Platform | None:
        """NX-OS or IOS-XE, where the commands captured, the UDI or the licence tags tell; None
        where nothing does (the remedies then give both platforms' command forms)."""
        if self.sources.keys() & _NXOS_COMMANDS or self.callhome is not None:
            return "nxos"
        if self.udi and "PID:" in self.udi.upper():
            return "nxos" if _NXOS_PID.search(self.udi) else "iosxe"
        tags = [item.tag for item in self.entitlements or ()]
        if any(_NXOS_TAG.search(tag) for tag in tags):
            return "nxos"
        if any(_IOSXE_TAG.search(tag) for tag in tags):
            return "iosxe"
        return None

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
            view.printed_times[record.command] = record.captured_at_from == "output"
        if record.kind == "callhome":
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
        view._take("entitlements", record.entitlements, when, partial=record.command == _REQUESTS_ONLY)
        view._take("udi", record.udi, when)
    return [views[name] for name in sorted(views)]
