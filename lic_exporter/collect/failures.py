"""A failed collection: `CollectError`, carrying one of the failure reasons (the `reason` label
of lic_exporter_collect_failures_total) and a message for people; and `device_text`, the one way
a device's words (a rejected-command line, a session-limit notice) get into such a message.

No message is ever built from a password, a passphrase or a key file's path.
"""

from __future__ import annotations

from lic_exporter.model.vocabulary import COLLECT_REASONS
from lic_exporter.sources.printable import printable
from lic_exporter.sources.privacy import redact_config_secrets
from lic_exporter.sources.terminal import ESCAPE

REASONS = COLLECT_REASONS


class CollectError(Exception):
    """A failed collection: `reason` is one of REASONS, `message` is for people."""

    def __init__(self, reason: str, message: str):
        if reason not in REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def device_text(text: str) -> str:
    """What a device printed, fit for a failure message: secret-carrying configuration redacted
    (a rejected line may quote `snmp-server community ...`), then on one printable line with its
    escapes shown. Where escape sequences split a secret's keywords, the text goes without them."""
    redacted = redact_config_secrets(text)
    if "\x1b" in text:
        plain = ESCAPE.sub("", text)
        if redact_config_secrets(plain) != plain:
            redacted = redact_config_secrets(plain)
    return printable(redacted)
