"""Keep secrets and personal data out of anything this tool prints, logs or exports.

Records never hold contact values or credentials in the first place: the templates capture
only keywords for those lines. Free text that must be kept (a syslog message, a `Failure
reason:`, a value quoted in an error) goes through `scrub`, which does not trust keywords
alone, since a damaged file can damage the keyword (`i%dtoken`, `phone-cont0ct`):

- terminal controls and escape sequences are removed first (they can split a keyword);
- a word that holds, or is one typo away from, a secret's keyword (`idtoken`, `password`,
  `email-contact`, `phone-contact`, `streetaddress`, `username`, `secret`) ends the text:
  it and everything after it become `<redacted>` (the value follows its keyword);
- whatever the keywords, words shaped like secrets are replaced: anything holding `@`
  (e-mail addresses, `user:password@`), a URL whose host part is not a plain host (only
  scheme, host, port and path of a URL are kept), long mixed-case token-like strings (ID
  tokens), and
  digit groups the length of a phone number.

So one damaged keyword never frees its value: the value's shape is caught, and a damaged
value is still cut off by its keyword.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache

REDACTED = "<redacted>"

# Anything that may hide a secret; a text without any of these is returned unchanged (the
# common case costs one regex search). Half-words catch a keyword damaged in its other half.
_HALF_WORDS = ("idto", "oken", "pass", "word", "secr", "cret", "mail", "tact", "phon", "hone", "stre", "reet",
               "user", "ssw")
_SEVEN_DIGITS = re.compile(r"\d(?:[\s()+./-]{0,3}\d){6}")
_LONG_RUN = re.compile(r"[A-Za-z0-9+/=%_-]{24}")
# Terminal escape sequences (CSI, OSC, two-character) and the other control characters.
_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)?|[@-_])?")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_NON_LETTERS = re.compile(r"[^a-z]")
# Not `contact` alone: Cisco's own messages say "Contact TAC".
_STEMS = ("token", "passw", "secret", "phone", "mail", "street", "user", "credential")
_KEYWORDS = ("idtoken", "password", "passwd", "secret", "emailcontact", "phonecontact", "streetaddress", "username")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]{0,15}://)(?P<authority>[^/?#]*)(?P<path>[^?#]*)")
_PLAIN_HOST = re.compile(r"^(?:[\w-]{1,63}(?:\.[\w-]{1,63}){0,10}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/=%_-]{24,}")
_NUMBERISH = re.compile(r"[0-9+()./-]+")  # and a digit: checked apart (one class, linear)
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_EDGE_PUNCTUATION = "()[]{}<>,;.'\""


def clean_controls(text: str) -> str:
    """`text` without terminal escapes and control characters (tabs and line ends become
    spaces): safe for a label, a JSON string or a terminal."""
    if text.isprintable():
        return text
    text = _ESCAPE.sub("", text).replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROL.sub("", text)


@lru_cache(maxsize=8192)  # a fleet repeats its states, accounts and reasons
def scrub(text: str) -> str:
    """`text` with every secret-shaped part replaced by <redacted> (module docstring)."""
    text = clean_controls(text)
    if not _may_hold_secret(text):
        return text
    kept: list[str] = []
    for word in text.split(" "):
        word = _scrub_word(word)
        if _is_keyword(word):
            kept.append(REDACTED)
            break
        kept.append(word)
    return " ".join(_numbers_run_redacted(kept))


def _may_hold_secret(text: str) -> bool:
    if "@" in text or "://" in text:
        return True
    lowered = text.lower()
    if any(half in lowered for half in _HALF_WORDS):
        return True
    return (len(text) >= 7 and _SEVEN_DIGITS.search(text) is not None) or (
        len(text) >= 24 and _LONG_RUN.search(text) is not None)


def _is_keyword(word: str) -> bool:
    letters = _NON_LETTERS.sub("", word.lower())
    if len(letters) < 4:
        return False
    return any(stem in letters for stem in _STEMS) or any(_one_edit(letters, key) for key in _KEYWORDS)


def _one_edit(word: str, key: str) -> bool:
    """Whether `word` is `key` with at most one character replaced, added or removed."""
    if abs(len(word) - len(key)) > 1:
        return False
    if len(word) == len(key):
        return sum(a != b for a, b in zip(word, key, strict=True)) <= 1
    short, long = (word, key) if len(word) < len(key) else (key, word)
    return any(long[:cut] + long[cut + 1:] == short for cut in range(len(long)))


def _scrub_word(word: str) -> str:
    core = word.strip(_EDGE_PUNCTUATION)
    if not core:
        return word
    if "://" in core:
        return word.replace(core, safe_url(core))
    if "@" in core or _is_token_like(core):
        return REDACTED
    return word


def _is_token_like(text: str) -> bool:
    """An ID token's shape: long, base64-like, mixed case with digits (licence tags are upper
    case, UUIDs lower case)."""
    return (_TOKEN_LIKE.fullmatch(text) is not None and not text.isupper() and not text.islower()
            and any(ch.isdigit() for ch in text))


def _numbers_run_redacted(words: list[str]) -> list[str]:
    """Runs of number-like words holding 7 digits or more (`+1 408 555 0173`, `4085550173`)
    become one <redacted>; addresses, dates and times stay."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        digits = sum(ch.isdigit() for item in run for ch in item)
        if digits >= 7:
            out.append(REDACTED)
        else:
            out.extend(run)
        run.clear()

    for word in words:
        core = word.strip(_EDGE_PUNCTUATION)
        if core and _NUMBERISH.fullmatch(core) and any(ch.isdigit() for ch in core) and not _is_address_or_date(core):
            run.append(word)
            continue
        flush()
        out.append(word)
    flush()
    return out


