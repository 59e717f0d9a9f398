"""Date filters: ``date``, ``dateAdd``, ``timestamp``, ``timestampMilli/Micro/Nano``.

They follow Kestra's rules: the input may be a datetime, a date (taken at noon), an epoch number
of seconds, or a string (ISO-8601, or read with ``existingFormat``); the result is printed in
``timeZone``, or in :data:`DEFAULT_ZONE` when none is given — Kestra uses the server's zone,
Perch uses UTC so that output does not depend on the machine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from perch.errors import TemplateRenderError
from perch.templating.javatime import format_datetime, offset_text, zone_id
from perch.templating.lib_javaparse import parse_with_pattern
from perch.templating.lib_registry import is_number, require_int, type_name

DEFAULT_ZONE: tzinfo = ZoneInfo("UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# --- zones -----------------------------------------------------------------------------------

_OFFSET_ID = re.compile(r"([+-])(\d{1,2})(?::?(\d{2})(?::?(\d{2}))?)?")


@lru_cache(maxsize=256)
def zone_of(name: str) -> tzinfo:
    """A Python zone for a Java ``ZoneId`` string: ``Europe/Paris``, ``UTC``, ``Z``, ``+02:00``,
    ``UTC+01:00``. Raises :class:`TemplateRenderError` for unknown ids."""
    if name == "Z":
        return UTC
    prefix = next((p for p in ("UTC", "GMT", "UT") if name.startswith(p)), "")
    rest = name[len(prefix) :]
    if rest:
        match = _OFFSET_ID.fullmatch(rest)
        if match is not None:
            sign, hours, minutes, seconds = match.groups()
            delta = timedelta(
                hours=int(hours), minutes=int(minutes or 0), seconds=int(seconds or 0)
            )
            if delta > timedelta(hours=18):
                raise TemplateRenderError(f"Invalid time zone offset '{name}'")
            delta = -delta if sign == "-" else delta
            if prefix:
                return timezone(
                    delta, prefix + offset_text(int(delta.total_seconds()), "+HH:MM:ss", "")
                )
            return timezone(delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TemplateRenderError(f"Unknown time zone '{name}'") from None


def _zone_arg(label: str, time_zone: Any) -> tzinfo:
    if time_zone is None:
        return DEFAULT_ZONE
    if not isinstance(time_zone, str):
        raise TemplateRenderError(f"{label} expects a string timeZone, got {type_name(time_zone)}")
    return zone_of(time_zone)


# --- ISO printing and parsing ----------------------------------------------------------------


def _fraction(value: datetime | time) -> str:
    if not value.microsecond:
        return ""
    return "." + f"{value.microsecond:06d}".rstrip("0")


def _local_date(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _local_time(value: datetime | time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_fraction(value)}"


def _offset(value: datetime) -> str:
    delta = value.utcoffset() or timedelta()
    return offset_text(int(delta.total_seconds()), "+HH:MM:ss", "Z")


def _region(value: datetime) -> str:
    return f"[{value.tzinfo.key}]" if isinstance(value.tzinfo, ZoneInfo) else ""


def _instant(value: datetime) -> str:
    utc = value.astimezone(UTC)
    micros = f"{utc.microsecond:06d}"
    fraction = "" if not utc.microsecond else "." + (micros[:3] if micros[3:] == "000" else micros)
    return f"{_local_date(utc)}T{utc:%H:%M:%S}{fraction}Z"


def _week_date(value: datetime) -> str:
    year, week, day = value.isocalendar()
    return f"{year:04d}-W{week:02d}-{day}{_offset(value)}"


_Printer = Callable[[datetime], str]
_NAMED: dict[str, _Printer | str] = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
    "iso_date_time": lambda v: f"{_local_date(v)}T{_local_time(v)}{_offset(v)}{_region(v)}",
    "iso_zoned_date_time": lambda v: f"{_local_date(v)}T{_local_time(v)}{_offset(v)}{_region(v)}",
    "iso_offset_date_time": lambda v: f"{_local_date(v)}T{_local_time(v)}{_offset(v)}",
    "iso_local_date_time": lambda v: f"{_local_date(v)}T{_local_time(v)}",
    "iso_date": lambda v: _local_date(v) + _offset(v),
    "iso_local_date": _local_date,
    "iso_time": lambda v: _local_time(v) + _offset(v),
    "iso_offset_time": lambda v: _local_time(v) + _offset(v),
    "iso_local_time": _local_time,
    "iso_instant": _instant,
    "iso_ordinal_date": lambda v: f"{v.year:04d}-{v.timetuple().tm_yday:03d}{_offset(v)}",
    "iso_week_date": _week_date,
    "rfc_1123_date_time": lambda v: (
        format_datetime(v, "EEE, d MMM yyyy HH:mm:ss ")
        + offset_text(int((v.utcoffset() or timedelta()).total_seconds()), "+HHMM", "GMT")
    ),
    # Java 21 (CLDR) localized styles for en_US; the space before AM/PM is U+202F as in Java.
    "short": "M/d/yy, h:mm\u202fa",
    "medium": "MMM d, y, h:mm:ss\u202fa",
    "long": "MMMM d, y 'at' h:mm:ss\u202fa z",
    "full": "EEEE, MMMM d, y 'at' h:mm:ss\u202fa zzzz",
}


def format_in_zone(value: datetime, fmt: str, locale: str | None) -> str:
    """Print an aware datetime with a named format (``iso``, ``sql``, ...) or a Java pattern."""
    if not isinstance(fmt, str):
        raise TemplateRenderError(f"A date format must be a string, got {type_name(fmt)}")
    named = _NAMED.get(fmt)
    if named is None:
        return format_datetime(value, fmt, locale)
    if isinstance(named, str):
        return format_datetime(value, named, locale)
    return named(value)


_ISO = re.compile(
    r"(?P<date>[+-]?\d{4,9}-\d{2}-\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<offset>Z|[+-]\d{2}:\d{2}(?::\d{2})?)?(?:\[(?P<zone>[^\]]+)\])?)?"
)


def parse_iso(text: str) -> datetime | date:
    """Parse ISO-8601 as Kestra tries it: zoned date-time, then local date-time, then date."""
    match = _ISO.fullmatch(text)
    if match is None:
        raise TemplateRenderError(f"Text '{text}' is not an ISO-8601 date or date-time")
    try:
        day = date.fromisoformat(match["date"])
        if match["time"] is None:
            return day
        clock = match["time"]
        if "." in clock:
            head, fraction = clock.split(".")
            clock = f"{head}.{fraction[:6].ljust(6, '0')}"
        moment = datetime.combine(day, time.fromisoformat(clock))
    except ValueError as exc:
        raise TemplateRenderError(f"Text '{text}' is not a valid date: {exc}") from None
    if match["zone"] is not None:
        return moment.replace(tzinfo=zone_of(match["zone"]))
    if match["offset"] is not None:
        return moment.replace(tzinfo=zone_of(match["offset"]))
    return moment


def to_datetime(
    label: str, value: Any, zone: tzinfo, existing_format: str | None, locale: str | None = None
) -> datetime:
    """Turn a filter input into an aware datetime, as Kestra's ``AbstractDate.convert`` does."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(12), tzinfo=zone)
    if is_number(value):
        seconds = float(value)
        return _EPOCH.astimezone(zone) + timedelta(seconds=seconds)
    if not isinstance(value, str):
        raise TemplateRenderError(f"{label} cannot read a date from a {type_name(value)}")
    if existing_format is not None and existing_format not in _NAMED:
        parsed = parse_with_pattern(value, existing_format, locale)
    elif existing_format is not None and isinstance(_NAMED[existing_format], str):
        parsed = parse_with_pattern(value, str(_NAMED[existing_format]), locale)
    else:
        parsed = parse_iso(value)
    if isinstance(parsed, datetime):
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    return datetime.combine(parsed, time(0), tzinfo=zone)


