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

_ZONE = r"(?P<zone>[A-Za-z]{1,5}|[+-]\d{2}:?\d{2})"
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


def is_absent(text: str | None) -> bool:
    return not text or text.strip().lower() in ABSENT_WORDS


def clean(text: str | None) -> str | None:
    """The text itself, or None for Cisco's words for nothing."""
    if not text:
        return None
    stripped = text.strip()
    return None if stripped.lower() in ABSENT_WORDS else stripped


_FIXED = {name: timezone(timedelta(minutes=minutes)) for name, minutes in ZONE_OFFSETS_MINUTES.items()}


def zone_offset(name: str, extra: dict[str, int] | None = None) -> timezone:
    """The fixed offset of a zone abbreviation or a numeric offset such as +05:30."""
    if name[0] in "+-":
        digits = name[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:])
        return timezone(timedelta(minutes=minutes if name[0] == "+" else -minutes))
    key = name.upper()
    if not extra and key in _FIXED:
        return _FIXED[key]
    offset = (extra or {}).get(key, ZONE_OFFSETS_MINUTES.get(key))
    if offset is None:
        raise BadValueError(f"unknown time zone {name!r} (add it with --tz {key}=+HH:MM)")
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
    except ValueError:
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
    except ValueError as exc:  # e.g. Feb 30
        raise BadValueError(f"impossible date {text!r}: {exc}") from None


_DURATION_PART = re.compile(
    r"(\d+)\s*(d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)\b", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """`41 days, 6 hours, 12 minutes, 5 seconds`, `30  days`, `Grace 10D 1H` -> timedelta.

    `0 (no reporting)` and a bare number are read as days, as the Smart Agent prints intervals.
    """
    stripped = text.strip()
    bare = re.match(r"(\d+)(?:\s*\(.*\))?$", stripped)
    if bare:
        try:
            return timedelta(days=int(bare.group(1)))
        except OverflowError:
            raise BadValueError(f"duration out of range: {stripped!r}") from None
    parts = _DURATION_PART.findall(stripped)
    if not parts:
        raise BadValueError(f"not a duration: {stripped!r}")
    seconds = sum(int(n) * _UNIT_SECONDS[unit[0].lower()] for n, unit in parts)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise BadValueError(f"duration out of range: {stripped!r}") from None


def parse_count(text: str) -> int | None:
    """A licence count; `-` and friends mean none is stated."""
    if is_absent(text):
        return None
    try:
        return int(text.strip().replace(",", ""))
    except ValueError:
        raise BadValueError(f"not a count: {text.strip()!r}") from None


def parse_bool(text: str) -> bool | None:
    word = text.strip().lower().split(" ")[0] if text else ""
    if word in {"yes", "true", "enabled", "enable", "allowed", "on"}:
        return True
    if word in {"no", "false", "disabled", "disable", "not", "off"}:
        return False
    return None
