"""A failed collection: `CollectError`, carrying one of the contract's failure reasons (the
`reason` label of lic_exporter_collect_failures_total) and a message for people.

No message is ever built from a password, a passphrase or a key file's path.
"""

from __future__ import annotations

from lic_exporter.model.vocabulary import COLLECT_REASONS

REASONS = COLLECT_REASONS


class CollectError(Exception):
    """A failed collection: `reason` is one of REASONS, `message` is for people."""

    def __init__(self, reason: str, message: str):
        if reason not in REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
