"""Value rules shared by every configuration section (collection targets, account sources): text,
durations and how they are worded, each failing with a short message of its own that never
quotes the value back (it may be a secret); the section's loader puts the key path in front."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NoReturn

from pydantic_core import PydanticCustomError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def fail(kind: str, message: str) -> NoReturn:
    """Refuse a value: `message` is what the operator reads after the key path."""
    raise PydanticCustomError(kind, message)


def text(value: Any) -> str:
    """Non-empty text (a bare number or true/false in YAML is not text: quote it)."""
    if isinstance(value, bool | int | float):
        fail("text", "expected text (put it in quotes)")
    if not isinstance(value, str):
        fail("text", "expected text")
    if not value.strip():
        fail("text", "must not be empty")
    return value


def duration_seconds(value: Any) -> float | None:
    """A duration in seconds: "90s", "15m", "6h", "1d", "1h30m" or a number of seconds; None if
    it is none of these."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if abs(value) < 1e300 else math.inf
    elif not isinstance(value, str):
        return None
    elif _NUMBER.fullmatch(words := value.strip().lower()):
        seconds = float(words)
    elif _DURATION.fullmatch(words):
        seconds = sum(float(number) * _UNITS[unit] for number, unit in _DURATION_PART.findall(words))
    else:
        return None
    return seconds if math.isfinite(seconds) else None  # .nan, .inf and 400-digit numbers are no duration


def human_duration(duration: float) -> str:
    """A number of seconds the way the configuration writes it: 90s, 15m, 6h, 1d."""
    for unit in ("d", "h", "m"):
        if duration >= _UNITS[unit] and duration % _UNITS[unit] == 0:
            return f"{int(duration // _UNITS[unit])}{unit}"
    return f"{duration:g}s"


def duration(minimum: float, maximum: float) -> Callable[[Any], float]:
    """A rule for a duration longer than 0, within [minimum, maximum]."""
    def check(value: Any) -> float:
        seconds = duration_seconds(value)
        if seconds is None:
            fail("duration", "not a duration (e.g. 90s, 15m, 6h, 1d or a number of seconds)")
        elif seconds <= 0:
            fail("duration", "must be longer than 0s")
        elif seconds < minimum:
            fail("duration", f"at least {human_duration(minimum)}")
        elif seconds > maximum:
            fail("duration", f"at most {human_duration(maximum)}")
        return seconds
    return check
