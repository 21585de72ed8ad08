"""Cisco's Smart Licensing troubleshooting workflow as rules: device facts -> findings.

Each rule is a small function over one device's facts (what its outputs and syslog say) and
the time now; RULES lists them in one place with their problem name. A finding says what is
wrong, why it matters (with the deadline and days left where one applies) and the fix, with
configuration lines in the device's own platform form where there are some (remedies.py). The
rules that reason from the timers are in timers.py. Nothing personal is ever put in a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from lic_exporter.analysis import remedies
from lic_exporter.analysis.facts import Facts, Finding, facts_of, finding, fleet_facts, with_syslog
from lic_exporter.analysis.timers import (
    REGISTER,
    attempt_overdue,
    communication_deadline_near,
    communication_deadline_passed,
    evaluation_expired,
    evaluation_mode,
    registration_expiry_near,
    registration_expiry_passed,
    registration_renewal_failing,
    report_ack_overdue,
    report_ack_passed,
    stale_capture,
)
from lic_exporter.model.states import AuthorizationState, Mode, RegistrationState
from lic_exporter.model.vocabulary import SEVERITIES, Attempt, Severity

__all__ = ["RULES", "Facts", "Finding", "diagnose", "facts_of", "fleet_facts", "with_syslog"]

Rule = Callable[[Facts, datetime], Finding | None]


# --- call-home configuration ------------------------------------------------------------

def callhome_plain_http(f: Facts, now: datetime) -> Finding | None:
    plain = [url for url in f.urls if url.lower().startswith("http://")]
    if not plain:
        return None
    return finding(f, "callhome_plain_http", Severity.CRITICAL, f"call-home sends to plain HTTP: {plain[0]}",
                   "Cisco accepts only HTTPS now; plain HTTP fails with 'error parsing response data from SCH "
                   "server' and registration and authorization renewals stop.",
                   remedies.HTTPS_DESTINATION.on(f.platform))


def callhome_disabled(f: Facts, now: datetime) -> Finding | None:
    if f.callhome_enabled is not False or f.mode is Mode.POLICY:
        return None
    return finding(f, "callhome_disabled", Severity.CRITICAL, "call-home is not enabled",
                   "Classic Smart Licensing talks to Cisco through call-home: nothing is sent.",
                   remedies.CALLHOME_ON.on(f.platform))


def callhome_no_vrf(f: Facts, now: datetime) -> Finding | None:
    if not f.callhome_seen or f.http_vrf or f.callhome_enabled is None or not f.urls:
        return None
    return finding(f, "callhome_no_vrf", Severity.WARNING, "no `transport http use-vrf` under callhome",
                   "Without it call-home uses the default VRF; most Nexus switches reach the internet "
                   "through the management VRF only, and the HTTP send fails.",
                   remedies.CALLHOME_VRF.on(f.platform))


def callhome_source_interface(f: Facts, now: datetime) -> Finding | None:
    if (f.http_vrf or "").lower() != "management" or not f.source_interface:
        return None
    if f.source_interface.lower().startswith("mgmt"):
        return None
    return finding(f, "callhome_source_interface", Severity.WARNING,
                   f"HTTP source interface is {f.source_interface} while call-home uses the management VRF",
                   "The source interface must be in the VRF call-home uses, or the HTTP message is never sent.",
                   remedies.SOURCE_INTERFACE.on(f.platform))


# --- communication failures, from show outputs and syslog ----------------------------------

# reason -> (the cause, said after "communication with Cisco fails: "; None: nothing to add),
# and the remedy in each platform's form.
_CAUSES: dict[str, tuple[str | None, remedies.Commands]] = {
    "dns": ("name resolution fails", remedies.NAME_SERVER),
    "tls": ("the server certificate cannot be validated (the retired QuoVadis root CA, a wrong system clock, "
            "TLS interception, or a wrong URL name)", remedies.TRUSTPOOL),
    "response": ("the answer cannot be parsed (plain HTTP is no longer accepted)", remedies.HTTPS_DESTINATION),
    "http_send": ("the HTTP message is not sent (VRF or source interface)", remedies.HTTP_SEND),
    "proxy": ("the HTTP proxy refuses or cannot be reached", remedies.PROXY),
    "timeout": ("the connection times out (firewall, route or proxy)", remedies.PATH_TO_CISCO),
    "transport_disabled": ("smart licensing messages are not enabled on an active call-home profile",
                           remedies.SMART_LICENSING_DATA),
    "other": (None, remedies.LICENSING_LOG),
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
    if reason == "proxy" and f.mode is Mode.POLICY:
        fix = remedies.PROXY_POLICY
    what = "communication with Cisco fails" + (f": {cause}" if cause else "")
    return finding(f, f"callhome_failing_{reason}", Severity.WARNING, what,
                   f"{_failure_evidence(f)}; renewals cannot succeed until it works.", fix.on(f.platform))


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
    return finding(f, "clock_changed", severity, f"the system clock was changed {f.clock_changes} time(s)",
                   "Certificates and deadlines depend on the clock; a wrong clock breaks TLS to Cisco.",
                   remedies.NTP.on(f.platform))


# --- licensing states ------------------------------------------------------------------

def _state_rule(state: AuthorizationState, problem: str, severity: Severity, what: str, why: str,
                fix: str) -> Rule:
    """A rule that fires on one authorization state and says the same each time."""
    def rule(f: Facts, now: datetime) -> Finding | None:
        return finding(f, problem, severity, what, why, fix) if f.authorization is state else None
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
    return finding(f, "registration_failed", Severity.CRITICAL, "registration with Cisco failed",
                   "The device stays unregistered (evaluation mode, then unlicensed).",
                   f"fix the communication failure, then register again (a renewal does not apply):\n{REGISTER}")


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
    ("communication_deadline_passed", communication_deadline_passed),
    ("communication_deadline_near", communication_deadline_near),
    ("registration_failed", registration_failed),
    ("registration_failing", registration_renewal_failing),
    ("registration_expiry_passed", registration_expiry_passed),
    ("registration_expiry_near", registration_expiry_near),
    ("attempt_overdue", attempt_overdue),
    ("report_ack_overdue", report_ack_overdue),
    ("report_ack_passed", report_ack_passed),
    ("stale_capture", stale_capture),
)


def diagnose(facts: Iterable[Facts], now: datetime) -> list[Finding]:
    """All findings, worst device first, worst finding first within a device."""
    by_device: dict[str, list[Finding]] = {}
    for device_facts in facts:
        found = [result for _, rule in RULES if (result := rule(device_facts, now)) is not None]
        if found:
            by_device[device_facts.device] = sorted(found, key=_rank)
    order = sorted(by_device, key=lambda d: (_rank(by_device[d][0]), d))
    return [result for device in order for result in by_device[device]]


def _rank(result: Finding) -> tuple[int, str]:
    return -SEVERITIES.index(result.severity), result.problem
