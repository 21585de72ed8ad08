"""Scalar values as Cisco prints them -> Python values.

One place for dates, time zones, durations, counts and the words Cisco uses for "nothing",
so that no caller ever re-parses a string.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache

# Words that mean "no value" in Smart Agent output.
ABSENT_WORDS = frozenset({"", "none", "<none>", "<empty>", "not configured", "n/a", "-"})

# Abbreviations seen in Smart Agent and NX-OS clock output. Several are ambiguous; the choice
# made here is the one a Nexus operator most likely configured and is documented in the README:
#   IST = India (+05:30), not Irish or Israel time; CST = US Central (-06:00), not China;
#   BST = British Summer Time (+01:00), not Bangladesh.
# Cisco prints them in either case (`EDT`, `est`), so lookups are case-insensitive.
ZONE_OFFSETS_MINUTES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "AKST": -540, "AKDT": -480, "HST": -600,
    "BST": 60, "WEST": 60, "CET": 60, "CEST": 120, "MET": 60, "MEST": 120,
    "EET": 120, "EEST": 180, "MSK": 180,
    "IST": 330, "SGT": 480, "HKT": 480, "AWST": 480, "JST": 540, "KST": 540,
    "ACST": 570, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
}

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

# `clock timezone` takes a name of the operator's choosing (`pacific`, `Europe`), so any
# alphabetic word is read as a zone name; the bound keeps the match linear.
MAX_ZONE_NAME = 32
_ZONE = rf"(?P<zone>[A-Za-z]{{1,{MAX_ZONE_NAME}}}|[+-]\d{{2}}:?\d{{2}})"
_HMS = r"(?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d{1,6}))?"
_TIMESTAMP_FORMS = [
    # Jun 22 16:15:41 2022 UTC   (Smart Agent, classic and policy)
    re.compile(rf"(?:\w{{3}}\s+)?(?P<mon>\w{{3}})\s+(?P<d>\d{{1,2}})\s+{_HMS}\s+(?P<y>\d{{4}})(?:\s+{_ZONE})?$"),
    # Oct 09 2024 15:31:27 UTC   (NX-OS 10.x policy output)
    re.compile(rf"(?P<mon>\w{{3}})\s+(?P<d>\d{{1,2}})\s+(?P<y>\d{{4}})\s+{_HMS}(?:\s+{_ZONE})?$"),
    # 15:09:55.102 UTC Wed Nov 10 2021   (show clock, "Time source is NTP, ..." header)
    re.compile(rf"[*.]?{_HMS}\s+{_ZONE}\s+\w{{3}}\s+(?P<mon>\w{{3}})\s+(?P<d>\d{{1,2}})\s+(?P<y>\d{{4}})$"),
]


class BadValueError(ValueError):
    """A value Cisco printed that this tool cannot read; the message says which and why."""


class UnknownZoneError(BadValueError):
    """A time zone name neither the table nor --tz knows; reported once per file and zone."""

    def __init__(self, zone: str):
        super().__init__(f"unknown time zone {zone!r} (add it with --tz {zone}=+HH:MM)")
        self.zone = zone


# Bounds of every number read from an output: past them a value is junk, and turning it into
# a float (a metric sample) or a date would overflow.
MAX_VALUE_CHARS = 200  # a value longer than this is no licensing value: refused before any regex sees it
MAX_COUNT = 10**9
MAX_OFFSET_MINUTES = 14 * 60  # UTC-12:00 .. UTC+14:00 are the zones in use
MAX_SYSLOG_DEVICES = 20_000  # far above a real fleet; anyone who can send syslog could add hosts


def is_absent(text: str | None) -> bool:
    return not text or text.strip().lower() in ABSENT_WORDS


def clean(text: str | None) -> str | None:
    """The text itself, or None for Cisco's words for nothing."""
    if not text:
        return None
    stripped = text.strip()
    return None if stripped.lower() in ABSENT_WORDS else stripped


_FIXED = {name: timezone(timedelta(minutes=minutes)) for name, minutes in ZONE_OFFSETS_MINUTES.items()}


def offset_minutes(sign: str, hours: str, minutes: str) -> int:
    """`+`, `05`, `30` -> 330; a BadValueError past ±14:00 or for minutes over 59."""
    if not (hours.isdigit() and minutes.isdigit()) or int(minutes) > 59:
        raise BadValueError(f"not a UTC offset: {sign}{hours}:{minutes}")
    total = int(hours) * 60 + int(minutes)
    if total > MAX_OFFSET_MINUTES:
        raise BadValueError(f"UTC offset {sign}{hours}:{minutes} is beyond ±14:00")
    return -total if sign == "-" else total


def zone_offset(name: str, extra: dict[str, int] | None = None) -> timezone:
    """The fixed offset of a zone name or a numeric offset such as +05:30."""
    if name[:1] in ("+", "-"):
        digits = name[1:].replace(":", "")
        return timezone(timedelta(minutes=offset_minutes(name[0], digits[:2], digits[2:])))
    key = name.upper()
    if not extra and key in _FIXED:
        return _FIXED[key]
    offset = (extra or {}).get(key, ZONE_OFFSETS_MINUTES.get(key))
    if offset is None:
        raise UnknownZoneError(name)
    return timezone(timedelta(minutes=offset))


