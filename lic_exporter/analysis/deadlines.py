"""Days left until a deadline, and how urgent that is: the one computation behind the
`diagnose` severities, the table's colours and cisco_smartlic_deadline_days."""

from __future__ import annotations

from datetime import datetime, timedelta

from lic_exporter.model.vocabulary import ATTEMPT_OVERDUE_DAYS, CAPTURE_STALE_DAYS, DEADLINE_DAYS, Deadline, Severity

SECONDS_PER_DAY = 86400.0
# The vocabulary's freshness marks as durations, for the rules that compare times
# (diagnose's stale_capture and attempt_overdue, as LicSourceDataStale and LicAttemptOverdue).
STALE_AFTER = timedelta(days=CAPTURE_STALE_DAYS)
OVERDUE_AFTER = timedelta(days=ATTEMPT_OVERDUE_DAYS)


def days_until(when: datetime, now: datetime) -> float:
    """Days from `now` until `when`; negative once passed. Computed from the Unix times, as
    Prometheus does from the timestamp series (`(timestamp - time()) / 86400`)."""
    return (when.timestamp() - now.timestamp()) / SECONDS_PER_DAY


def urgency(deadline: Deadline, days_left: float) -> Severity | None:
    """CRITICAL or WARNING when the alert rules would say so for this deadline, else None."""
    return DEADLINE_DAYS[deadline].severity(days_left)
