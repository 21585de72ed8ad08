"""The diagnose rules that reason from the Smart Agent's timers: deadlines, attempts, age.

An output is a picture taken at its capture; its deadlines go on running after it. A deadline
that has passed since (or was already past when the output was printed) means the state it
shows has lapsed by now, unless the device reached Cisco after the capture: the rules say so,
with the dates. How close a deadline may come is the vocabulary's table (DEADLINE_DAYS, read
through analysis/deadlines.py), never a number of these rules' own.
"""

from __future__ import annotations

from datetime import datetime

from lic_exporter.analysis.deadlines import OVERDUE_AFTER, STALE_AFTER, days_until, urgency
from lic_exporter.analysis.facts import Facts, Finding, finding
from lic_exporter.model.states import AuthorizationState, RegistrationState
from lic_exporter.model.vocabulary import Attempt, Deadline, Severity

REGISTER = "license smart register idtoken <token>"
# Authorization states that have a communication deadline running.
_AUTHORIZED = (AuthorizationState.AUTHORIZED, AuthorizationState.OUT_OF_COMPLIANCE, AuthorizationState.UNKNOWN, None)
_REGISTERED = (RegistrationState.REGISTERED, RegistrationState.UNKNOWN, None)


def span(days: float) -> str:
    """`3 days`, `1 day`, `less than a day` (of either sign)."""
    days = abs(days)
    if days < 1:
        return "less than a day"
    return f"{days:.0f} day{'' if round(days) == 1 else 's'}"


def captured(f: Facts) -> str:
    """`captured 2026-03-02` or, where no time was printed in it, `dated 2026-12-02 by its file`."""
    if f.captured is None:
        return "of unknown capture time"
    return f"captured {f.captured:%Y-%m-%d}" if f.captured_printed is not False else \
        f"dated {f.captured:%Y-%m-%d} by its file (no time printed in it)"


def _since_capture(f: Facts, when: datetime, lapsed: str, after: str) -> str:
    """Why a deadline that has passed means `lapsed` by now, unless the device did `after`."""
    if f.captured is not None and when > f.captured:
        return (f"The output ({captured(f)}) ran until {when:%Y-%m-%d}; that has passed since. Unless the device "
                f"{after} after {f.captured:%Y-%m-%d}, {lapsed} by now.")
    return (f"The deadline was already past when the output was {captured(f)}: the output is older than its date "
            f"says, or the device did not renew. Unless it {after} after the output was printed, {lapsed} by now.")


# --- evaluation -------------------------------------------------------------------------

def evaluation_mode(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.EVALUATION_EXPIRY)
    if f.authorization is not AuthorizationState.EVALUATION or (when is not None and when <= now):
        return None
    days = days_until(when, now) if when else None
    left = f", {days:.0f} days left (ends {when:%Y-%m-%d})" if when else ""
    # Evaluation mode is a warning however long it has left; critical in the deadline's last days.
    near = days is not None and urgency(Deadline.EVALUATION_EXPIRY, days) is Severity.CRITICAL
    return finding(f, "evaluation_mode", Severity.CRITICAL if near else Severity.WARNING,
                   f"running in evaluation mode{left}",
                   "Evaluation lasts 90 days of use; then licensed features stop being authorized.", REGISTER, when)


def evaluation_expired(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.EVALUATION_EXPIRY)
    in_eval_past_end = f.authorization is AuthorizationState.EVALUATION and when is not None and when <= now
    if f.authorization is not AuthorizationState.EVALUATION_EXPIRED and not in_eval_past_end:
        return None
    return finding(f, "evaluation_expired", Severity.CRITICAL, "the evaluation period has expired",
                   "Licensed features run unauthorized.", REGISTER)


# --- authorization: the communication deadline ------------------------------------------

def communication_deadline_passed(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.COMMUNICATION_DEADLINE)
    if when is None or when > now or f.authorization not in _AUTHORIZED:
        return None
    state = (f.authorization or AuthorizationState.AUTHORIZED).value.replace("_", " ").upper()
    return finding(f, "communication_deadline_passed", Severity.CRITICAL,
                   f"the communication deadline passed {span(days_until(when, now))} ago ({when:%Y-%m-%d}): "
                   "licence authorization has expired by now unless the device communicated with Cisco since",
                   f"The output says {state}. " + _since_capture(
                       f, when, "it is AUTHORIZATION EXPIRED (no successful contact for 90 days)",
                       "reached Cisco"),
                   "capture `show license status` again; if it says AUTHORIZATION EXPIRED, restore call-home "
                   "(see the other findings), then: license smart renew auth", when)


def communication_deadline_near(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.COMMUNICATION_DEADLINE)
    if when is None or when <= now or f.authorization not in _AUTHORIZED:
        return None
    days = days_until(when, now)
    severity = urgency(Deadline.COMMUNICATION_DEADLINE, days)
    if severity is None:
        return None
    failed = " Its last authorization renewal failed." if Attempt.AUTHORIZATION_RENEWAL in f.failures else ""
    return finding(f, "communication_deadline_near", severity,
                   f"the communication deadline is in {span(days)} ({when:%Y-%m-%d})",
                   "Authorization is renewed every 30 days and valid for 90; unless the device reaches Cisco by "
                   f"then it becomes AUTHORIZATION EXPIRED.{failed}",
                   "license smart renew auth   (if that fails, fix call-home first: see the other findings)", when)


# --- registration: the ID certificate --------------------------------------------------

