"""Failure text -> the contract's `reason` value. One table, used for syslog messages and for
the `Failure reason:` lines of `show license status` alike (README, "Failure causes").

Rows are tried in order; the first whose words all occur in the text (case-insensitive) wins.
Specific causes come before the generic send failure, because Cisco wraps a timeout or a DNS
failure in a "Fail to send out ..." message.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lic_exporter.model.vocabulary import Reason

REASON_TABLE: tuple[tuple[tuple[str, ...], Reason], ...] = (
    # "Unable to resolve server hostname/domain name"
    (("resolve",), Reason.DNS),
    (("dns",), Reason.DNS),
    (("name server",), Reason.DNS),
    # "smart license transport is disabled in call-home"
    (("transport is disabled",), Reason.TRANSPORT_DISABLED),
    (("transport disabled",), Reason.TRANSPORT_DISABLED),
    # "Cannot establish secure connection because server TLS cert cannot be validated", SSL
    # handshake failures, the retired QuoVadis root CA, trustpool problems
    (("tls",), Reason.TLS),
    (("ssl",), Reason.TLS),
    (("certificate",), Reason.TLS),
    (("cert ",), Reason.TLS),
    (("trustpool",), Reason.TLS),
    (("quovadis",), Reason.TLS),
    (("proxy",), Reason.PROXY),
    # "(ERR 207 : Connection time out)", "timed out"
    (("time out",), Reason.TIMEOUT),
    (("timed out",), Reason.TIMEOUT),
    (("timeout",), Reason.TIMEOUT),
    # "Error parsing response data from SCH server" (plain HTTP: use HTTPS),
    # "Received empty response from server"
    (("response",), Reason.RESPONSE),
    # "Fail to send out Call Home HTTP message", "Communication message send error",
    # "Fail to send out Smart Licensing message to: <url> (ERR 205 : Request Aborted)"
    (("fail", "send"), Reason.HTTP_SEND),
    (("send error",), Reason.HTTP_SEND),
    (("request aborted",), Reason.HTTP_SEND),
)


_URL = re.compile(r"\S+://\S+")
CLASSIFY_CHARS = 1000  # how much of a failure text is searched for its cause


@lru_cache(maxsize=2048)
def classify(text: str | None) -> Reason:
    """The reason class of a failure text; `other` when no row fits (or there is no text)."""
    # Capped: causes are stated early, and the URL pattern must not meet a megabyte of junk.
    lowered = _URL.sub("", (text or "")[:CLASSIFY_CHARS]).lower()  # a host such as proxy.example.net is no cause
    for words, reason in REASON_TABLE:
        if all(word in lowered for word in words):
            return reason
    return Reason.OTHER
