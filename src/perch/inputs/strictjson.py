"""JSON as Perch accepts it: no NaN or infinities, no lone surrogates, bounded nesting.

Python's ``json`` reads ``NaN``, ``Infinity`` and ``"\\ud800"`` happily; stored, such a value
cannot be written back as JSON (nor into PostgreSQL), and one of them broke every executions
page. Every JSON value a caller sends goes through :func:`loads` or :func:`check`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
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
    depth = _bracket_depth(text)
    if depth > _PARSE_CEILING:
        raise InvalidJson("the value is nested too deeply")
    unusual: list[str] = []

    def constant(name: str) -> float:
        unusual.append(name)
        return _constant(name)

    def number(digits: str) -> float:
        parsed = float(digits)
        if not math.isfinite(parsed):  # 1e400: too big for a float
            unusual.append(digits)
        return parsed

    try:
        if len(text) > YIELDING_PARSE:
            value = json.loads(
                text,
                parse_constant=constant,
                parse_float=number,
                object_hook=_yield,
                parse_int=_int,
            )
        else:
            value = json.loads(text, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise InvalidJson("the value is nested too deeply") from None
    # A parsed value can break a rule only through what its text shows: a constant or a number
    # out of range, a surrogate or a `\u` escape of one, more than MAX_DEPTH brackets. Without
    # the first two, only nesting needs a look, through the containers alone; the walk over
    # every value (as long as the parse itself for a big document) is not needed.
    if unusual or _may_hold_surrogate(text):
        check(value)
    elif text.count("[") + text.count("{") > MAX_DEPTH and not _nesting_within(value, MAX_DEPTH):
        check(value)  # says where
    return value


_IS_CONTAINER = frozenset({dict, list}).__contains__


def _nesting_within(value: Any, limit: int) -> bool:
    # Level by level, over lists and objects only (brackets inside strings make the bracket
    # count no measure of nesting).
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return False
        below: list[Any] = []
        for container in level:
            items = container.values() if type(container) is dict else container
            # Native iteration (a parsed value holds plain dicts and lists only).
            below.extend(itertools.compress(items, map(_IS_CONTAINER, map(type, items))))
        level = below
    return True


def _may_hold_surrogate(text: str) -> bool:
    return not _text_ok(text) or ("\\u" in text and _SURROGATE_ESCAPE.search(text) is not None)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


YIELDING_PARSE = 256 * 1024
"""Texts longer than this are parsed with hooks written in Python (they change nothing): the
C parser then lets other threads run at each object and number (at most ~10 ms apart) instead
of holding the interpreter for the whole text (~80 ms for an 8 MB body, ~240 ms for 600,000
numbers), which delayed every other request of the server, /health included."""


def _yield(value: dict[str, Any]) -> dict[str, Any]:
    return value


def _int(text: str) -> int:
    return int(text)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_SCAN_PIECE = 256 * 1024
"""Characters scanned per native call: each call holds the interpreter for well under 1 ms."""


def _bracket_depth(text: str) -> int:
    # An upper bound on nesting (brackets inside strings count too): cheap, and refuses a deep
    # document before the recursive parser ever sees it. Native calls over pieces of the text,
    # not a Python loop over its characters (that took 0.35 s for 8 MB).
    opening = text.count("[") + text.count("{")
    if opening <= _PARSE_CEILING:
        return opening
    depth = deepest = 0
    for start in range(0, len(text), _SCAN_PIECE):
        piece = text[start : start + _SCAN_PIECE].encode("utf-8", "surrogatepass")
        # Multi-byte characters encode to bytes >= 0x80: never taken for a bracket.
        brackets = piece.translate(None, _NOT_BRACKETS)
        if not brackets:
            continue
        levels = list(itertools.accumulate(map(_STEP.__getitem__, brackets), initial=depth))
        deepest = max(deepest, *levels)
        depth = levels[-1]
        if deepest > _PARSE_CEILING:
            break
    return deepest


def check(value: Any, path: str = "$") -> None:
    """Raise :class:`InvalidJson` if ``value`` holds a non-finite number, a lone surrogate or
    nesting deeper than :data:`MAX_DEPTH`."""
    if _acceptable(value):
        return
    _find_problem(value, path)


def _acceptable(value: Any) -> bool:
    # The common case, without building a path for every value (a third of the time).
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not _text_ok(item):
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return False
            if isinstance(item, dict):
                for key in item:
                    if isinstance(key, str) and not _text_ok(key):
                        return False
                stack.extend(zip(item.values(), itertools.repeat(depth + 1)))
            else:
                stack.extend(zip(item, itertools.repeat(depth + 1)))
    return True


def _find_problem(value: Any, path: str) -> None:
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            name = "NaN" if math.isnan(item) else _NAMES.get(item, item)
            raise InvalidJson(f"{name} is not a JSON number", where)
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


def _text_ok(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(text: str, where: str) -> None:
    if not _text_ok(text):
        raise InvalidJson("a text holds a lone surrogate", where)
