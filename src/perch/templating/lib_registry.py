"""How library filters and functions are wrapped, and the small value helpers they share.

Every filter and function is wrapped by :func:`library_call` so that a template author who
passes the wrong arguments, or a value of the wrong type, gets a
:class:`~perch.errors.TemplateRenderError` that names the filter — never a bare Python
``TypeError`` from deep inside the engine.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from perch.errors import PerchError, TemplateRenderError
from perch.templating import values
from perch.templating.budget import SMALL, check_made

LibraryFn = Callable[..., Any]

# Errors that, raised while a filter runs, mean "this input cannot be processed" rather
# than a bug in Perch: they are reported to the template author with the filter's name.
_INPUT_ERRORS = (ValueError, TypeError, ArithmeticError, LookupError)


def library_call(label: str, fn: LibraryFn) -> LibraryFn:
    """Wrap ``fn`` so that argument and input errors become ``TemplateRenderError``.

    ``label`` names the callable in messages, e.g. ``"The 'chunk' filter"``.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            if type(result) is str and len(result) > SMALL:
                check_made(len(result))
            return result
        except PerchError:
            raise
        except _INPUT_ERRORS as exc:
            # binding only after a failure keeps the common path free of signature checks
            if isinstance(exc, TypeError):
                try:
                    signature.bind(*args, **kwargs)
                except TypeError as bad:
                    target = label[:1].lower() + label[1:] if label.startswith("The ") else label
                    raise TemplateRenderError(f"Invalid arguments for {target}: {bad}") from None
            raise TemplateRenderError(f"{label} failed: {exc}") from exc

    return call


def type_name(value: Any) -> str:
    """A template-level name for the type of ``value`` (never a host class path)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    return "object"


def is_number(value: Any) -> bool:
    """True for int, float and Decimal, but not for bool (a bool is not a number in Pebble)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def require_str(label: str, value: Any, what: str = "input") -> str:
    """Return ``value`` if it is a string, else raise naming ``label``."""
    if not isinstance(value, str):
        raise TemplateRenderError(f"{label} expects a string {what}, got {type_name(value)}")
    return value


def require_int(label: str, value: Any, what: str) -> int:
    """Return ``value`` if it is an integer (or an integral float), else raise."""
    if isinstance(value, bool) or not is_number(value):
        raise TemplateRenderError(f"{label} expects an integer {what}, got {type_name(value)}")
    if isinstance(value, int):
        return value
    if value != int(value):
        raise TemplateRenderError(f"{label} expects an integer {what}, got {value}")
    return int(value)


def require_list(label: str, value: Any) -> list[Any]:
    """Return ``value`` as a list if it is a list or tuple, else raise."""
    if not isinstance(value, list | tuple):
        raise TemplateRenderError(f"{label} can only be applied to a list, got {type_name(value)}")
    return list(value)


def plain(value: Any) -> Any:
    """Turn ``value`` into JSON-compatible data (dates become ISO strings as Kestra prints them).

    Anything that is not template data (a host object) is refused rather than stringified, so
    no filter can reveal what an arbitrary object looks like inside.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Mapping):
        return {
            k if isinstance(k, str) else values.to_string(k): plain(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return values.format_datetime(value)
    if isinstance(value, date | time):
        return value.isoformat()
    raise TemplateRenderError(f"A value of type {type_name(value)} cannot be used here")


def to_json(value: Any) -> str:
    """Compact JSON as Kestra writes it (and as the engine prints maps and lists)."""
    return values.to_json(plain(value))


def to_text(value: Any) -> str:
    """The text a value prints as inside a filter (join, replace, escapeChar, ...).

    Strings print as themselves, ``null`` as an empty string, booleans as ``true``/``false``,
    maps and lists as compact JSON and dates in ISO form.
    """
    if isinstance(value, Mapping | list | tuple):
        return to_json(value)
    return values.to_string(plain(value))