# --- the filters -----------------------------------------------------------------------------


def date_filter(
    value: Any,
    format: str = "iso",
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str | None:
    """``date(format, timeZone, existingFormat, locale)``: print a date with a Java pattern."""
    if value is None:
        return None
    zone = _zone_arg("The 'date' filter", timeZone)
    moment = to_datetime("The 'date' filter", value, zone, existingFormat, locale)
    return format_in_zone(moment.astimezone(zone), format, locale)


_TIME_UNITS = {
    "MICROS": timedelta(microseconds=1),
    "MILLIS": timedelta(milliseconds=1),
    "SECONDS": timedelta(seconds=1),
    "MINUTES": timedelta(minutes=1),
    "HOURS": timedelta(hours=1),
    "HALF_DAYS": timedelta(hours=12),
}
_DAY_UNITS = {"DAYS": 1, "WEEKS": 7}
_MONTH_UNITS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}


def add_to(moment: datetime, amount: int, unit: str) -> datetime:
    """Java ``ZonedDateTime.plus(amount, ChronoUnit.valueOf(unit))``.

    Time units move the instant; day and month units move the local date-time and keep the
    zone (so adding a day across a DST change keeps the wall-clock time).
    """
    if unit in _TIME_UNITS or unit == "NANOS":
        # Python keeps microseconds: nanoseconds are rounded to the nearest microsecond
        step = (
            _TIME_UNITS[unit] * amount if unit != "NANOS" else timedelta(microseconds=amount / 1000)
        )
        shifted = moment.astimezone(UTC) + step
        return shifted.astimezone(moment.tzinfo)
    local = moment.replace(tzinfo=None)
    if unit in _DAY_UNITS:
        local += timedelta(days=amount * _DAY_UNITS[unit])
    elif unit in _MONTH_UNITS:
        months = local.year * 12 + local.month - 1 + amount * _MONTH_UNITS[unit]
        year, month = divmod(months, 12)
        month += 1
        if not 1 <= year <= 9999:
            raise TemplateRenderError(f"Adding {amount} {unit} leaves the supported years")
        last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        local = local.replace(year=year, month=month, day=min(local.day, last))
    else:
        known = ", ".join(["NANOS", *_TIME_UNITS, *_DAY_UNITS, *_MONTH_UNITS])
        raise TemplateRenderError(f"Unknown unit '{unit}' for dateAdd; use one of {known}")
    return local.replace(tzinfo=moment.tzinfo)


