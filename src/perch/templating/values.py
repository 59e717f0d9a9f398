"""How template values print, compare, combine and count as true.

Printing follows Kestra: ``null`` prints nothing, booleans print ``true``/``false``, maps and
lists print as compact JSON, floats print like Java's ``Double.toString`` (``1.0``, ``1.0E10``),
dates print as ISO-8601 with ``Z`` for UTC.

Truth follows Kestra's rule for conditions: ``null``, ``false``, zero, and the strings that
trim to ``""``, ``"false"``, ``"0"`` or ``"-0"`` are false; so are empty lists and maps (as in
Pebble); everything else is true.

Arithmetic follows Pebble's widening rules: two integers give an integer (division and
remainder truncate toward zero, as in Java), anything with a float gives a float, ``+`` with a
string concatenates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from perch.errors import TemplateRenderError


def java_float(value: float) -> str:
    """Format a float like Java's ``Double.toString``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    figures = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + exponent
    return f"{'-' if sign else ''}{figures[0]}.{figures[1:] or '0'}E{power}"


def format_datetime(value: datetime) -> str:
    """ISO-8601 like Java's ``Instant``/``ZonedDateTime``: ``Z`` for UTC, no empty fraction."""
    if value.microsecond == 0:
        text = value.isoformat(timespec="seconds")
    elif value.microsecond % 1000 == 0:
        text = value.isoformat(timespec="milliseconds")
    else:
        text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, str):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    """Compact JSON as Kestra prints maps and lists."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def to_string(value: Any) -> str:
    """The text a value prints as in ``{{ … }}``."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return java_float(value)
    if isinstance(value, Mapping) or (
        isinstance(value, Sequence | set | frozenset)
        and not isinstance(value, str | bytes | bytearray)
    ):
        return to_json(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


_FALSE_TEXTS = frozenset({"", "false", "0", "-0"})


def truthy(value: Any) -> bool:
    """Whether a value counts as true in ``if``, ``and``, ``or``, ``not`` and ``? :``.

    On a rendered string this is exactly Kestra's rule for task conditions (``If``, ``runIf``):
    ``null`` and, once trimmed, ``""``, ``"false"``, ``"0"`` and ``"-0"`` are false.
    """
    if value is True:
        return True
    if value is False or value is None:
        return False
    if isinstance(value, str):
        return value.strip() not in _FALSE_TEXTS
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, Mapping | Sequence | set | frozenset):
        return len(value) > 0
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def equals(left: Any, right: Any) -> bool:
    """``==``: numbers compare by value across int and float; a boolean never equals a number."""
    if type(left) is type(right):
        return bool(left == right)
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    return bool(left == right)


def compare(op: str, left: Any, right: Any) -> bool:
    """``<``, ``<=``, ``>``, ``>=`` on numbers, strings or dates of the same kind."""
    if isinstance(left, bool) or isinstance(right, bool) or left is None or right is None:
        raise TemplateRenderError(
            f"Cannot compare {to_string(left)!r} and {to_string(right)!r} with '{op}'"
        )
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError as exc:
        raise TemplateRenderError(
            f"Cannot compare {type(left).__name__} and {type(right).__name__} with '{op}'"
        ) from exc


def _java_string(value: Any) -> str:
    # Pebble's '+' uses String.valueOf, which prints null as "null".
    return "null" if value is None else to_string(value)


def _numbers(op: str, left: Any, right: Any) -> None:
    if not (_is_number(left) and _is_number(right)):
        raise TemplateRenderError(
            f"Operator '{op}' needs numbers, got {type(left).__name__} and {type(right).__name__}"
        )


def add(left: Any, right: Any) -> Any:
    """``+``."""
    if type(left) is int and type(right) is int:
        return left + right
    if isinstance(left, str) or isinstance(right, str):
        return _java_string(left) + _java_string(right)
    if isinstance(left, list):
        return left + right if isinstance(right, list) else [*left, right]
    if isinstance(left, datetime) and isinstance(right, timedelta):
        return left + right
    _numbers("+", left, right)
    return left + right


