"""Java DateTimeFormatter patterns: compiling, printing and parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perch.errors import TemplateRenderError
from perch.templating.javatime import (
    Field,
    Literal,
    compile_pattern,
    format_datetime,
    week_based,
    week_of_month,
)
from perch.templating.lib_javaparse import parse_with_pattern

# Tuesday 5 March 2024, 14:07:09.123456 UTC
MOMENT = datetime(2024, 3, 5, 14, 7, 9, 123456, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd", "2024-03-05"),
        ("yy/M/d", "24/3/5"),
        ("y", "2024"),
        ("uuuu", "2024"),
        ("HH:mm:ss", "14:07:09"),
        ("H:m:s", "14:7:9"),
        ("hh:mm a", "02:07 PM"),
        ("K k", "2 14"),
        ("SSS", "123"),
        ("SSSSSS", "123456"),
        ("SSSSSSSSS", "123456000"),
        ("EEE EEEE EEEEE", "Tue Tuesday T"),
        ("MMM MMMM MMMMM", "Mar March M"),
        ("LLL", "Mar"),
        ("D DDD", "65 065"),
        ("Q QQ QQQ QQQQ", "1 01 Q1 1st quarter"),
        ("G GGGG", "AD Anno Domini"),
        ("e c", "3 3"),
        ("w W", "10 2"),
        ("F", "1"),
        ("A", str(((14 * 60 + 7) * 60 + 9) * 1000 + 123)),
        ("'Day' d 'of' MMMM", "Day 5 of March"),
        ("'o''clock' ''", "o'clock '"),
        ("yyyy[-MM]", "2024-03"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-03-05T14:07:09.123Z"),
    ],
)
def test_format_patterns(pattern: str, expected: str) -> None:
    assert format_datetime(MOMENT, pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("X", "+0530"),
        ("XX", "+0530"),
        ("XXX", "+05:30"),
        ("x", "+0530"),
        ("Z", "+0530"),
        ("ZZZZ", "GMT+05:30"),
        ("ZZZZZ", "+05:30"),
        ("O", "GMT+5:30"),
        ("OOOO", "GMT+05:30"),
    ],
)
def test_format_offsets(pattern: str, expected: str) -> None:
    value = MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert format_datetime(value, pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("X", "Z"), ("XXX", "Z"), ("x", "+00"), ("xxx", "+00:00"), ("Z", "+0000"), ("O", "GMT")],
)
def test_format_zero_offsets(pattern: str, expected: str) -> None:
    assert format_datetime(MOMENT, pattern) == expected


def test_format_zone_names() -> None:
    summer = datetime(2024, 7, 1, 12, tzinfo=PARIS)
    assert format_datetime(summer, "VV z XXX") == "Europe/Paris CEST +02:00"
    assert format_datetime(MOMENT.astimezone(PARIS), "z") == "CET"


def test_midnight_and_noon_on_twelve_hour_clock() -> None:
    assert format_datetime(datetime(2024, 1, 1, 0, 5, tzinfo=UTC), "h:mm a K k") == "12:05 AM 0 24"
    assert format_datetime(datetime(2024, 1, 1, 12, 5, tzinfo=UTC), "h:mm a") == "12:05 PM"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("yyyy-bb", "unknown pattern letter 'b'"),
        ("ddd", "too many pattern letters"),
        ("HHH", "too many pattern letters"),
        ("'open", "unterminated"),
        ("yyyy]", "without a matching"),
        ("#", "reserved"),
        ("aa", "too many pattern letters"),
        ("V", "too many pattern letters"),
        ("pH", "pad letter"),
    ],
)
def test_invalid_patterns(pattern: str, message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        compile_pattern(pattern)


def test_compiled_patterns_are_cached_tokens() -> None:
    tokens = compile_pattern("yyyy-MM")
    assert tokens == (Field("y", 4), Literal("-"), Field("M", 2))
    assert compile_pattern("yyyy-MM") is tokens


def test_text_in_other_locales_is_refused_but_numbers_are_fine() -> None:
    assert format_datetime(MOMENT, "dd/MM/yyyy", locale="fr_FR") == "05/03/2024"
    assert format_datetime(MOMENT, "MMMM", locale="en_GB") == "March"
    with pytest.raises(TemplateRenderError, match="Locale 'fr'"):
        format_datetime(MOMENT, "MMMM", locale="fr")


@pytest.mark.parametrize("year", range(2015, 2031))
def test_week_rules_match_iso_with_monday_and_four_days(year: int) -> None:
    for day in (date(year, 1, d) for d in range(1, 8)):
        assert week_based(day, 1, 4) == tuple(day.isocalendar()[:2])
    for day in (date(year, 12, d) for d in range(25, 32)):
        assert week_based(day, 1, 4) == tuple(day.isocalendar()[:2])


def test_us_week_rules() -> None:
    # 2022-01-01 is a Saturday: with US rules it is in week 1 of 2022
    assert week_based(date(2022, 1, 1)) == (2022, 1)
    # 2021-12-26 (Sunday) starts the week containing Jan 1 2022, so it is week 1 of 2022
    assert week_based(date(2021, 12, 26)) == (2022, 1)
    assert week_of_month(date(2024, 3, 2)) == 1
    assert week_of_month(date(2024, 3, 3)) == 2


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("July 24, 2001", "MMMM dd, yyyy", date(2001, 7, 24)),
        ("24/07/2001 13:45", "dd/MM/yyyy HH:mm", datetime(2001, 7, 24, 13, 45)),
        ("20010724", "yyyyMMdd", date(2001, 7, 24)),
        ("01-07-24", "yy-MM-dd", date(2001, 7, 24)),
        ("2001-205", "yyyy-DDD", date(2001, 7, 24)),
        ("2001-07-24 01:02:03.5", "yyyy-MM-dd HH:mm:ss.S", datetime(2001, 7, 24, 1, 2, 3, 500000)),
        ("2001-07-24 09:15 PM", "yyyy-MM-dd hh:mm a", datetime(2001, 7, 24, 21, 15)),
        ("2001-07-24 12:15 AM", "yyyy-MM-dd hh:mm a", datetime(2001, 7, 24, 0, 15)),
        ("Tue, 24 Jul 2001", "EEE, dd MMM yyyy", date(2001, 7, 24)),
        ("2001-07-24", "yyyy-MM-dd[ HH:mm]", date(2001, 7, 24)),
        ("2001-07-24 10:00", "yyyy-MM-dd[ HH:mm]", datetime(2001, 7, 24, 10)),
    ],
)
def test_parse_local_values(text: str, pattern: str, expected: date) -> None:
    assert parse_with_pattern(text, pattern) == expected


def test_parse_offsets_and_zones() -> None:
    parsed = parse_with_pattern("2001-07-24T10:00+0200", "yyyy-MM-dd'T'HH:mmZ")
    assert isinstance(parsed, datetime)
    assert parsed.utcoffset() == timedelta(hours=2)
    zoned = parse_with_pattern("2001-07-24 10:00 Europe/Paris", "yyyy-MM-dd HH:mm VV")
    assert isinstance(zoned, datetime)
    assert zoned.tzinfo == PARIS
    utc = parse_with_pattern("2001-07-24 10:00Z", "yyyy-MM-dd HH:mmXXX")
    assert isinstance(utc, datetime)
    assert utc.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "pattern", "message"),
    [
        ("2001/07/24", "yyyy-MM-dd", "could not be parsed"),
        ("10:00", "HH:mm", "no year"),
        ("2001-02-30", "yyyy-MM-dd", "day is out of range"),
        ("2001-07-24 09:15", "yyyy-MM-dd hh:mm", "AM/PM"),
        ("2001-W03", "YYYY-'W'ww", "week-based"),
    ],
)
def test_parse_errors(text: str, pattern: str, message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        parse_with_pattern(text, pattern)


def test_round_trip_through_format_and_parse() -> None:
    pattern = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
    text = format_datetime(MOMENT, pattern)
    assert parse_with_pattern(text, pattern) == MOMENT


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_iso_week_rules_for_any_date(day: date) -> None:
    assert week_based(day, 1, 4) == tuple(day.isocalendar()[:2])


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2999, 12, 31),
        timezones=st.just(UTC),
    )
)
def test_format_then_parse_round_trips(moment: datetime) -> None:
    pattern = "EEE, dd MMM yyyy HH:mm:ss.SSSSSS XXX"
    assert parse_with_pattern(format_datetime(moment, pattern), pattern) == moment