def registration_renewal_failing(f: Facts, now: datetime) -> Finding | None:
    if Attempt.REGISTRATION_RENEWAL not in f.failures:
        return None
    when = f.deadlines.get(Deadline.REGISTRATION_EXPIRY)
    days = days_until(when, now) if when else None
    # A renewal already failing escalates: critical as soon as the alerts would warn of the expiry.
    near = days is not None and urgency(Deadline.REGISTRATION_EXPIRY, days) is not None
    severity = Severity.CRITICAL if near else Severity.WARNING
    why = "When the ID certificate expires the device falls back to unregistered."
    if when is None or days is None:
        left = ""
    elif days > 0:
        left = f"; the ID certificate expires in {span(days)} ({when:%Y-%m-%d})"
    else:
        left = f"; the ID certificate expired {span(days)} ago ({when:%Y-%m-%d})"
        why = _since_capture(f, when, "it is unregistered", "renewed its registration")
    return finding(f, "registration_failing", severity, f"registration renewal is failing{left}", why,
                   "fix call-home, then: license smart renew id", when)


def registration_expiry_passed(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.REGISTRATION_EXPIRY)
    if (when is None or when > now or f.registration not in _REGISTERED
            or Attempt.REGISTRATION_RENEWAL in f.failures):  # registration_failing says it then
        return None
    return finding(f, "registration_expiry_passed", Severity.CRITICAL,
                   f"the registration expired {span(days_until(when, now))} ago ({when:%Y-%m-%d}) unless the device "
                   "renewed it since",
                   "The ID certificate is valid for a year and renewed every 6 months. "
                   + _since_capture(f, when, "it has fallen back to unregistered", "renewed its registration"),
                   f"capture `show license status` again; if it is no longer registered: {REGISTER}", when)


def registration_expiry_near(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.REGISTRATION_EXPIRY)
    if (when is None or when <= now or f.registration not in _REGISTERED
            or Attempt.REGISTRATION_RENEWAL in f.failures):
        return None
    days = days_until(when, now)
    severity = urgency(Deadline.REGISTRATION_EXPIRY, days)
    if severity is None:
        return None
    return finding(f, "registration_expiry_near", severity,
                   f"the registration expires in {span(days)} ({when:%Y-%m-%d})",
                   "The ID certificate is renewed every 6 months and valid for a year: this close to its end, "
                   "renewals have not succeeded. When it expires the device falls back to unregistered.",
                   "license smart renew id   (if that fails, fix call-home first: see the other findings)", when)


def attempt_overdue(f: Facts, now: datetime) -> Finding | None:
    overdue = {name: when for name, when in f.next_attempts.items()
               if name != Attempt.REPORT_PUSH and (f.captured or now) - when > OVERDUE_AFTER}
    if not overdue:
        return None
    name, when = min(overdue.items(), key=lambda item: item[1])
    return finding(f, "attempt_overdue", Severity.WARNING,
                   f"next {name.replace('_', ' ')} attempt was due {when:%Y-%m-%d}",
                   "The output was captured after that time and still names it: the attempt did not happen.",
                   "look at the call-home failures; retry with license smart renew id / license smart renew auth")


# --- Smart Licensing Using Policy: the report ACK ---------------------------------------

SYNC = "license smart sync all   (offline: license smart save usage ..., upload, import the ACK)"


def _report_ack(f: Facts, now: datetime) -> tuple[datetime, str] | None:
    """The ACK deadline and where it was read: a show output's `Next ACK deadline:`, else the
    newest REPORTING_REQUIRED syslog warning while the date it names is still ahead (an old
    warning says nothing of the reports sent since, so it never makes a deadline passed)."""
    when = f.deadlines.get(Deadline.REPORT_ACK)
    if when is not None:
        return when, ""
    if f.report_warning is not None and f.report_warning[1] > now:
        logged, due = f.report_warning
        return due, f", as the device's syslog warning of {logged:%Y-%m-%d} says"
    return None


def report_ack_overdue(f: Facts, now: datetime) -> Finding | None:
    """The ACK deadline ahead and within the table's warning window."""
    found = _report_ack(f, now)
    if found is None or found[0] <= now:
        return None
    when, source = found
    days = days_until(when, now)
    severity = urgency(Deadline.REPORT_ACK, days)
    if severity is None:
        return None
    return finding(f, "report_ack_overdue", severity,
                   f"usage report ACK deadline in {span(days)} ({when:%Y-%m-%d}){source}",
                   "Smart Licensing Using Policy needs Cisco to acknowledge a usage report by then.", SYNC, when)


def report_ack_passed(f: Facts, now: datetime) -> Finding | None:
    when = f.deadlines.get(Deadline.REPORT_ACK)
    if when is None or when > now:
        return None
    return finding(f, "report_ack_passed", Severity.CRITICAL,
                   f"the usage report ACK deadline passed {span(days_until(when, now))} ago ({when:%Y-%m-%d})",
                   "Smart Licensing Using Policy needs Cisco to acknowledge a usage report by then. "
                   + _since_capture(f, when, "the device is outside its reporting policy (features keep working; "
                                    "the device logs it until a report is acknowledged)",
                                    "had a report acknowledged"), SYNC, when)


def stale_capture(f: Facts, now: datetime) -> Finding | None:
    if f.captured is None or now - f.captured <= STALE_AFTER:
        return None
    return finding(f, "stale_capture", Severity.WARNING, f"newest output {captured(f)} ({f.captured:%H:%M %Z})",
                   "Deadlines and states shown may be out of date: the collection seems to have stopped.",
                   "check `lic-exporter collect` for this device (lic_exporter_collect_success and "
                   "lic_exporter_collect_failures_total, or the daemon's log), or the job that saves its outputs")
