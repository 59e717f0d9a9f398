"""Collection filters: length, first/last, keys/values, sort, slice, merge, chunk, flatten, ...

Filters never modify their input (Pebble's ``sort`` and ``reverse`` sort the list in place;
Perch returns a new list so that a variable does not change under the template's feet).
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from perch.errors import TemplateRenderError
from perch.templating.budget import check_made
from perch.templating.lib_registry import (
    is_number,
    require_int,
    require_list,
    to_text,
    type_name,
)


def compare(left: Any, right: Any) -> int:
    """Order two template values as Pebble does: numbers by value, text by code point,
    booleans and dates among themselves. Raises for values that cannot be ordered."""
    if is_number(left) and is_number(right):
        a, b = Decimal(str(left)), Decimal(str(right))
    elif isinstance(left, str) and isinstance(right, str):
        a, b = left, right  # type: ignore[assignment]
    elif isinstance(left, bool) and isinstance(right, bool):
        a, b = Decimal(left), Decimal(right)
    elif _same_date_kind(left, right):
        a, b = left, right
    else:
        raise TemplateRenderError(f"Cannot compare {type_name(left)} with {type_name(right)}")
    return (a > b) - (a < b)


def _same_date_kind(left: Any, right: Any) -> bool:
    if isinstance(left, datetime) and isinstance(right, datetime):
        return (left.tzinfo is None) == (right.tzinfo is None)
    if isinstance(left, datetime) or isinstance(right, datetime):
        return False
    both_dates = isinstance(left, date) and isinstance(right, date)
    return both_dates or (isinstance(left, time) and isinstance(right, time))


def length(value: Any) -> int:
    """``length``: characters of a string, items of a list or map; 0 for ``null``."""
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    return 0


def join(value: Any, separator: Any = None) -> str | None:
    """``join(separator?)``: the items printed and glued with ``separator``."""
    if value is None:
        return None
    items = require_list("The 'join' filter", value)
    glue = "" if separator is None else to_text(separator)
    texts = [to_text(item) for item in items]
    check_made(sum(map(len, texts)) + len(glue) * max(len(texts) - 1, 0))
    return glue.join(texts)


def _ends(name: str, value: Any, index: int) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if value == "":
            raise TemplateRenderError(f"The '{name}' filter cannot be applied to an empty string")
        return value[index]
    items = require_list(f"The '{name}' filter", value)
    return items[index] if items else None


def first(value: Any) -> Any:
    """``first``: the first item of a list, or the first character of a string."""
    return _ends("first", value, 0)


def last(value: Any) -> Any:
    """``last``: the last item of a list, or the last character of a string."""
    return _ends("last", value, -1)


def keys(value: Any) -> list[Any] | None:
    """``keys``: the keys of a map, or the indexes of a list."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, list | tuple):
        return list(range(len(value)))
    raise TemplateRenderError(
        f"The 'keys' filter can only be applied to a list or a map, got {type_name(value)}"
    )


def values(value: Any) -> list[Any] | None:
    """``values``: the values of a map."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.values())
    raise TemplateRenderError(
        f"The 'values' filter can only be applied to a map, got {type_name(value)}"
    )


def reverse(value: Any) -> Any:
    """``reverse``: a list (or string) in reverse order."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[::-1]
    return require_list("The 'reverse' filter", value)[::-1]


def sort(value: Any) -> list[Any] | None:
    """``sort``: the items in ascending order (they must be comparable with each other)."""
    if value is None:
        return None
    items = require_list("The 'sort' filter", value)
    return sorted(items, key=functools.cmp_to_key(compare))


def rsort(value: Any) -> list[Any] | None:
    """``rsort``: the items in descending order."""
    if value is None:
        return None
    items = require_list("The 'rsort' filter", value)
    return sorted(items, key=functools.cmp_to_key(compare), reverse=True)


def slice_(value: Any, fromIndex: Any = None, toIndex: Any = None) -> Any:
    """``slice(fromIndex=0, toIndex=length)``: part of a list or string (end excluded)."""
    if value is None:
        return None
    label = "The 'slice' filter"
    start = 0 if fromIndex is None else require_int(label, fromIndex, "fromIndex")
    if start < 0:
        raise TemplateRenderError(f"{label}: fromIndex must be 0 or more")
    if not isinstance(value, str | list | tuple):
        raise TemplateRenderError(
            f"{label} can only be applied to a string or a list, got {type_name(value)}"
        )
    size = len(value)
    end = size if toIndex is None else require_int(label, toIndex, "toIndex")
    if end > size:
        raise TemplateRenderError(f"{label}: toIndex must not exceed the input size {size}")
    if toIndex is not None and start >= end:
        raise TemplateRenderError(f"{label}: toIndex must be greater than fromIndex")
    if start > size:
        raise TemplateRenderError(f"{label}: fromIndex must not exceed the input size {size}")
    return value[start:end] if isinstance(value, str) else list(value[start:end])


