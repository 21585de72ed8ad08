"""Cisco's Smart Licensing troubleshooting workflow as rules: device facts -> findings.

Each rule is a small function over one device's facts (what its outputs and syslog say) and
the time now; RULES lists them in one place with their problem name. A finding says what is
wrong, why it matters (with the deadline and days left where one applies) and the fix, with
configuration lines where there are some. Nothing personal is ever put in a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from lic_exporter.analysis.deadlines import days_until, urgency
from lic_exporter.analysis.views import DeviceView
from lic_exporter.model.records import AttemptResult, AuthorizationState, Mode, RegistrationState
from lic_exporter.model.vocabulary import SEVERITIES, Attempt, Deadline, Severity
from lic_exporter.parsing.syslog_tally import DeviceSyslog, Tally

STALE_AFTER = timedelta(days=2)
OVERDUE_AFTER = timedelta(days=1)
DDCE_URL = "https://tools.cisco.com/its/service/oddce/services/DDCEService"


@dataclass(frozen=True)
class Finding:
    device: str
    problem: str  # one of RULES' names: the `problem` label of cisco_smartlic_problem
    severity: Severity
    what: str
    why: str
    fix: str
    deadline: datetime | None = None


@dataclass(frozen=True)
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
    syslog_failures: dict[str, int] = field(default_factory=dict)  # reason -> count, as the Tally counts them
    clock_changes: int = 0


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
    return Facts(
        device=view.device, mode=view.info.mode if view.info else None,
        registration=reg.state if reg else None, authorization=auth.state if auth else None,
        deadlines=view.deadlines(), next_attempts={k: v for k, v in nexts.items() if v is not None},
        failures=failures, callhome_seen=callhome is not None,
        callhome_enabled=callhome.enabled if callhome else None,
        urls=tuple(url for profile in profiles for url in profile.urls),
        http_vrf=callhome.http_vrf if callhome else None,
        source_interface=callhome.http_source_interface if callhome else None,
        captured=max(view.sources.values()) if view.sources else None,
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
    empty = DeviceSyslog()
    return [replace(found[name], syslog_failures=dict(per_device.get(name, empty).failures),
                    clock_changes=per_device.get(name, empty).clock_changes) for name in sorted(found)]


Rule = Callable[[Facts, datetime], Finding | None]


def _finding(f: Facts, problem: str, severity: Severity, what: str, why: str, fix: str,
             deadline: datetime | None = None) -> Finding:
    return Finding(f.device, problem, severity, what, why, fix, deadline)


# --- call-home configuration ------------------------------------------------------------

def callhome_plain_http(f: Facts, now: datetime) -> Finding | None:
    plain = [url for url in f.urls if url.lower().startswith("http://")]
    if not plain:
        return None
    return _finding(f, "callhome_plain_http", Severity.CRITICAL, f"call-home sends to plain HTTP: {plain[0]}",
                    "Cisco accepts only HTTPS now; plain HTTP fails with 'error parsing response data from SCH "
                    "server' and registration and authorization renewals stop.",
                    f"callhome\n  destination-profile CiscoTAC-1 index 1 http {DDCE_URL}")


def callhome_disabled(f: Facts, now: datetime) -> Finding | None:
    if f.callhome_enabled is not False or f.mode is Mode.POLICY:
        return None
    return _finding(f, "callhome_disabled", Severity.CRITICAL, "call-home is not enabled",
                    "Classic Smart Licensing talks to Cisco through call-home: nothing is sent.",
                    "callhome\n  enable")


def callhome_no_vrf(f: Facts, now: datetime) -> Finding | None:
    if not f.callhome_seen or f.http_vrf or f.callhome_enabled is None or not f.urls:
        return None
    return _finding(f, "callhome_no_vrf", Severity.WARNING, "no `transport http use-vrf` under callhome",
                    "Without it call-home uses the default VRF; most Nexus switches reach the internet "
                    "through the management VRF only, and the HTTP send fails.",
                    "callhome\n  transport http use-vrf management")


def callhome_source_interface(f: Facts, now: datetime) -> Finding | None:
    if (f.http_vrf or "").lower() != "management" or not f.source_interface:
        return None
    if f.source_interface.lower().startswith("mgmt"):
        return None
    return _finding(f, "callhome_source_interface", Severity.WARNING,
                    f"HTTP source interface is {f.source_interface} while call-home uses the management VRF",
                    "The source interface must be in the VRF call-home uses, or the HTTP message is never sent.",
                    "ip http source-interface mgmt0 vrf management")


# --- communication failures, from show outputs and syslog ----------------------------------

_CAUSES = {
    "dns": ("name resolution fails", "ip name-server <dns-server> use-vrf management\nip domain-lookup"),
    "tls": ("the server certificate cannot be validated (the retired QuoVadis root CA, a wrong system clock, "
            "TLS interception, or a wrong URL name)", "check the clock (show clock; ntp server <ntp-server> use-vrf "
            "management), then upgrade NX-OS or import the current Cisco trustpool:\n"
            "crypto ca trustpool import url <ios_core.p7b>"),
    "response": ("the answer cannot be parsed (plain HTTP is no longer accepted)",
                 f"callhome\n  destination-profile CiscoTAC-1 index 1 http {DDCE_URL}"),
    "http_send": ("the HTTP message is not sent (VRF or source interface)",
                  "callhome\n  transport http use-vrf management\nip http source-interface mgmt0 vrf management"),
    "proxy": ("the HTTP proxy refuses or cannot be reached",
              "callhome\n  transport http proxy server <proxy> port <port>\n  transport http proxy enable"),
    "timeout": ("the connection times out (firewall, route or proxy)",
                "check the path from the management VRF to tools.cisco.com:443"),
    "transport_disabled": ("smart licensing messages are not enabled on an active call-home profile",
                           "enable smart licensing data on the active profile (CiscoTAC-1)"),
    "other": ("communication with Cisco fails", "look at the device's Smart Licensing syslog messages"),
}


def communication_failing(f: Facts, now: datetime) -> Finding | None:
    """Named after the cause the syslog counts most often (the counts of
    cisco_smartlic_callhome_failures_total), else the one the show outputs' failed attempts
    name most often. The two are never added up: a show output's `Failure reason:` reports the
    same incident its syslog lines count."""
    if not f.syslog_failures and not f.failures:
        return None
    reasons = dict(f.syslog_failures)
    if not reasons:
        for failed in f.failures.values():
            reasons[failed] = reasons.get(failed, 0) + 1
    reason = max(reasons, key=lambda r: (reasons[r], r != "other"))
    cause, fix = _CAUSES.get(reason, _CAUSES["other"])
    return _finding(f, f"callhome_failing_{reason}", Severity.WARNING, f"communication with Cisco fails: {cause}",
                    f"{_failure_evidence(f)}; renewals cannot succeed until it works.", fix)


def _failure_evidence(f: Facts) -> str:
    """`Failed attempts seen (response 2), and the last registration renewal (response) failed`:
    the syslog counts by reason, most first, then the show outputs' failed attempts."""
    seen = []
    if f.syslog_failures:
        counts = sorted(f.syslog_failures.items(), key=lambda item: -item[1])
        seen.append("failed attempts seen (" + ", ".join(f"{reason} {n}" for reason, n in counts) + ")")
    if f.failures:
        attempts = " and ".join(f"{attempt.replace('_', ' ')} ({reason})" for attempt, reason in f.failures.items())
        seen.append(f"the last {attempts} failed")
    text = ", and ".join(seen)
    return text[0].upper() + text[1:]