@lru_cache(maxsize=4096)
def _parse_timestamp_cached(text: str, default_zone: str | None) -> datetime:
    return _parse_timestamp(text, default_zone, None)


def parse_timestamp(
    text: str, default_zone: str | None = None, extra_zones: dict[str, int] | None = None
) -> datetime:
    """A timezone-aware datetime from any of Cisco's timestamp layouts.

    A timestamp without a zone is an error unless `default_zone` names one (syslog and
    `!Time:` lines print none; the contract reads those as UTC).
    """
    if extra_zones:
        return _parse_timestamp(text, default_zone, extra_zones)
    return _parse_timestamp_cached(text, default_zone)


def _parse_timestamp(text: str, default_zone: str | None, extra: dict[str, int] | None) -> datetime:
    if len(text) > MAX_VALUE_CHARS:
        raise BadValueError(f"not a timestamp: {len(text)} characters long")
    parts = text.split()
    if len(parts) == 5 and len(parts[2]) == 8 and not extra:  # Jun 22 16:15:41 2022 UTC: most of them
        quick = _quick(parts)
        if quick is not None:
            return quick
    stripped = " ".join(parts)
    for form in _TIMESTAMP_FORMS:
        match = form.match(stripped)
        if match:
            return _build(match, stripped, default_zone, extra)
    raise BadValueError(f"not a timestamp: {stripped!r}")


def _quick(parts: list[str]) -> datetime | None:
    """The Smart Agent's own layout without a regex; None hands over to the full parser."""
    month, day, clock, year, zone = parts
    tz = _FIXED.get(zone.upper())
    number = _MONTHS.get(month.lower())
    if tz is None or number is None or clock[2] != ":" or clock[5] != ":":
        return None
    try:
        return datetime(int(year), number, int(day), int(clock[:2]), int(clock[3:5]), int(clock[6:]), tzinfo=tz)
    except (ValueError, OverflowError):
        return None


def _build(match: re.Match[str], text: str, default_zone: str | None, extra: dict[str, int] | None) -> datetime:
    month = _MONTHS.get(match["mon"].lower())
    if month is None:
        raise BadValueError(f"not a month in {text!r}")
    zone_name = match["zone"] or default_zone
    if zone_name is None:
        raise BadValueError(f"timestamp without a time zone: {text!r}")
    micro = int((match["frac"] or "0").ljust(6, "0"))
    tz = zone_offset(zone_name, extra)
    try:
        return datetime(
            int(match["y"]), month, int(match["d"]), int(match["h"]), int(match["mi"]),
            int(match["s"]), micro, tzinfo=tz,
        )
    except (ValueError, OverflowError) as exc:  # e.g. Feb 30, a day of 20 digits
        raise BadValueError(f"impossible date {text!r}: {exc}") from None


# Digits bounded and not preceded by a digit: a run of digits is tried once, not from each of
# its positions (linear time on a line of 20,000 digits).
_DURATION_PART = re.compile(
    r"(?<!\d)(\d{1,12})\s*(d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)\b", re.IGNORECASE)
_MAX_DURATION_SECONDS = 100 * 365 * 86400  # a century: beyond it a date would overflow
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """`41 days, 6 hours, 12 minutes, 5 seconds`, `30  days`, `Grace 10D 1H` -> timedelta.

    `0 (no reporting)` and a bare number are read as days, as the Smart Agent prints intervals.
    """
    stripped = text.strip()
    if len(stripped) > MAX_VALUE_CHARS:
        raise BadValueError(f"not a duration: {len(stripped)} characters long")
    bare = re.match(r"(\d{1,12})(?:\s*\(.*\))?$", stripped)
    if bare:
        seconds = int(bare.group(1)) * 86400
    else:
        parts = _DURATION_PART.findall(stripped)
        if not parts:
            raise BadValueError(f"not a duration: {stripped!r}")
        seconds = sum(int(n) * _UNIT_SECONDS[unit[0].lower()] for n, unit in parts)
    if seconds > _MAX_DURATION_SECONDS:
        raise BadValueError(f"duration out of range: {stripped!r}")
    return timedelta(seconds=seconds)


def parse_count(text: str) -> int | None:
    """A licence count; `-` and friends mean none is stated."""
    if is_absent(text):
        return None
    digits = text.strip().replace(",", "")
    if not digits.isdigit() or not digits.isascii():
        raise BadValueError(f"not a count: {text.strip()[:40]!r}")
    if len(digits) > 10 or int(digits) > MAX_COUNT:
        raise BadValueError(f"count out of range: {digits[:20]}{'...' if len(digits) > 20 else ''}")
    return int(digits)


def parse_bool(text: str) -> bool | None:
    word = text.strip().lower().split(" ")[0] if text else ""
    if word in {"yes", "true", "enabled", "enable", "allowed", "on"}:
        return True
    if word in {"no", "false", "disabled", "disable", "not", "off"}:
        return False
    return None