def date_add_filter(  # noqa: PLR0917 - Pebble passes these positionally
    value: Any,
    amount: Any,
    unit: Any,
    format: str = "iso",
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str | None:
    """``dateAdd(amount, unit, format?, timeZone?, ...)``: shift a date and print it."""
    if value is None:
        return None
    label = "The 'dateAdd' filter"
    count = require_int(label, amount, "amount")
    if not isinstance(unit, str):
        raise TemplateRenderError(f"{label} expects a unit such as 'DAYS', got {type_name(unit)}")
    zone = _zone_arg(label, timeZone)
    moment = to_datetime(label, value, zone, existingFormat, locale)
    try:
        shifted = add_to(moment, count, unit)
    except OverflowError:
        raise TemplateRenderError(f"Adding {count} {unit} leaves the supported years") from None
    return format_in_zone(shifted.astimezone(zone), format, locale)


def _epoch_micros(value: Any, label: str, timeZone: str | None, existingFormat: str | None) -> int:
    moment = to_datetime(label, value, _zone_arg(label, timeZone), existingFormat)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamp_filter(
    value: Any, timeZone: str | None = None, existingFormat: str | None = None
) -> int | None:
    """``timestamp``: epoch seconds (rounded down)."""
    if value is None:
        return None
    return _epoch_micros(value, "The 'timestamp' filter", timeZone, existingFormat) // 1_000_000


def timestamp_milli_filter(
    value: Any, timeZone: str | None = None, existingFormat: str | None = None
) -> int | None:
    """``timestampMilli``: epoch milliseconds."""
    if value is None:
        return None
    return _epoch_micros(value, "The 'timestampMilli' filter", timeZone, existingFormat) // 1000


def timestamp_micro_filter(
    value: Any, timeZone: str | None = None, existingFormat: str | None = None
) -> int | None:
    """``timestampMicro``: epoch microseconds."""
    if value is None:
        return None
    return _epoch_micros(value, "The 'timestampMicro' filter", timeZone, existingFormat)


def timestamp_nano_filter(
    value: Any, timeZone: str | None = None, existingFormat: str | None = None
) -> int | None:
    """``timestampNano``: epoch nanoseconds (Python keeps microseconds, so the last 3 are 0)."""
    if value is None:
        return None
    return _epoch_micros(value, "The 'timestampNano' filter", timeZone, existingFormat) * 1000


def now_in(time_zone: str | None = None) -> datetime:
    """The current time as an aware datetime in ``time_zone`` (default :data:`DEFAULT_ZONE`)."""
    return datetime.now(_zone_arg("now()", time_zone))


__all__ = [
    "DEFAULT_ZONE",
    "add_to",
    "date_add_filter",
    "date_filter",
    "format_in_zone",
    "now_in",
    "parse_iso",
    "timestamp_filter",
    "timestamp_micro_filter",
    "timestamp_milli_filter",
    "timestamp_nano_filter",
    "to_datetime",
    "zone_id",
    "zone_of",
]
