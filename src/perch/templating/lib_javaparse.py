"""Parsing text with a Java ``DateTimeFormatter`` pattern (the ``existingFormat`` argument).

A compiled pattern (see :mod:`perch.templating.javatime`) becomes a regular expression with one
named group per field; the captured fields are then resolved the way Java's SMART resolver does
for the common cases: year/month/day (or year/day-of-year), hour/minute/second/fraction, AM/PM
with a 12-hour clock, and an offset or zone id.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

from perch.errors import TemplateRenderError
from perch.templating.javatime import (
    DAYS,
    MONTHS,
    Field,
    Literal,
    Optional,
    check_locale,
    compile_pattern,
)

_OFFSET = r"[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?"


def _names(names: tuple[str, ...], count: int) -> str:
    if count == 4:
        options = list(names)
    elif count == 5:
        options = [n[0] for n in names]
    else:
        options = [n[:3] for n in names]
    return "|".join(sorted({re.escape(o) for o in options}, key=len, reverse=True))


def _field_regex(field: Field) -> str:
    letter, count = field.letter, field.count
    if letter in "yuY":
        if count == 2:
            return r"\d{2}"
        return rf"[+-]?\d{{{max(count, 1)},10}}"
    if letter in "ML" and count >= 3:
        return _names(MONTHS, count)
    if letter in "Eec" and (letter == "E" or count >= 3):
        return _names(DAYS, count)
    if letter == "a":
        return "AM|PM"
    if letter == "G":
        return "Anno Domini|AD|A"
    if letter == "S":
        return rf"\d{{{count}}}"
    if letter in "XxZ":
        return "Z|" + _OFFSET if letter != "x" else _OFFSET
    if letter == "O":
        return r"GMT(?:[+-]\d{1,2}(?::\d{2}(?::\d{2})?)?)?"
    if letter in "Vzv":
        return r"[A-Za-z][A-Za-z0-9~/._+-]*"
    if letter in "Qq" and count >= 3:
        return r"Q[1-4]" if count == 3 else r"[1-4](?:st|nd|rd|th) quarter"
    if count == 1:
        return r"\d{1,10}"
    return rf"\d{{{count}}}"


@lru_cache(maxsize=256)
def _compile(pattern: str) -> tuple[re.Pattern[str], tuple[Field, ...]]:
    parts: list[str] = []
    fields: list[Field] = []
    for token in compile_pattern(pattern):
        if isinstance(token, Literal):
            parts.append(re.escape(token.text))
        elif isinstance(token, Optional):
            parts.append("(?:" if token.start else ")?")
        else:
            parts.append(f"(?P<f{len(fields)}>{_field_regex(token)})")
            fields.append(token)
    return re.compile("".join(parts)), tuple(fields)


def _zone_from_text(text: str) -> tzinfo:
    from perch.templating.lib_dates import zone_of  # lib_dates imports this module

    return zone_of(text)


def _offset_zone(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    if text.startswith("GMT"):
        text = text[3:] or "+00"
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    if len(digits) == 1:
        digits = "0" + digits
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes, seconds=seconds))


def _store(values: dict[str, Any], key: str, value: Any, text: str, pattern: str) -> None:
    if key in values and values[key] != value:
        raise TemplateRenderError(
            f"Text '{text}' could not be parsed with '{pattern}': conflicting values for {key}"
        )
    values[key] = value


def _collect(
    text: str, pattern: str, match: re.Match[str], fields: tuple[Field, ...]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for index, field in enumerate(fields):
        raw = match.group(f"f{index}")
        if raw is None:  # inside an optional section that was absent
            continue
        letter, count = field.letter, field.count
        if letter in "yu":
            year = int(raw)
            _store(values, "year", 2000 + year if count == 2 else year, text, pattern)
        elif letter in "ML":
            month = int(raw) if count <= 2 else _month_index(raw, count)
            _store(values, "month", month, text, pattern)
        elif letter == "d":
            _store(values, "day", int(raw), text, pattern)
        elif letter == "D":
            _store(values, "doy", int(raw), text, pattern)
        elif letter in "Hk":
            hour = int(raw)
            _store(values, "hour", 0 if letter == "k" and hour == 24 else hour, text, pattern)
        elif letter in "hK":
            hour = int(raw)
            _store(values, "hour12", 0 if letter == "h" and hour == 12 else hour, text, pattern)
        elif letter == "a":
            _store(values, "pm", raw == "PM", text, pattern)
        elif letter == "m":
            _store(values, "minute", int(raw), text, pattern)
        elif letter == "s":
            _store(values, "second", int(raw), text, pattern)
        elif letter == "S":
            _store(values, "nano", int(raw.ljust(9, "0")), text, pattern)
        elif letter == "n":
            _store(values, "nano", int(raw), text, pattern)
        elif letter in "XxZO":
            _store(values, "zone", _offset_zone(raw), text, pattern)
        elif letter in "Vzv":
            _store(values, "zone", _zone_from_text(raw), text, pattern)
        elif letter == "Y":
            raise TemplateRenderError(
                f"Text '{text}' could not be parsed with '{pattern}': week-based years are"
                " not supported when parsing; use 'yyyy'"
            )
        # other fields (era, day names, quarters, weeks) are read but only cross-check in Java
    return values


def _month_index(raw: str, count: int) -> int:
    for index, name in enumerate(MONTHS):
        candidate = name if count == 4 else (name[0] if count == 5 else name[:3])
        if candidate == raw:
            return index + 1
    raise ValueError(f"unknown month name '{raw}'")


def parse_with_pattern(text: str, pattern: str, locale: str | None = None) -> datetime | date:
    """Parse ``text`` with a Java pattern.

    Returns an aware ``datetime`` when the text carries an offset or zone, a naive ``datetime``
    when it has a time but no zone, and a ``date`` when it only has a date. Raises
    :class:`TemplateRenderError` when the text does not match or names no date.
    """
    check_locale(pattern, compile_pattern(pattern), locale)
    regex, fields = _compile(pattern)
    match = regex.fullmatch(text)
    if match is None:
        raise TemplateRenderError(f"Text '{text}' could not be parsed with the pattern '{pattern}'")
    values = _collect(text, pattern, match, fields)
    try:
        if "year" not in values:
            raise ValueError("the pattern has no year")
        if "doy" in values and "month" not in values:
            day = date(values["year"], 1, 1) + timedelta(days=values["doy"] - 1)
        elif "month" in values and "day" in values:
            day = date(values["year"], values["month"], values["day"])
        else:
            raise ValueError("the pattern has no month and day")
        hour = values.get("hour")
        if hour is None and "hour12" in values:
            if "pm" not in values:
                raise ValueError("a 12-hour clock ('h' or 'K') needs an AM/PM marker ('a')")
            hour = values["hour12"] + (12 if values["pm"] else 0)
        if hour is None:
            return day
        moment = datetime(
            day.year,
            day.month,
            day.day,
            hour,
            values.get("minute", 0),
            values.get("second", 0),
            values.get("nano", 0) // 1000,
        )
    except ValueError as exc:
        raise TemplateRenderError(
            f"Text '{text}' could not be parsed with the pattern '{pattern}': {exc}"
        ) from None
    zone = values.get("zone")
    return moment.replace(tzinfo=zone) if zone is not None else moment
