"""Java ``DateTimeFormatter`` patterns (``yyyy-MM-dd'T'HH:mm:ss.SSSXXX``) for Python datetimes.

Kestra flows format dates with Java pattern letters, so Perch reads the same patterns. A pattern
is compiled once (cached) into a tuple of tokens; :func:`format_datetime` prints an aware
``datetime`` with it and :mod:`perch.templating.lib_javaparse` parses text with it.

Text fields (month and day names, AM/PM, eras) are printed in English: a pattern that needs
text in another locale is refused rather than printed wrongly. Week fields follow the US
rules Java applies for the ``en_US`` locale (weeks start on Sunday, week 1 contains Jan 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from perch.errors import TemplateRenderError

# fmt: off
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# fmt: on
QUARTER_NAMES = ("1st quarter", "2nd quarter", "3rd quarter", "4th quarter")

# Maximum number of repeated letters Java accepts for each letter; None means any count.
_MAX_COUNT: dict[str, int | None] = {
    **dict.fromkeys("uyY"),  # years take any number of letters
    **dict.fromkeys("WFa", 1),
    **dict.fromkeys("dwhKkHmsV", 2),
    "D": 3,
    **dict.fromkeys("vzO", 4),
    **dict.fromkeys("GMLQqEecXxZ", 5),
    "S": 9,
    **dict.fromkeys("AnN", 19),
}
TEXT_LETTERS = frozenset("GEa")  # letters whose output is always a word
_RESERVED = frozenset("#{}")
US_FIRST_DAY = 7  # ISO number of Sunday
US_MIN_DAYS = 1


@dataclass(frozen=True, slots=True)
class Field:
    """A run of one pattern letter, such as ``yyyy`` (letter ``y``, count 4)."""

    letter: str
    count: int

    def needs_text(self) -> bool:
        """True if printing this field produces locale-dependent words."""
        if self.letter in TEXT_LETTERS:
            return True
        if self.letter in "MLQqec" and self.count >= 3:
            return True
        return self.letter in "zv"


@dataclass(frozen=True, slots=True)
class Literal:
    """Text printed as is."""

    text: str


@dataclass(frozen=True, slots=True)
class Optional:
    """``[`` (start=True) or ``]`` (start=False): an optional section, printed when formatting."""

    start: bool


Token = Field | Literal | Optional


def _bad(pattern: str, why: str) -> TemplateRenderError:
    return TemplateRenderError(f"Invalid date pattern '{pattern}': {why}")


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> tuple[Token, ...]:
    """Split a Java date pattern into tokens, checking it as ``DateTimeFormatter.ofPattern`` does.

    Raises :class:`TemplateRenderError` on unknown or reserved letters, runs that are too long,
    unterminated quotes and unbalanced brackets.
    """
    tokens: list[Token] = []
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch.isascii() and ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            count = j - i
            if ch == "p":
                raise _bad(pattern, "the pad letter 'p' is not supported")
            if ch not in _MAX_COUNT:
                raise _bad(pattern, f"unknown pattern letter '{ch}'")
            limit = _MAX_COUNT[ch]
            if (limit is not None and count > limit) or (ch == "V" and count != 2):
                raise _bad(pattern, f"too many pattern letters '{ch * count}'")
            if (ch == "v" and count not in (1, 4)) or (ch == "O" and count not in (1, 4)):
                raise _bad(pattern, f"pattern letter count must be 1 or 4: '{ch * count}'")
            if ch == "c" and count == 2:
                raise _bad(pattern, "invalid pattern 'cc'")
            tokens.append(Field(ch, count))
            i = j
        elif ch == "'":
            j = i + 1
            text: list[str] = []
            while True:
                if j >= n:
                    raise _bad(pattern, "it ends with an unterminated quoted text")
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            # '' outside quotes is one literal quote
            tokens.append(Literal("".join(text) if j > i + 1 else "'"))
            i = j + 1
        elif ch == "[":
            depth += 1
            tokens.append(Optional(True))
            i += 1
        elif ch == "]":
            if depth == 0:
                raise _bad(pattern, "']' without a matching '['")
            depth -= 1
            tokens.append(Optional(False))
            i += 1
        elif ch in _RESERVED:
            raise _bad(pattern, f"'{ch}' is reserved")
        else:
            tokens.append(Literal(ch))
            i += 1
    return tuple(tokens)


# --- week rules ------------------------------------------------------------------------------


def localized_dow(day: date, first_day: int = US_FIRST_DAY) -> int:
    """Day of week counted from the locale's first day (1..7)."""
    return (day.isoweekday() - first_day) % 7 + 1


