"""Keep secrets and personal data out of anything this tool prints, logs or exports.

Records never hold contact values or credentials in the first place (templates capture only
keywords); this is the last line of defence for free text such as error messages.
"""

from __future__ import annotations

import re

_SECRETS = (
    # license smart register idtoken <token> [force]; idtoken=..., idtoken: ...
    (re.compile(r"(idtoken\s*[:=]?\s*)[^\s,;]+", re.IGNORECASE), r"\1<redacted>"),
    # user:password@host inside URLs
    (re.compile(r"(://)[^/@\s]+@"), r"\1<redacted>@"),
    # password <secret>, passwd=..., username <name> (call-home / proxy configuration)
    (re.compile(r"\b(password|passwd|pwd|username|user)(\s*[:=]\s*|\s+)[^\s,;]+", re.IGNORECASE),
     r"\1\2<redacted>"),
    # call-home contact lines echoed in a log: everything after the keyword
    (re.compile(r"\b(phone-contact|streetaddress|street-address|email-contact|contact person's \w+( \w+)?)"
                r"(\s*:?\s*)\S.*?(?=$|\s;|;)", re.IGNORECASE), r"\1\3<redacted>"),
    # e-mail addresses (call-home contacts)
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<redacted-email>"),
)


_TRIGGERS = ("@", "idtoken", "pass", "pwd", "user", "contact", "street")  # every pattern needs one


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
