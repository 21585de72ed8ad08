"""Cisco's scalar values: timestamps in every layout, zones, durations, counts, nothing-words."""

from datetime import UTC, datetime, timedelta

import pytest

from lic_exporter.sources.values import BadValueError, clean, parse_count, parse_duration, parse_timestamp

UTC = UTC


@pytest.mark.parametrize(("text", "expected"), [
    ("Jun 22 16:15:41 2022 UTC", datetime(2022, 6, 22, 16, 15, 41, tzinfo=UTC)),
    ("Oct 09 2024 15:31:27 UTC", datetime(2024, 10, 9, 15, 31, 27, tzinfo=UTC)),
    ("15:09:55.102 UTC Wed Nov 10 2021", datetime(2021, 11, 10, 15, 9, 55, 102000, tzinfo=UTC)),
    (".05:30:30.132 UTC Fri Oct 22 2021", datetime(2021, 10, 22, 5, 30, 30, 132000, tzinfo=UTC)),
    ("Wed Jun 22 16:16:28 2022 UTC", datetime(2022, 6, 22, 16, 16, 28, tzinfo=UTC)),
])
def test_timestamp_layouts(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(("zone", "hours"), [
    ("EDT", -4), ("est", -5), ("CET", 1), ("CEST", 2), ("IST", 5.5), ("PDT", -7), ("JST", 9), ("+05:30", 5.5),
])
def test_zone_abbreviations(zone: str, hours: float) -> None:
    value = parse_timestamp(f"Aug 03 09:03:25 2024 {zone}")
    assert value.utcoffset() == timedelta(hours=hours)


def test_unknown_zone_is_an_error_that_names_the_way_out() -> None:
    with pytest.raises(BadValueError, match="--tz XYZ="):
        parse_timestamp("Aug 03 09:03:25 2024 XYZ")


def test_extra_zone_from_the_command_line() -> None:
    value = parse_timestamp("Aug 03 09:03:25 2024 XYZ", extra_zones={"XYZ": 180})
    assert value.utcoffset() == timedelta(hours=3)


def test_timestamp_without_zone_needs_a_default() -> None:
    with pytest.raises(BadValueError, match="without a time zone"):
        parse_timestamp("Wed Jun 22 16:16:28 2022")
    assert parse_timestamp("Wed Jun 22 16:16:28 2022", default_zone="UTC").tzinfo is not None


@pytest.mark.parametrize("text", ["Feb 30 10:00:00 2024 UTC", "Foo 10 10:00:00 2024 UTC", "Jun 22 16:15", "soon"])
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(BadValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("41 days, 6 hours, 12 minutes, 5 seconds", timedelta(days=41, hours=6, minutes=12, seconds=5)),
    ("30  days", timedelta(days=30)),
    ("0 (no reporting)", timedelta(0)),
    ("87 days 1 hr 41 min 0 sec", timedelta(days=87, hours=1, minutes=41)),
    (" 10D 1H", timedelta(days=10, hours=1)),
])
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_bad_duration() -> None:
    with pytest.raises(BadValueError):
        parse_duration("a while")


@pytest.mark.parametrize("word", ["None", "<none>", "<empty>", "Not Configured", "", "  "])
def test_words_for_nothing(word: str) -> None:
    assert clean(word) is None


def test_counts() -> None:
    assert parse_count("12") == 12
    assert parse_count("-") is None
    with pytest.raises(BadValueError):
        parse_count("many")
