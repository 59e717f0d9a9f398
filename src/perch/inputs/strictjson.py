"""JSON as Perch accepts it: no NaN or infinities, no lone surrogates, bounded nesting.

Python's ``json`` reads ``NaN``, ``Infinity`` and ``"\\ud800"`` happily; stored, such a value
cannot be written back as JSON (nor into PostgreSQL), and one of them broke every executions
page. Every JSON value a caller sends goes through :func:`loads` or :func:`check`.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects a JSON value may have."""


class InvalidJson(ValueError):
    """A JSON value Perch refuses; ``path`` says where (``$`` is the whole value)."""

    def __init__(self, reason: str, path: str = "$") -> None:
        super().__init__(f"{reason} at {path}")
        self.reason = reason
        self.path = path
        self.too_deep = "nested" in reason


_PARSE_CEILING = 512
"""Nesting refused before parsing at all (the parser recurses); below it, :func:`check` names
where the value is too deep."""


def _constant(name: str) -> float:
    # Kept as a float so that check() can say where it was.
    return float(name)


def loads(text: str | bytes) -> Any:
    """Parse ``text`` and :func:`check` it: :class:`InvalidJson` for a value Perch refuses,
    ``json.JSONDecodeError`` (both ``ValueError``) for text that is not JSON at all."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidJson(f"the body is not UTF-8 ({error.reason})") from None
    if _bracket_depth(text) > _PARSE_CEILING:
        raise InvalidJson("the value is nested too deeply")
    try:
        if len(text) > YIELDING_PARSE:
            value = json.loads(
                text,
                parse_constant=_constant,
                object_hook=_yield,
                parse_int=_int,
                parse_float=_float,
            )
        else:
            value = json.loads(text, parse_constant=_constant)
    except RecursionError:
        raise InvalidJson("the value is nested too deeply") from None
    check(value)
    return value


YIELDING_PARSE = 256 * 1024
"""Texts longer than this are parsed with hooks written in Python (they change nothing): the
C parser then lets other threads run at each object and number (at most ~10 ms apart) instead
of holding the interpreter for the whole text (~80 ms for an 8 MB body, ~240 ms for 600,000
numbers), which delayed every other request of the server, /health included."""


def _yield(value: dict[str, Any]) -> dict[str, Any]:
    return value


def _int(text: str) -> int:
    return int(text)


def _float(text: str) -> float:
    return float(text)


def _bracket_depth(text: str) -> int:
    # An upper bound on nesting (brackets inside strings count too): cheap, and refuses a deep
    # document before the recursive parser ever sees it.
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > _PARSE_CEILING:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def check(value: Any, path: str = "$") -> None:
    """Raise :class:`InvalidJson` if ``value`` holds a non-finite number, a lone surrogate or
    nesting deeper than :data:`MAX_DEPTH`."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidJson(f"{_NAMES.get(item, item)} is not a JSON number", where)
        if isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InvalidJson(f"the value is nested more than {MAX_DEPTH} levels deep", where)
            if isinstance(item, dict):
                for key, child in item.items():
                    name = f"{where}.{key}" if isinstance(key, str) else where
                    if isinstance(key, str):
                        _check_text(key, name)
                    stack.append((child, name, depth + 1))
            else:
                stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


_NAMES = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJson("a text holds a lone surrogate", where) from None
