"""What a collection reports, as plain data: the result of one collection of one device
(`CollectResult`) and what the metrics say of a device's collections (`DeviceStatus`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CollectResult:
    """One collection of one device."""

    device: str
    ok: bool
    reason: str | None  # the contract's failure reason; None on success
    message: str  # for people; never a secret
    started: float  # unix time
    seconds: float
    path: Path | None = None  # the transcript written (success only)

    def line(self) -> str:
        """`collect`'s stdout line: device, result, reason, seconds, file."""
        return (f"{self.device} {'ok' if self.ok else 'failed'} {self.reason or '-'} {self.seconds:.2f} "
                f"{self.path if self.path else '-'}")


@dataclass
class DeviceStatus:
    """What the metrics say of one device's collection (lic_exporter_collect_*)."""

    device: str
    success: bool | None = None
    seconds: float | None = None
    last_success: float | None = None
    next_due: float | None = None
    interval: float | None = None
    failures: Counter[str] = field(default_factory=Counter)
    auth_failures_in_a_row: int = 0
