"""ISO-8601 durations behave like Java's Duration.parse / Duration.toString."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perch.durations import format_duration, parse_duration
from perch.errors import InvalidDuration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT5M", timedelta(minutes=5)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P2D", timedelta(days=2)),
        ("-PT1M", timedelta(minutes=-1)),
        ("PT-1M", timedelta(minutes=-1)),
        ("+PT1M", timedelta(minutes=1)),
        ("PT-0.5S", timedelta(milliseconds=-500)),
        ("PT-1.5S", timedelta(seconds=-1.5)),
        ("-PT-1M", timedelta(minutes=1)),
        ("PT1H-30M", timedelta(minutes=30)),
        ("-P1DT-1H", timedelta(hours=-23)),
        ("pt5m", timedelta(minutes=5)),
        ("PT1,25S", timedelta(seconds=1.25)),
        ("PT1.S", timedelta(seconds=1)),
        ("PT0.123456S", timedelta(microseconds=123456)),
        ("PT0.123456000S", timedelta(microseconds=123456)),
        ("PT0S", timedelta(0)),
        ("PT36H", timedelta(hours=36)),
        ("PT5M6S", timedelta(minutes=5, seconds=6)),
    ],
)
def test_parse_accepts_what_java_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "P1DT",
        "5M",
        "PT5",
        "PT5X",
        "P1W",
        "P1Y",
        "P1M",
        "P1Y2M3D",
        "PT1.5M",
        "PT0.0000001S",
        " PT5M",
        "PT5M ",
        "PT1H1H",
        "P999999999999999999D",
    ],
)
def test_parse_rejects_what_java_rejects_or_timedelta_cannot_hold(text: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(text)
    assert f"`{text}`" in str(caught.value)


def test_weeks_are_refused_with_a_hint() -> None:
    with pytest.raises(InvalidDuration, match="use days"):
        parse_duration("P2W")


def test_parse_rejects_a_non_string() -> None:
    with pytest.raises(InvalidDuration):
        parse_duration(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(minutes=5), "PT5M"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(days=1), "PT24H"),
        (timedelta(days=1, hours=2), "PT26H"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(milliseconds=500), "PT0.5S"),
        (timedelta(microseconds=1), "PT0.000001S"),
        (timedelta(minutes=-1), "PT-1M"),
        (timedelta(seconds=-90), "PT-1M-30S"),
        (timedelta(milliseconds=-500), "PT-0.5S"),
        (timedelta(seconds=-1.5), "PT-1.5S"),
        (timedelta(hours=1, seconds=1), "PT1H1S"),
        (timedelta(hours=-1, seconds=-0.25), "PT-1H-0.25S"),
    ],
)
def test_format_writes_what_java_writes(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


@given(st.timedeltas())
def test_format_then_parse_gives_the_same_duration(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(st.timedeltas())
def test_format_is_canonical(value: timedelta) -> None:
    text = format_duration(value)
    assert format_duration(parse_duration(text)) == text


@given(
    days=st.integers(-1000, 1000),
    hours=st.integers(-1000, 1000),
    minutes=st.integers(-1000, 1000),
    seconds=st.integers(-1000, 1000),
    negate=st.booleans(),
)
def test_components_add_up(days: int, hours: int, minutes: int, seconds: int, negate: bool) -> None:
    text = f"{'-' if negate else ''}P{days}DT{hours}H{minutes}M{seconds}S"
    expected = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    assert parse_duration(text) == (-expected if negate else expected)


def test_absurdly_long_numbers_are_an_invalid_duration_not_a_crash() -> None:
    with pytest.raises(InvalidDuration, match="too long"):
        parse_duration("PT" + "9" * 5000 + "S")
