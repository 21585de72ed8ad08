"""One device's facts, as the diagnose rules see them, and the finding a rule returns.

Facts are small (the daemon keeps one per device) and say only what the outputs and the syslog
state: states, deadlines, timers, failed attempts, call-home settings, when it was captured.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from lic_exporter.analysis.views import DeviceView, Platform
from lic_exporter.model.states import AttemptResult, AuthorizationState, Mode, RegistrationState
from lic_exporter.model.vocabulary import Attempt, Deadline, Severity
from lic_exporter.parsing.syslog_tally import DeviceSyslog, Tally


@dataclass(frozen=True, slots=True)
class Finding:
    device: str
    problem: str  # one of RULES' names: the `problem` label of cisco_smartlic_problem
    severity: Severity
    what: str
    why: str
    fix: str
    deadline: datetime | None = None
    # A finding of a Smart Account (device ""): "source/virtual_account", or "source" for the
    # source itself; a device's finding that joins its account data leaves it None.
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules look at for one device: small, so the daemon can keep it per device."""

    device: str
    mode: Mode | None = None
    registration: RegistrationState | None = None
    authorization: AuthorizationState | None = None
    deadlines: dict[Deadline, datetime] = field(default_factory=dict)
    next_attempts: dict[Attempt, datetime] = field(default_factory=dict)
    # attempt -> reason class of its failed last try, from show outputs: evidence of the cause,
    # not counted (cisco_smartlic_callhome_failures_total counts syslog lines only)
    failures: dict[Attempt, str] = field(default_factory=dict)
    callhome_seen: bool = False
    callhome_enabled: bool | None = None
    urls: tuple[str, ...] = ()
    http_vrf: str | None = None
    source_interface: str | None = None
    captured: datetime | None = None  # the newest capture of any of its outputs
    captured_printed: bool | None = None  # that capture's time was printed in it (False: the file's time)
    platform: Platform | None = None  # None: the outputs do not tell (remedies name both forms)
    syslog_failures: dict[str, int] = field(default_factory=dict)  # reason -> count, as the Tally counts them
    clock_changes: int = 0
    # (logged, due): the newest REPORTING_REQUIRED syslog warning and the ACK date it names
    report_warning: tuple[datetime, datetime] | None = None
    # The virtual account the device is registered to (cisco_smartlic_info{virtual_account}):
    # where the account findings look for what its Smart Account says.
    virtual_account: str | None = None


def facts_of(view: DeviceView) -> Facts:
    reg, auth, usage, callhome = view.registration, view.authorization, view.usage_reporting, view.callhome
    failures: dict[Attempt, str] = {}
    for attempt, result in ((Attempt.REGISTRATION_RENEWAL, reg.last_renewal if reg else None),
                            (Attempt.AUTHORIZATION_RENEWAL, auth.last_communication if auth else None),
                            (Attempt.INITIAL_REGISTRATION, reg.initial if reg else None)):
        if result is not None and result.result is AttemptResult.FAILED:
            failures[attempt] = result.failure_class.value if result.failure_class else "other"
    nexts = {Attempt.REGISTRATION_RENEWAL: reg.next_renewal if reg else None,
             Attempt.AUTHORIZATION_RENEWAL: auth.next_communication if auth else None,
             Attempt.REPORT_PUSH: usage.next_report_push if usage else None}
    profiles = callhome.destination_profiles if callhome else ()
    newest = max(view.sources, key=view.sources.__getitem__) if view.sources else None
    return Facts(
        device=view.device, mode=view.info.mode if view.info else None,
        registration=reg.state if reg else None, authorization=auth.state if auth else None,
        deadlines=view.deadlines(), next_attempts={k: v for k, v in nexts.items() if v is not None},
        failures=failures, callhome_seen=callhome is not None,
        callhome_enabled=callhome.enabled if callhome else None,
        urls=tuple(url for profile in profiles for url in profile.urls),
        http_vrf=callhome.http_vrf if callhome else None,
        source_interface=callhome.http_source_interface if callhome else None,
        captured=view.sources[newest] if newest else None,
        captured_printed=view.printed_times.get(newest) if newest else None,
        platform=view.platform,
        virtual_account=(view.info.account.virtual_account or None) if view.info and view.info.account else None,
    )


def fleet_facts(views: Iterable[DeviceView], tally: Tally) -> list[Facts]:
    """Facts of every device the outputs or the syslog lines name."""
    return with_syslog((facts_of(view) for view in views), tally)


def with_syslog(facts: Iterable[Facts], tally: Tally) -> list[Facts]:
    """These devices' facts with what the syslog says added, and the devices seen only in
    syslog; the tally is gathered per device once, so this is linear in devices."""
    per_device = tally.per_device()
    found = {f.device: f for f in facts}
    for device in per_device.keys() - found.keys():
        found[device] = Facts(device)
    return [_with_device_syslog(found[name], per_device.get(name)) for name in sorted(found)]


def _with_device_syslog(facts: Facts, syslog: DeviceSyslog | None) -> Facts:
    """A device's facts with its syslog's; the same object when neither says anything (a
    fleet's page is assembled from 100,000 of them, most with no syslog of their own)."""
    if syslog is None:
        if not facts.syslog_failures and not facts.clock_changes and facts.report_warning is None:
            return facts
        syslog = DeviceSyslog()
    return replace(facts, syslog_failures=dict(syslog.failures), clock_changes=syslog.clock_changes,
                   report_warning=syslog.report_due)


def finding(f: Facts, problem: str, severity: Severity, what: str, why: str, fix: str,
            deadline: datetime | None = None) -> Finding:
    # Interned: a fleet's findings repeat a few texts (a page at 100,000 devices holds some
    # 180,000 findings while it is assembled), and each copy would cost its length again.
    return Finding(f.device, problem, severity, sys.intern(what), sys.intern(why), sys.intern(fix), deadline)