def _week_number(offset: int, day_of_period: int) -> int:
    return (7 + offset + (day_of_period - 1)) // 7


def _week_offset(day_of_period: int, dow: int, min_days: int) -> int:
    """How many days before the period's start its first week starts (negative: after)."""
    week_start = (day_of_period - dow) % 7
    offset = -week_start
    if week_start + 1 > min_days:
        offset = 7 - week_start
    return offset


def week_of_month(day: date, first_day: int = US_FIRST_DAY, min_days: int = US_MIN_DAYS) -> int:
    """Java ``WeekFields.weekOfMonth()``."""
    dow = localized_dow(day, first_day)
    return _week_number(_week_offset(day.day, dow, min_days), day.day)


def week_based(
    day: date, first_day: int = US_FIRST_DAY, min_days: int = US_MIN_DAYS
) -> tuple[int, int]:
    """Java ``weekBasedYear`` and ``weekOfWeekBasedYear``: ``(year, week)``."""
    dow = localized_dow(day, first_day)
    doy = day.timetuple().tm_yday
    offset = _week_offset(doy, dow, min_days)
    week = _week_number(offset, doy)
    if week == 0:
        # the day belongs to the last week of the previous year, like that year's last day
        return week_based(day - timedelta(days=doy), first_day, min_days)
    year_length = 366 if _is_leap(day.year) else 365
    next_year_week = _week_number(offset, year_length + min_days)
    if week >= next_year_week:
        return day.year + 1, week - next_year_week + 1
    return day.year, week


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# --- offsets and zones -----------------------------------------------------------------------