def subtract(left: Any, right: Any) -> Any:
    """``-``."""
    if isinstance(left, datetime) and isinstance(right, timedelta | datetime):
        return left - right
    _numbers("-", left, right)
    return left - right


MAX_RANGE: Final = 1_000_000
"""Items of a range (``range()`` or ``a..b``)."""
MAX_INTEGER_BITS: Final = 1024
"""Integers stop growing here: a loop squaring a number would otherwise spend minutes in one
multiplication (Kestra's own numbers are 64-bit)."""


def multiply(left: Any, right: Any) -> Any:
    """``*``."""
    _numbers("*", left, right)
    if (
        type(left) is int
        and type(right) is int
        and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS + 1
    ):
        raise TemplateRenderError(f"The number is larger than the limit of {MAX_INTEGER_BITS} bits")
    return left * right


def divide(left: Any, right: Any) -> Any:
    """``/``: integer division truncates toward zero when both sides are integers."""
    _numbers("/", left, right)
    if isinstance(left, int) and isinstance(right, int):
        if right == 0:
            raise TemplateRenderError("Division by zero")
        quotient = abs(left) // abs(right)
        return quotient if (left >= 0) == (right >= 0) else -quotient
    if right == 0:
        if left == 0 or math.isnan(left):
            return math.nan
        return math.inf if (left > 0) == (math.copysign(1.0, right) > 0) else -math.inf
    return left / right


def modulo(left: Any, right: Any) -> Any:
    """``%``: the remainder takes the sign of the dividend, as in Java."""
    _numbers("%", left, right)
    if isinstance(left, int) and isinstance(right, int):
        if right == 0:
            raise TemplateRenderError("Division by zero")
        remainder = abs(left) % abs(right)
        return remainder if left >= 0 else -remainder
    if right == 0:
        return math.nan
    return math.fmod(left, right)


def negate(value: Any) -> Any:
    """Unary ``-``."""
    if not _is_number(value):
        raise TemplateRenderError(f"Unary '-' needs a number, got {type(value).__name__}")
    return -value


def positive(value: Any) -> Any:
    """Unary ``+``."""
    if not _is_number(value):
        raise TemplateRenderError(f"Unary '+' needs a number, got {type(value).__name__}")
    return value


def contains(container: Any, element: Any) -> bool:
    """``contains``: list membership (a list argument means all of it), substring, map key."""
    if container is None:
        return False
    if isinstance(container, str):
        return to_string(element) in container
    if isinstance(container, Mapping):
        try:
            return element in container
        except TypeError:
            return False
    if isinstance(container, Sequence | set | frozenset):
        if any(equals(item, element) for item in container):
            return True
        if isinstance(element, list | tuple) and element:
            return all(any(equals(i, e) for i in container) for e in element)
        return False
    raise TemplateRenderError(f"'contains' cannot look inside a {type(container).__name__}")


def make_range(start: Any, end: Any) -> list[int]:
    """``a..b``: the integers from ``a`` to ``b`` inclusive (descending when ``b < a``)."""
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
        raise TemplateRenderError("A range 'a..b' needs two integers")
    step = 1 if end >= start else -1
    if abs(end - start) >= MAX_RANGE:
        # a template must not be able to exhaust the server's memory
        raise TemplateRenderError(
            f"A range 'a..b' of {abs(end - start) + 1} items is more than the limit of {MAX_RANGE}"
        )
    return list(range(start, end + step, step))


def iterate(value: Any, line: int, column: int) -> list[Any]:
    """The items a single-variable ``for`` visits; a map gives ``{key, value}`` entries."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [{"key": k, "value": v} for k, v in value.items()]
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset | range):
        raise TemplateRenderError(
            f"Cannot loop over a {type(value).__name__}", line=line, column=column
        )
    return list(value)


def iterate_pairs(value: Any, line: int, column: int) -> list[tuple[Any, Any]]:
    """The pairs ``for k, v in …`` visits: a map's entries, or a list's indexes and items."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(enumerate(value))
    raise TemplateRenderError(
        f"Cannot loop over a {type(value).__name__}", line=line, column=column
    )
