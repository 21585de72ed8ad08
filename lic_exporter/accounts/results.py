"""What a poll reports, as plain data: one poll of one source (`PollResult`), and what the
metrics say of a source's polls (`AccountStatus`: lic_exporter_accounts_poll_success,
_last_success_timestamp_seconds, _poll_failures_total{reason})."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PollResult:
    """One poll of one source."""

    source: str
    ok: bool
    reason: str | None  # the contract's failure reason; None on success
    message: str  # for people; never a token or a secret
    when: float  # unix time the poll started
    seconds: float
    requests: int  # HTTP requests sent, token requests and retries included
    path: Path | None = None  # the snapshot written (success only)

    def line(self) -> str:
        """`accounts`'s stdout line: source, result, reason, seconds, requests, file."""
        return (f"{self.source} {'ok' if self.ok else 'failed'} {self.reason or '-'} {self.seconds:.2f} "
                f"{self.requests} {self.path if self.path else '-'}")


@dataclass
class AccountStatus:
    """What the metrics say of one source's polls."""

    source: str
    success: bool | None = None
    last_success: float | None = None  # unix time a poll last succeeded (its end)
    next_due: float | None = None
    interval: float | None = None  # the poll interval it is polled at (lic_exporter_accounts_poll_interval_seconds)
    failures: Counter[str] = field(default_factory=Counter)
    message: str = ""  # of the last poll