def offset_text(seconds: int, style: str, zero: str) -> str:
    """Print a UTC offset in one of Java's ``appendOffset`` styles (``+HH:MM``, ``+HHmm``, ...).

    ``style`` is one of ``+HHmm``, ``+HHMM``, ``+HH:MM``, ``+HHMMss``, ``+HH:MM:ss``.
    """
    if seconds == 0:
        return zero
    sign = "+" if seconds > 0 else "-"
    total = abs(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    colon = ":" if ":" in style else ""
    text = f"{sign}{hours:02d}"
    if style == "+HHmm":
        return text + (f"{minutes:02d}" if minutes or secs else "")
    text += f"{colon}{minutes:02d}"
    if style.endswith("ss") and secs:
        text += f"{colon}{secs:02d}"
    return text


def localized_offset(seconds: int, full: bool) -> str:
    """Java's ``O``/``OOOO`` and ``ZZZZ`` form: ``GMT``, ``GMT+8``, ``GMT+08:00``."""
    if seconds == 0:
        return "GMT"
    sign = "+" if seconds > 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if full:
        text = f"GMT{sign}{hours:02d}:{minutes:02d}"
        return text + (f":{secs:02d}" if secs else "")
    text = f"GMT{sign}{hours}"
    if minutes or secs:
        text += f":{minutes:02d}"
    if secs:
        text += f":{secs:02d}"
    return text


def zone_id(value: datetime) -> str:
    """The Java zone id of an aware datetime: a region (``Europe/Paris``) or an offset id."""
    tz = value.tzinfo
    if isinstance(tz, ZoneInfo):
        return tz.key
    seconds = _offset_seconds(value)
    name = tz.tzname(value) if tz is not None else None
    if isinstance(tz, timezone) and name and name[:3] in ("UTC", "GMT") and name != "UTC":
        return name  # a prefixed id such as UTC+01:00 keeps its spelling
    return offset_text(seconds, "+HH:MM:ss", "Z")


def _offset_seconds(value: datetime) -> int:
    delta = value.utcoffset()
    if delta is None:
        raise TemplateRenderError("This date pattern needs a time zone")
    return int(delta.total_seconds())


def _zone_short_name(value: datetime) -> str:
    tz = value.tzinfo
    if isinstance(tz, ZoneInfo):
        return value.tzname() or tz.key
    if _offset_seconds(value) == 0 and zone_id(value) in ("Z", "UTC"):
        return "UTC" if zone_id(value) == "UTC" else "Z"
    return zone_id(value)


# --- formatting ------------------------------------------------------------------------------


def _number(value: int, count: int) -> str:
    if value < 0:
        return "-" + str(-value).zfill(count)
    return str(value).zfill(count)


def _year(value: int, count: int) -> str:
    if count == 2:
        return f"{value % 100:02d}"
    text = _number(value, count)
    if count >= 4 and value > 9999:
        text = "+" + text  # Java's EXCEEDS_PAD sign style
    return text


def _text(names: tuple[str, ...], index: int, count: int) -> str:
    full = names[index]
    if count == 4:
        return full
    if count == 5:
        return full[0]
    return full[:3]


def format_field(field: Field, value: datetime) -> str:
    """Print one pattern field of an aware datetime."""
    letter, count = field.letter, field.count
    match letter:
        case "G":
            return "Anno Domini" if count == 4 else ("A" if count == 5 else "AD")
        case "y" | "u":
            return _year(value.year, count)
        case "Y":
            return _year(week_based(value.date())[0], count)
        case "M" | "L":
            if count >= 3:
                return _text(MONTHS, value.month - 1, count)
            return _number(value.month, count)
        case "d":
            return _number(value.day, count)
        case "D":
            return _number(value.timetuple().tm_yday, count)
        case "Q" | "q":
            quarter = (value.month - 1) // 3 + 1
            if count == 3:
                return f"Q{quarter}"
            if count == 4:
                return QUARTER_NAMES[quarter - 1]
            return _number(quarter, 1 if count == 5 else count)
        case "w":
            return _number(week_based(value.date())[1], count)
        case "W":
            return _number(week_of_month(value.date()), count)
        case "F":
            return str((value.day - 1) // 7 + 1)
        case "E":
            return _text(DAYS, value.weekday(), count)
        case "e" | "c":
            if count >= 3:
                return _text(DAYS, value.weekday(), count)
            return _number(localized_dow(value.date()), count)
        case "a":
            return "AM" if value.hour < 12 else "PM"
        case "H":
            return _number(value.hour, count)
        case "k":
            return _number(value.hour or 24, count)
        case "K":
            return _number(value.hour % 12, count)
        case "h":
            return _number(value.hour % 12 or 12, count)
        case "m":
            return _number(value.minute, count)
        case "s":
            return _number(value.second, count)
        case "S":
            return f"{value.microsecond * 1000:09d}"[:count]
        case "n":
            return _number(value.microsecond * 1000, count)
        case "A":
            millis = ((value.hour * 60 + value.minute) * 60 + value.second) * 1000
            return _number(millis + value.microsecond // 1000, count)
        case "N":
            nanos = ((value.hour * 60 + value.minute) * 60 + value.second) * 10**9
            return _number(nanos + value.microsecond * 1000, count)
        case "V":
            return zone_id(value)
        case "z" | "v":
            return zone_id(value) if count == 4 else _zone_short_name(value)
        case "O":
            return localized_offset(_offset_seconds(value), full=count == 4)
        case "X" | "x":
            style = ("+HHmm", "+HHMM", "+HH:MM", "+HHMMss", "+HH:MM:ss")[count - 1]
            zero = (
                "Z" if letter == "X" else ("+00", "+0000", "+00:00", "+0000", "+00:00")[count - 1]
            )
            return offset_text(_offset_seconds(value), style, zero)
        case "Z":
            seconds = _offset_seconds(value)
            if count == 4:
                return localized_offset(seconds, full=True)
            if count == 5:
                return offset_text(seconds, "+HH:MM:ss", "Z")
            return offset_text(seconds, "+HHMM", "+0000")
    raise TemplateRenderError(f"Pattern letter '{letter}' is not supported")


def check_locale(pattern: str, tokens: tuple[Token, ...], locale: str | None) -> None:
    """Refuse patterns that would need month or day names in a language Perch cannot print."""
    if locale is None:
        return
    language = locale.replace("-", "_").split("_")[0].lower()
    if language in ("", "en", "root"):
        return
    if any(isinstance(t, Field) and t.needs_text() for t in tokens):
        raise TemplateRenderError(
            f"Locale '{locale}' is not supported for the text fields of date pattern '{pattern}';"
            " only English names are available"
        )


def format_datetime(value: datetime, pattern: str, locale: str | None = None) -> str:
    """Format an aware ``datetime`` with a Java ``DateTimeFormatter`` pattern.

    >>> format_datetime(datetime(2024, 3, 5, 14, 7, tzinfo=timezone.utc), "dd MMM yyyy HH:mm X")
    '05 Mar 2024 14:07 Z'
    """
    tokens = compile_pattern(pattern)
    check_locale(pattern, tokens, locale)
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, Literal):
            parts.append(token.text)
        elif isinstance(token, Field):
            parts.append(format_field(token, value))
        # optional brackets print their content: every field of a zoned value is available
    return "".join(parts)
