"""Days left until a deadline, and how urgent that is: the one computation behind the
`diagnose` severities, the table's colours and cisco_smartlic_deadline_days."""

from __future__ import annotations

from datetime import datetime

from lic_exporter.model.vocabulary import DEADLINE_DAYS, Deadline, Severity

SECONDS_PER_DAY = 86400.0


def days_until(when: datetime, now: datetime) -> float:
    """Days from `now` until `when`; negative once passed. Computed from the Unix times, as
    Prometheus does from the timestamp series (`(timestamp - time()) / 86400`)."""
    return (when.timestamp() - now.timestamp()) / SECONDS_PER_DAY


def urgency(deadline: Deadline, days_left: float) -> Severity | None:
    """CRITICAL or WARNING when the alert rules would say so for this deadline, else None."""
    return DEADLINE_DAYS[deadline].severity(days_left)
