"""Date filters: date, dateAdd and the timestamp family."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from perch.errors import TemplateRenderError
from perch.templating.filters import FILTERS
from perch.templating.lib_dates import zone_of

START = datetime(2024, 3, 5, 14, 7, 9, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("iso", "2024-03-05T14:07:09.123456Z"),
        ("iso_sec", "2024-03-05T14:07:09Z"),
        ("sql", "2024-03-05 14:07:09.123456"),
        ("sql_seq", "2024-03-05 14:07:09"),
        ("iso_date_time", "2024-03-05T14:07:09.123456Z[UTC]"),
        ("iso_zoned_date_time", "2024-03-05T14:07:09.123456Z[UTC]"),
        ("iso_offset_date_time", "2024-03-05T14:07:09.123456Z"),
        ("iso_local_date_time", "2024-03-05T14:07:09.123456"),
        ("iso_date", "2024-03-05Z"),
        ("iso_local_date", "2024-03-05"),
        ("iso_time", "14:07:09.123456Z"),
        ("iso_local_time", "14:07:09.123456"),
        ("iso_instant", "2024-03-05T14:07:09.123456Z"),
        ("iso_ordinal_date", "2024-065Z"),
        ("iso_week_date", "2024-W10-2Z"),
        ("rfc_1123_date_time", "Tue, 5 Mar 2024 14:07:09 GMT"),
        ("short", "3/5/24, 2:07\u202fPM"),
        ("medium", "Mar 5, 2024, 2:07:09\u202fPM"),
        ("yyyy-MM-dd", "2024-03-05"),
        ("EEEE, MMMM d", "Tuesday, March 5"),
    ],
)
def test_date_named_formats_and_patterns(fmt: str, expected: str) -> None:
    assert FILTERS["date"](START, fmt, timeZone="UTC") == expected


def test_date_defaults_to_iso_in_utc() -> None:
    assert FILTERS["date"](START) == "2024-03-05T14:07:09.123456Z"


def test_date_converts_to_the_time_zone() -> None:
    assert FILTERS["date"](START, "HH:mm XXX", timeZone="Europe/Paris") == "15:07 +01:00"
    assert FILTERS["date"](START, "HH:mm XXX", "America/New_York") == "09:07 -05:00"
    assert FILTERS["date"](START, "HH:mm", timeZone="+05:30") == "19:37"
    zoned = FILTERS["date"](START, "iso_zoned_date_time", timeZone="Europe/Paris")
    assert zoned == "2024-03-05T15:07:09.123456+01:00[Europe/Paris]"


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        ("2024-01-02T03:04:05Z", {}, "2024-01-02T03:04:05.000000Z"),
        ("2024-01-02T03:04:05.5+02:00", {}, "2024-01-02T01:04:05.500000Z"),
        ("2024-01-02T03:04:05+01:00[Europe/Paris]", {}, "2024-01-02T02:04:05.000000Z"),
        ("2024-01-02T03:04", {}, "2024-01-02T03:04:00.000000Z"),
        ("2024-01-02", {}, "2024-01-02T00:00:00.000000Z"),
        ("2024-01-02T03:04", {"timeZone": "Europe/Paris"}, "2024-01-02T03:04:00.000000+01:00"),
        ("July 24, 2001", {"existingFormat": "MMMM dd, yyyy"}, "2001-07-24T00:00:00.000000Z"),
        ("2001-07-24 10:11:12", {"existingFormat": "sql_seq"}, "2001-07-24T10:11:12.000000Z"),
        (0, {}, "1970-01-01T00:00:00.000000Z"),
        (1700000000, {}, "2023-11-14T22:13:20.000000Z"),
        (1.5, {}, "1970-01-01T00:00:01.500000Z"),
        (date(2024, 1, 2), {}, "2024-01-02T12:00:00.000000Z"),
        (datetime(2024, 1, 2, 3, 4), {"timeZone": "UTC"}, "2024-01-02T03:04:00.000000Z"),
    ],
)
def test_date_inputs(value: Any, kwargs: dict[str, Any], expected: str) -> None:
    assert FILTERS["date"](value, "iso", **kwargs) == expected


def test_date_named_argument_order_matches_kestra() -> None:
    # Kestra's argument order is format, timeZone, existingFormat, locale
    assert FILTERS["date"]("24/07/2001", "yyyy-MM-dd", "UTC", "dd/MM/yyyy") == "2001-07-24"
    assert FILTERS["date"](START, format="yyyy", locale="en_US") == "2024"


@pytest.mark.parametrize(
    ("value", "args", "kwargs", "message"),
    [
        ("not a date", (), {}, "not an ISO-8601"),
        ("2024-13-01", (), {}, "not a valid date"),
        (True, (), {}, "cannot read a date"),
        ([1], (), {}, "cannot read a date"),
        (START, ("yyyy-bb",), {}, "unknown pattern letter"),
        (START, ("yyyy",), {"timeZone": "Mars/Olympus"}, "Unknown time zone"),
        (START, ("MMMM",), {"locale": "de_DE"}, "Locale 'de_DE'"),
        ("01/02/2024", ("yyyy",), {"existingFormat": "yyyy-MM-dd"}, "could not be parsed"),
    ],
)
def test_date_errors(
    value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        FILTERS["date"](value, *args, **kwargs)


def test_date_of_null_is_null() -> None:
    assert FILTERS["date"](None, "yyyy") is None
    assert FILTERS["dateAdd"](None, 1, "DAYS") is None


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        (-1, "DAYS", "2024-03-04T14:07:09.123456Z"),
        (2, "WEEKS", "2024-03-19T14:07:09.123456Z"),
        (3, "HOURS", "2024-03-05T17:07:09.123456Z"),
        (90, "MINUTES", "2024-03-05T15:37:09.123456Z"),
        (1, "HALF_DAYS", "2024-03-06T02:07:09.123456Z"),
        (500, "MILLIS", "2024-03-05T14:07:09.623456Z"),
        (1, "MONTHS", "2024-04-05T14:07:09.123456Z"),
        (-1, "YEARS", "2023-03-05T14:07:09.123456Z"),
        (1, "DECADES", "2034-03-05T14:07:09.123456Z"),
        (30, "SECONDS", "2024-03-05T14:07:39.123456Z"),
    ],
)
def test_date_add_units(amount: int, unit: str, expected: str) -> None:
    assert FILTERS["dateAdd"](START, amount, unit) == expected


def test_date_add_clamps_month_ends_and_formats() -> None:
    assert FILTERS["dateAdd"]("2024-01-31T10:00:00Z", 1, "MONTHS", "yyyy-MM-dd") == "2024-02-29"
    assert FILTERS["dateAdd"]("2023-01-31T10:00:00Z", 1, "MONTHS", "yyyy-MM-dd") == "2023-02-28"
    assert FILTERS["dateAdd"]("2024-12-15", 1, "MONTHS", format="yyyy-MM") == "2025-01"


def test_date_add_days_keep_wall_clock_across_dst_but_hours_do_not() -> None:
    before = "2024-03-30T10:00:00+01:00[Europe/Paris]"
    kw = {"format": "HH:mm XXX", "timeZone": "Europe/Paris"}
    assert FILTERS["dateAdd"](before, 1, "DAYS", **kw) == "10:00 +02:00"
    assert FILTERS["dateAdd"](before, 24, "HOURS", **kw) == "11:00 +02:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [((1, "FORTNIGHTS"), "Unknown unit"), (("1", "DAYS"), "integer amount"), ((1, 2), "unit")],
)
def test_date_add_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        FILTERS["dateAdd"](START, *args)


def test_date_add_requires_amount_and_unit() -> None:
    with pytest.raises(TemplateRenderError, match="missing a required argument"):
        FILTERS["dateAdd"](START, 1)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("timestamp", 1709647629),
        ("timestampMilli", 1709647629123),
        ("timestampMicro", 1709647629123456),
        ("timestampNano", 1709647629123456000),
    ],
)
def test_timestamps(name: str, expected: int) -> None:
    assert FILTERS[name](START) == expected
    assert FILTERS[name](None) is None


def test_timestamps_of_strings_and_before_the_epoch() -> None:
    assert FILTERS["timestamp"]("2024-01-01T00:00:00Z") == 1704067200
    assert FILTERS["timestamp"]("2024-01-01T00:00:00", timeZone="Europe/Paris") == 1704063600
    assert FILTERS["timestamp"]("1969-12-31T23:59:59.5Z") == -1
    assert FILTERS["timestampMilli"]("01/01/2024", existingFormat="dd/MM/yyyy") == 1704067200000


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("Z", timedelta(0)),
        ("+02:00", timedelta(hours=2)),
        ("-0530", timedelta(hours=-5, minutes=-30)),
        ("+3", timedelta(hours=3)),
        ("UTC+01:00", timedelta(hours=1)),
        ("GMT", timedelta(0)),
    ],
)
def test_zone_ids(name: str, offset: timedelta) -> None:
    zone = zone_of(name)
    assert datetime(2024, 1, 1, tzinfo=zone).utcoffset() == offset


def test_zone_ids_keep_regions_and_reject_unknowns() -> None:
    assert zone_of("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert zone_of("Z") is UTC
    assert isinstance(zone_of("+01:00"), timezone)
    with pytest.raises(TemplateRenderError, match="Unknown time zone"):
        zone_of("Nowhere/City")
    with pytest.raises(TemplateRenderError, match="Invalid time zone offset"):
        zone_of("+19:00")


def test_date_format_must_be_text() -> None:
    with pytest.raises(TemplateRenderError, match="must be a string"):
        FILTERS["date"](START, 12)