def _is_address_or_date(text: str) -> bool:
    if _DATE.fullmatch(text):
        return True
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def safe_url(url: str) -> str:
    """A URL reduced to what may be shown: scheme, host, port and path. User information
    (`user:password@`) and the query are dropped; an authority that is not a plain host
    (a damaged `user:password@host`) is redacted whole."""
    match = _URL.match(url)
    if match is None:
        return REDACTED if "@" in url else url
    host = match["authority"].rpartition("@")[2]
    if not _PLAIN_HOST.match(host) or "@" in match["path"]:  # `user/x:pw@host`: a damaged authority
        return f"{match['scheme']}{REDACTED}"
    return f"{match['scheme']}{host}{match['path']}"


# Lines of a saved session that hold a contact or a credential after their keyword (call-home
# configuration and `show callhome`, the Smart Licensing proxy): the keyword stays, so the
# templates still see whether each is set, the value goes.
_SECRET_LINE = re.compile(
    r"^(?P<key>\s*(?:email-contact|phone-contact|streetaddress|contract-id|customer-id|site-id)\s+"
    r"|\s*(?:contact person(?:'s)? (?:name\(sysContact\)|email|phone number)|street addr)\s*:"
    r"|\s*(?:Username|Password):)\s*\S.*$", re.IGNORECASE)


