"""What the engine itself provides: the ``is`` tests, ``default``, ``render`` and ``renderOnce``.

Filters and functions of the library (``date``, ``toJson``, ``now``, ``secret``…) live in
``filters.py`` and ``functions.py``; these few are here because they need the engine's notion of
"undefined" or its renderer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from perch.errors import TemplateRenderError
from perch.templating import budget
from perch.templating.calls import CallContext
from perch.templating.lookup import UNDEFINED


def is_empty(value: Any) -> bool:
    """Pebble's emptiness: null, blank strings and empty collections."""
    if value is None or value is UNDEFINED:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, Mapping | Sequence | set | frozenset):
        return len(value) == 0
    return False


def _integer(value: Any, test: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateRenderError(f"Test '{test}' needs a number, got {type(value).__name__}")
    if isinstance(value, float) and not value.is_integer():
        raise TemplateRenderError(f"Test '{test}' needs a whole number, got {value}")
    return int(value)


def _is_json(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _is_iterable(value: Any) -> bool:
    # Java maps are not Iterable, and neither are strings.
    return isinstance(value, Sequence | set | frozenset) and not isinstance(value, str | bytes)


TESTS: Final[dict[str, Callable[[Any], bool]]] = {
    "null": lambda value: value is None,
    "none": lambda value: value is None,
    "empty": is_empty,
    "even": lambda value: _integer(value, "even") % 2 == 0,
    "odd": lambda value: _integer(value, "odd") % 2 == 1,
    "iterable": _is_iterable,
    "map": lambda value: isinstance(value, Mapping),
    "json": _is_json,
    "true": lambda value: value is True,
    "false": lambda value: value is False,
}
"""Tests by name; ``defined`` is compiled specially because it must see undefined values."""


def default_filter(value: Any, fallback: Any = None) -> Any:
    """``x | default(y)``: ``y`` when ``x`` is undefined or empty, as Pebble decides emptiness."""
    return fallback if is_empty(value) else value


_RECURSION_LIMIT: Final = 50


def _needs_render(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def render_function(ctx: CallContext, value: Any = None, recursive: bool = True) -> Any:
    """``render(x)``: render the string ``x`` with the same variables, again while it changes."""
    if ctx.render is None:
        raise TemplateRenderError("render() is not available here")
    # Every pass spends one budget: the caller's, or one opened here.
    opened = budget.enter()
    try:
        for _ in range(_RECURSION_LIMIT):
            if not _needs_render(value):
                return value
            rendered = ctx.render(value)
            if not recursive or rendered == value:
                return rendered
            value = rendered
    finally:
        budget.leave(opened)
    raise TemplateRenderError("render() gave up: the value keeps producing new expressions")


def render_once_function(ctx: CallContext, value: Any = None) -> Any:
    """``renderOnce(x)``: one extra rendering pass over ``x``."""
    return render_function(ctx, value, recursive=False)


FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "render": render_function,
    "renderOnce": render_once_function,
}