def clock_changed(f: Facts, now: datetime) -> Finding | None:
    if not f.clock_changes:
        return None
    # With certificate failures besides, a wrong clock is a likely cause, not a curiosity.
    tls = bool(f.syslog_failures.get("tls")) or "tls" in f.failures.values()
    severity = Severity.WARNING if tls else Severity.INFO
    return _finding(f, "clock_changed", severity, f"the system clock was changed {f.clock_changes} time(s)",
                    "Certificates and deadlines depend on the clock; a wrong clock breaks TLS to Cisco.",
                    "ntp server <ntp-server> use-vrf management")


# --- licensing states and deadlines ------------------------------------------------------

def evaluation_mode(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.EVALUATION_EXPIRY)
    if f.authorization is not AuthorizationState.EVALUATION or (when is not None and when <= now):
        return None
    days = days_until(when, now) if when else None
    left = f", {days:.0f} days left (ends {when:%Y-%m-%d})" if when else ""
    # Evaluation mode is a warning however long it has left; critical in the deadline's last days.
    near = days is not None and urgency(Deadline.EVALUATION_EXPIRY, days) is Severity.CRITICAL
    return _finding(f, "evaluation_mode", Severity.CRITICAL if near else Severity.WARNING,
                    f"running in evaluation mode{left}",
                    "Evaluation lasts 90 days of use; then licensed features stop being authorized.",
                    "license smart register idtoken <token>", when)


def evaluation_expired(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.EVALUATION_EXPIRY)
    in_eval_past_end = f.authorization is AuthorizationState.EVALUATION and when is not None and when <= now
    if f.authorization is not AuthorizationState.EVALUATION_EXPIRED and not in_eval_past_end:
        return None
    return _finding(f, "evaluation_expired", Severity.CRITICAL, "the evaluation period has expired",
                    "Licensed features run unauthorized.", "license smart register idtoken <token>")


def _state_rule(state: AuthorizationState, problem: str, severity: Severity, what: str, why: str,
                fix: str) -> Rule:
    """A rule that fires on one authorization state and says the same each time."""
    def rule(f: Facts, now: datetime) -> Finding | None:
        return _finding(f, problem, severity, what, why, fix) if f.authorization is state else None
    return rule


out_of_compliance = _state_rule(
    AuthorizationState.OUT_OF_COMPLIANCE, "out_of_compliance", Severity.WARNING, "licences are out of compliance",
    "The device uses more licences than its virtual account holds.",
    "add licences to the virtual account in CSSM (or move them there), then:\nlicense smart renew auth")
