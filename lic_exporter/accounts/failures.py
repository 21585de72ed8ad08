"""A failed poll of an account source: `AccountsError`, carrying one of the contract's failure
reasons (label `reason` of lic_exporter_accounts_poll_failures_total) and a message for people.

A message is built from status codes, key names and the answer's own error words after every
secret of the source has been cut out of them (`safe_words`), never from a token or a secret.
"""

from __future__ import annotations

from collections.abc import Iterable

from lic_exporter.model.vocabulary import ACCOUNTS_REASONS
from lic_exporter.sources.printable import printable
from lic_exporter.sources.privacy import without_values

REASONS = ACCOUNTS_REASONS  # the contract's list; its one home is the vocabulary
# A 403: Cisco approves API access apart from creating the API client, and that takes a while;
# or the client's user has no role on the Smart Account. Said in the log and by `diagnose`.
FORBIDDEN_EXPLANATION = "API access not yet approved at Cisco, or no role on the account"
MAX_WORDS = 160  # of an answer's error text quoted in a message


class AccountsError(Exception):
    """A failed request or poll: `reason` is one of REASONS, `message` is for people; `status`
    the HTTP status that failed it, if one did."""

    def __init__(self, reason: str, message: str, status: int | None = None):
        if reason not in REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = status


def safe_words(text: object, secrets: Iterable[str | None]) -> str:
    """Words from an answer (an `error_description`, a `statusMessage`), fit for a message: the
    source's secrets and tokens cut out, on one printable line, short."""
    return printable(without_values(str(text), secrets), MAX_WORDS)
