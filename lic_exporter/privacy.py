"""Keep secrets and personal data out of anything this tool prints, logs or exports.

Records never hold contact values or credentials in the first place (templates capture only
keywords); this is the last line of defence for free text such as error messages.
"""

from __future__ import annotations

import re

_SECRETS = (
    # license smart register idtoken <token> [force]
    (re.compile(r"(idtoken\s+)\S+", re.IGNORECASE), r"\1<redacted>"),
    # user:password@host inside URLs
    (re.compile(r"(://)[^/@\s]+@"), r"\1<redacted>@"),
    # password <secret>, username <name> (call-home / proxy configuration)
    (re.compile(r"\b(password|username|user)(\s*[:=]?\s+)\S+", re.IGNORECASE), r"\1\2<redacted>"),
    # e-mail addresses (call-home contacts)
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<redacted-email>"),
)


_TRIGGERS = ("@", "idtoken", "pass", "user")  # every secret pattern needs one of these


def redact(text: str) -> str:
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text  # the common case: nothing to look for, no regex run
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def strip_userinfo(url: str) -> str:
    """https://user:pw@host/path -> https://host/path"""
    return re.sub(r"(://)[^/@\s]+@", r"\1", url)