authorization_expired = _state_rule(
    AuthorizationState.AUTHORIZATION_EXPIRED, "authorization_expired", Severity.CRITICAL,
    "licence authorization has expired",
    "No successful contact with Cisco for 90 days; the device retries hourly.",
    "restore call-home (see the other findings), then: license smart renew auth")


def registration_failed(f: Facts, now: datetime) -> Finding | None:
    if Attempt.INITIAL_REGISTRATION not in f.failures and f.registration is not RegistrationState.REGISTRATION_FAILED:
        return None
    return _finding(f, "registration_failed", Severity.CRITICAL, "registration with Cisco failed",
                    "The device stays unregistered (evaluation mode, then unlicensed).",
                    "fix the communication failure, then register again (a renewal does not apply):\n"
                    "license smart register idtoken <token>")


def registration_renewal_failing(f: Facts, now: datetime) -> Finding | None:
    if Attempt.REGISTRATION_RENEWAL not in f.failures:
        return None
    when = f.deadlines.get(Deadline.REGISTRATION_EXPIRY)
    days = days_until(when, now) if when else None
    # A renewal already failing escalates: critical as soon as the alerts would warn of the expiry.
    near = days is not None and urgency(Deadline.REGISTRATION_EXPIRY, days) is not None
    severity = Severity.CRITICAL if near else Severity.WARNING
    left = f"; the ID certificate expires in {days:.0f} days ({when:%Y-%m-%d})" if when else ""
    return _finding(f, "registration_failing", severity, f"registration renewal is failing{left}",
                    "When the ID certificate expires the device falls back to unregistered.",
                    "fix call-home, then: license smart renew id", when)


def attempt_overdue(f: Facts, now: datetime) -> Finding | None:
    overdue = {name: when for name, when in f.next_attempts.items()
               if name != Attempt.REPORT_PUSH and (f.captured or now) - when > OVERDUE_AFTER}
    if not overdue:
        return None
    name, when = min(overdue.items(), key=lambda item: item[1])
    return _finding(f, "attempt_overdue", Severity.WARNING,
                    f"next {name.replace('_', ' ')} attempt was due {when:%Y-%m-%d}",
                    "The output was captured after that time and still names it: the attempt did not happen.",
                    "look at the call-home failures; retry with license smart renew id / license smart renew auth")


def report_ack_overdue(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.REPORT_ACK)
    if when is None:
        return None
    days = days_until(when, now)
    severity = urgency(Deadline.REPORT_ACK, days)
    if severity is None:
        return None
    state = f"passed {-days:.0f} days ago" if days < 0 else f"in {days:.0f} days"
    return _finding(f, "report_ack_overdue", severity, f"usage report ACK deadline {state} ({when:%Y-%m-%d})",
                    "Smart Licensing Using Policy needs Cisco to acknowledge a usage report by then.",
                    "license smart sync all   (offline: license smart save usage ..., upload, import the ACK)", when)


def stale_capture(f: Facts, now: datetime) -> Finding | None:
    if f.captured is None or now - f.captured <= STALE_AFTER:
        return None
    return _finding(f, "stale_capture", Severity.WARNING, f"newest output captured {f.captured:%Y-%m-%d %H:%M %Z}",
                    "Deadlines and states shown may be out of date: the collection job seems to have stopped.",
                    "check the collection job (Ansible, Nornir, Oxidized) for this device")


# The rule table: every problem name the daemon may export, in the order they are checked.
RULES: tuple[tuple[str, Rule], ...] = (
    ("callhome_plain_http", callhome_plain_http),
    ("callhome_disabled", callhome_disabled),
    ("callhome_no_vrf", callhome_no_vrf),
    ("callhome_source_interface", callhome_source_interface),
    ("callhome_failing_<reason>", communication_failing),
    ("clock_changed", clock_changed),
    ("evaluation_mode", evaluation_mode),
    ("evaluation_expired", evaluation_expired),
    ("out_of_compliance", out_of_compliance),
    ("authorization_expired", authorization_expired),
    ("registration_failed", registration_failed),
    ("registration_failing", registration_renewal_failing),
    ("attempt_overdue", attempt_overdue),
    ("report_ack_overdue", report_ack_overdue),
    ("stale_capture", stale_capture),
)


def diagnose(facts: Iterable[Facts], now: datetime) -> list[Finding]:
    """All findings, worst device first, worst finding first within a device."""
    by_device: dict[str, list[Finding]] = {}
    for device_facts in facts:
        found = [finding for _, rule in RULES if (finding := rule(device_facts, now)) is not None]
        if found:
            by_device[device_facts.device] = sorted(found, key=_rank)
    order = sorted(by_device, key=lambda d: (_rank(by_device[d][0]), d))
    return [finding for device in order for finding in by_device[device]]


def _rank(finding: Finding) -> tuple[int, str]:
    return -SEVERITIES.index(finding.severity), finding.problem