# Configuration that carries a secret after its keywords on NX-OS and IOS-XE, wherever in a line
# it is printed (`show running-config`, a rejected command quoted back, a log line): (a word the
# line must hold, lower-cased; the keywords, kept; the value, replaced). A value is one word or
# a quoted string. A type number (`7`, `5`, `9`) stays: it says how the value was stored.
# Every gap is bounded, so that a 100 kB line of repeated keywords stays linear.
_VALUE = r'(?:"[^"\n]{0,256}"?|\S+)'
_UNTYPED = r"(?!\d{1,2}\s)"  # the value, not a type number followed by the value
_CONFIG_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((hint, re.compile(rf"(?P<key>{keys}){_VALUE}", re.I))
                                                                 for hint, keys in (
    # `password 7 ...`, `secret 5 ...`, `key 7 ...`, `key-string 7 ...`, `message-digest-key 1 md5 ...`
    ("", r"\b(?:password|secret|key|key-string)\s+\d{1,2}\s+(?:md5\s+(?:\d\s+)?)?"),
    ("username", rf"\busername\s+\S{{1,64}}\s.{{0,200}}?\b(?:password|secret)\s+{_UNTYPED}"),
    ("enable", rf"\benable\s+(?:password|secret)\s+(?:level\s+\d{{1,2}}\s+)?{_UNTYPED}"),
    ("community", r"\bsnmp-server\s+community\s+"),
    ("snmp-server", r"\bsnmp-server\s+host\s+\S+\s+(?:traps|informs)\s+version\s+(?:1|2c|3\s+\w+)\s+"),
    ("snmp-server", r"(?<=\s)(?:auth|priv)(?:\s+(?:md5|sha[\w-]*|aes[\w-]*|3?des[\w-]*))?(?:\s+(?:128|192|256))?\s+"
                    r"(?!(?:priv|localizedkey|engineid|access)(?:\s|$))"),
    ("key", rf"\b(?:tacacs-server|radius-server|isakmp|server-private)\b.{{0,200}}?\bkey\s+{_UNTYPED}"),
    # `key ...` in a `tacacs server` / `radius server` block (or such a line quoted back); not a key
    # chain's name or a key's number
    ("key", rf"(?:^|(?<=['\"]))\s*key\s+{_UNTYPED}(?!\d+\s*(?:$|['\"]))(?!chain\s)"),
    # IOS-XE: `password ...` under `line vty` / `line con`, and a BGP neighbor's password
    ("password", rf"(?:(?:^|(?<=['\"]))\s*|\bneighbor\s+\S{{1,64}}\s+)password\s+{_UNTYPED}"),
    ("key", rf"\b(?:key-string|authentication-key)\s+{_UNTYPED}"),
))


def redact_config_secrets(line: str) -> str:
    """One line with the value of every secret-carrying configuration (`username ... password`,
    `enable secret`, `snmp-server community`, `snmp-server user ... auth ... priv`, TACACS and
    RADIUS keys, type-7 passwords and keys, key-chain keys, IOS-XE line and BGP neighbor
    passwords) replaced by <redacted>."""
    lowered = line.lower()
    if not any(hint in lowered for hint in ("pass", "secret", "key", "community", "snmp-server")):
        return line
    for hint, pattern in _CONFIG_SECRETS:
        if hint in lowered:
            line = pattern.sub(lambda match: match["key"] + REDACTED, line)
    return line


def without_values(text: str, values: Iterable[str | None]) -> str:
    """`text` with every occurrence of the given secrets (the collector's own password or
    passphrase) replaced by <redacted>; values shorter than 3 characters are not searched."""
    for value in values:
        if value and len(value) >= 3 and value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_session(text: str) -> str:
    """A saved session with every contact and credential value replaced by <redacted>, and
    every URL reduced to what may be shown (a transcript may hold what the switch printed).
    Line for line: a transcript's line numbers stay as they were."""
    lines = []
    for line in text.split("\n"):
        match = _SECRET_LINE.match(line)
        if match:
            line = f"{match['key']}{'' if match['key'].endswith((' ', ':')) else ' '}{REDACTED}"
        elif "://" in line or "@" in line:
            line = " ".join(safe_url(word) if "://" in word else (REDACTED if "@" in word else word)
                            for word in line.split(" "))
        lines.append(redact_config_secrets(line))
    return "\n".join(lines)


def safe_host(text: str) -> str:
    """A host name or address (a proxy's `Address:`), with any user information dropped."""
    if "://" in text:
        return safe_url(text)
    host = text.rpartition("@")[2]
    return host if _PLAIN_HOST.match(host) else REDACTED