def merge(value: Any, items: Any = None) -> Any:
    """``merge(items)``: a map updated with another map, or a list followed by another list."""
    label = "The 'merge' filter"
    if value is None:
        if items is None:
            raise TemplateRenderError(f"{label}: both values to merge are null")
        return items
    if items is None:
        return value
    if isinstance(value, Mapping):
        if isinstance(items, Mapping):
            return {**value, **items}
        if isinstance(items, list | tuple):
            merged = dict(value)
            for item in items:
                if isinstance(item, list | dict):
                    raise TemplateRenderError(f"{label}: a list item used as a key must be text")
                merged[item] = item
            return merged
    elif isinstance(value, list | tuple):
        if isinstance(items, list | tuple):
            return [*value, *items]
        raise TemplateRenderError(f"{label}: only a list can be merged into a list")
    raise TemplateRenderError(
        f"{label} merges maps and lists, got {type_name(value)} and {type_name(items)}"
    )


def distinct(value: Any) -> list[Any] | None:
    """``distinct``: the items without repeats, in the order they first appear."""
    if value is None:
        return None
    seen: list[Any] = []
    for item in require_list("The 'distinct' filter", value):
        if not any(_same(item, other) for other in seen):
            seen.append(item)
    return seen


def _same(left: Any, right: Any) -> bool:
    # True == 1 in Python but not in Pebble: keep booleans apart from numbers
    return isinstance(left, bool) == isinstance(right, bool) and bool(left == right)


def chunk(value: Any, size: Any = None) -> list[list[Any]] | None:
    """``chunk(size)``: the list cut into lists of ``size`` items (the last may be shorter)."""
    if value is None:
        return None
    label = "The 'chunk' filter"
    if size is None:
        raise TemplateRenderError(f"{label} expects an argument 'size'")
    step = require_int(label, size, "size")
    if step <= 0:
        raise TemplateRenderError(f"{label} expects a size greater than 0, got {step}")
    items = require_list(label, value)
    return [items[i : i + step] for i in range(0, len(items), step)]


def flatten(value: Any) -> list[Any] | None:
    """``flatten``: one level of nested lists spliced into the list."""
    if value is None:
        return None
    out: list[Any] = []
    for item in require_list("The 'flatten' filter", value):
        if isinstance(item, list | tuple):
            out.extend(item)
        else:
            out.append(item)
    return out


def abs_(value: Any) -> Any:
    """``abs``: the absolute value of a number."""
    if value is None:
        raise TemplateRenderError("The 'abs' filter cannot be applied to null")
    if not is_number(value):
        raise TemplateRenderError(f"The 'abs' filter needs a number, got {type_name(value)}")
    return abs(value)


_ROUNDING = {
    "HALF_UP": decimal.ROUND_HALF_UP,
    "HALF_EVEN": decimal.ROUND_HALF_EVEN,
    "HALF_DOWN": decimal.ROUND_HALF_DOWN,
    "UP": decimal.ROUND_UP,
    "DOWN": decimal.ROUND_DOWN,
    "CEILING": decimal.ROUND_CEILING,
    "FLOOR": decimal.ROUND_FLOOR,
}


def round_(value: Any, precision: Any = 0, method: Any = "HALF_UP") -> Any:
    """``round(precision=0, method='HALF_UP')``: a number rounded to ``precision`` decimals.

    Not in Pebble's core set; Perch adds it because templates otherwise reach for
    ``numberformat`` just to round. ``method`` takes Java's ``RoundingMode`` names, and the
    default rounds halves away from zero as people do (not Python's round-half-even).
    A precision of 0 gives an integer.
    """
    label = "The 'round' filter"
    if value is None:
        raise TemplateRenderError(f"{label} cannot be applied to null")
    if not is_number(value):
        raise TemplateRenderError(f"{label} needs a number, got {type_name(value)}")
    places = require_int(label, precision, "precision")
    mode = _ROUNDING.get(str(method).upper())
    if mode is None:
        raise TemplateRenderError(f"{label} expects a method among {', '.join(_ROUNDING)}")
    quantum = decimal.Decimal(1).scaleb(-places)
    rounded = decimal.Decimal(str(value)).quantize(quantum, rounding=mode)
    return int(rounded) if places <= 0 else float(rounded)
