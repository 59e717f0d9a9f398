"""ISO-8601 durations, read and written the way Java's ``java.time.Duration`` does.

Kestra types every duration (``pauseDuration``, ``timeout``, DURATION inputs) as a Java
``Duration``, so Perch accepts exactly what ``Duration.parse`` accepts and writes what
``Duration.toString`` writes:

* ``PnDTnHnMn.nS``: days, hours, minutes and seconds, each optional but at least one present,
  each with its own optional sign (``PT-1M``), plus an optional sign in front of everything
  (``-PT1M``); letters are case-insensitive and the decimal mark may be ``.`` or ``,``.
* Years, months and weeks (``P1Y``, ``P1M``, ``P1W``) are rejected, as in Java: their length
  depends on a calendar. Use days (``P7D``).
* Java keeps nanoseconds; :class:`datetime.timedelta` keeps microseconds, so a fraction with a
  non-zero digit past the sixth is rejected rather than silently rounded.
* Output never uses days: one day is written ``PT24H``, like Java.
"""

from __future__ import annotations

import re
from datetime import timedelta

from perch.errors import InvalidDuration

__all__ = ["format_duration", "parse_duration"]

_PATTERN = re.compile(
    r"""
    (?P<sign>[-+]?)P
    (?:(?P<days>[-+]?[0-9]+)D)?
    (?P<time>T
        (?:(?P<hours>[-+]?[0-9]+)H)?
        (?:(?P<minutes>[-+]?[0-9]+)M)?
        (?:(?P<seconds>[-+]?[0-9]+)(?:[.,](?P<fraction>[0-9]{0,9}))?S)?
    )?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CALENDAR_UNITS = re.compile(r"^[-+]?P(?:[-+]?[0-9]+[YMW])", re.IGNORECASE)

_MICROS_PER_SECOND = 1_000_000
_NANOS_PER_SECOND = 1_000_000_000


_MAX_LENGTH = 200


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration such as ``PT5M``, ``PT1.5S``, ``P1DT2H`` or ``-PT1M``.

    Raises :class:`perch.errors.InvalidDuration`, quoting ``text``, when Java's
    ``Duration.parse`` would reject it or when it cannot be held by a ``timedelta``.
    """
    if not isinstance(text, str):
        raise InvalidDuration(f"Expected an ISO-8601 duration string but received `{text!r}`")
    match = _PATTERN.fullmatch(text)
    if match is None or (
        match["days"] is None
        and match["hours"] is None
        and match["minutes"] is None
        and match["seconds"] is None
    ):
        hint = ""
        if _CALENDAR_UNITS.match(text):
            hint = " (years, months and weeks are not supported; use days, e.g. P7D)"
        raise InvalidDuration(f"`{text}` is not an ISO-8601 duration such as PT5M{hint}")
    if match["time"] is not None and match["time"].upper() == "T":
        raise InvalidDuration(f"`{text}` has a 'T' with no hours, minutes or seconds after it")

    if len(text) > _MAX_LENGTH:
        # Far beyond any timedelta, and int() refuses numbers of thousands of digits anyway.
        raise InvalidDuration(f"`{text[:40]}…` is too long to be a duration")
    seconds = (
        int(match["days"] or 0) * 86_400
        + int(match["hours"] or 0) * 3_600
        + int(match["minutes"] or 0) * 60
        + int(match["seconds"] or 0)
    )
    micros = seconds * _MICROS_PER_SECOND + _fraction_micros(
        text, match["seconds"], match["fraction"]
    )
    if match["sign"] == "-":
        micros = -micros
    try:
        return timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidDuration(f"`{text}` is too long a duration") from None


def _fraction_micros(text: str, seconds: str | None, fraction: str | None) -> int:
    """The fractional seconds in microseconds, carrying the sign of the seconds figure."""
    if not fraction:
        return 0
    digits = fraction.ljust(9, "0")
    if digits[6:] != "000":
        raise InvalidDuration(f"`{text}` is more precise than a microsecond")
    micros = int(digits[:6])
    # Java gives the fraction the sign written on the seconds: PT-0.5S is minus half a second.
    return -micros if seconds is not None and seconds.startswith("-") else micros


def format_duration(value: timedelta) -> str:
    """Write ``value`` as Java's ``Duration.toString`` would, e.g. ``PT1H30M`` or ``PT-0.5S``."""
    total_micros = value // timedelta(microseconds=1)
    if total_micros == 0:
        return "PT0S"
    # Java holds a duration as floored whole seconds plus a non-negative nanosecond part.
    seconds, micros = divmod(total_micros, _MICROS_PER_SECOND)
    nanos = micros * 1_000
    effective = seconds + 1 if seconds < 0 and nanos > 0 else seconds
    hours = _truncating_div(effective, 3_600)
    minutes = _truncating_div(effective - hours * 3_600, 60)
    secs = effective - hours * 3_600 - minutes * 60

    parts = ["PT"]
    if hours:
        parts.append(f"{hours}H")
    if minutes:
        parts.append(f"{minutes}M")
    if secs == 0 and nanos == 0:
        return "".join(parts)
    if seconds < 0 and nanos > 0:
        parts.append("-0" if secs == 0 else str(secs))
        fraction = _NANOS_PER_SECOND - nanos
    else:
        parts.append(str(secs))
        fraction = nanos
    if fraction:
        parts.append("." + f"{fraction:09d}".rstrip("0"))
    parts.append("S")
    return "".join(parts)


def _truncating_div(numerator: int, denominator: int) -> int:
    """Integer division rounding toward zero, as Java's ``/`` does."""
    quotient = abs(numerator) // denominator
    return -quotient if numerator < 0 else quotient
