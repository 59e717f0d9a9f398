"""Sandboxed variable and attribute lookup.

This module is the only way a template reaches into a value, and it never calls ``getattr``:
``.`` and ``[]`` read keys of mappings and indexes of sequences, nothing else. A name that
starts with ``__`` is refused outright (:class:`TemplateSecurityError`), and so is any name
starting with ``_`` on a host object (a string, a number, a date); other lookups on host objects
find nothing. Strict lookups raise :class:`UndefinedVariableError` with the dotted name that
failed and its position; :func:`chain_soft` returns :data:`UNDEFINED` instead, for the
operators that handle undefined values (``??``, ``???``, ``is defined``, ``default``).

Every value a lookup returns is shown to :func:`perch.templating.taint.note`, so a rendering that
reads a SECRET value (or a map or list holding one) comes out marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from perch.errors import TemplateSecurityError, UndefinedVariableError
from perch.templating.taint import note


class _Undefined:
    """The marker for "no such variable" in soft lookups; never visible to templates."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()
_MISSING: Final = object()


def is_forbidden(key: object) -> bool:
    """True for names a template may never look up (dunders)."""
    return isinstance(key, str) and key.startswith("__")


def _security(key: object, line: int, column: int) -> TemplateSecurityError:
    return TemplateSecurityError(
        f"Access to '{key}' is not allowed in expressions", line=line, column=column
    )


def get_one(obj: Any, key: Any) -> Any:
    """Look ``key`` up in ``obj`` the Pebble way; return ``_MISSING`` when absent."""
    if isinstance(obj, Mapping):
        try:
            return obj[key]
        except (KeyError, TypeError):
            pass
        # Keys read from YAML or JSON are strings: map.1 and map[1] find the key "1".
        if type(key) is int:
            return obj.get(str(key), _MISSING)
        return _MISSING
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes | bytearray):
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if type(key) is int and 0 <= key < len(obj):
            return obj[key]
    return _MISSING


def _is_host_object(value: Any) -> bool:
    """Not a container: a string, a number, a date or any other object."""
    return isinstance(value, str | bytes | bytearray) or not isinstance(value, Mapping | Sequence)


def _display(prefix: str, keys: tuple[Any, ...], upto: int) -> str:
    parts = [str(k) for k in keys[: upto + 1]]
    if prefix:
        parts.insert(0, prefix)
    return ".".join(parts)


def chain(obj: Any, keys: tuple[Any, ...], prefix: str, line: int, column: int) -> Any:
    """Follow ``keys`` from ``obj`` strictly; ``prefix`` names ``obj`` in error messages."""
    value = obj
    for key in keys:
        # Plain dicts are by far the common case; everything else takes the slow path.
        if type(value) is dict:
            found = value.get(key, _MISSING)
            if found is not _MISSING:
                value = found
                continue
        return _chain_slow(obj, keys, prefix, line, column)
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return value
    return note(value)


def _chain_slow(obj: Any, keys: tuple[Any, ...], prefix: str, line: int, column: int) -> Any:
    value = obj
    for index, key in enumerate(keys):
        if is_forbidden(key):
            raise _security(key, line, column)
        found = get_one(value, key)
        if found is _MISSING:
            if _is_host_object(value) and str(key).startswith("_"):
                raise _security(key, line, column)
            raise UndefinedVariableError(_display(prefix, keys, index), line=line, column=column)
        value = found
    return note(value)


def chain_soft(obj: Any, keys: tuple[Any, ...]) -> Any:
    """Follow ``keys`` from ``obj``; return :data:`UNDEFINED` when any step is missing."""
    value = obj
    for key in keys:
        if type(value) is dict:
            value = value.get(key, UNDEFINED)
            if value is UNDEFINED:
                return UNDEFINED
            continue
        if value is UNDEFINED:
            return UNDEFINED
        if is_forbidden(key):
            raise TemplateSecurityError(f"Access to '{key}' is not allowed in expressions")
        value = get_one(value, key)
        if value is _MISSING:
            return UNDEFINED
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return value
    return note(value)


def item(obj: Any, key: Any, name: str, line: int, column: int) -> Any:
    """``obj[key]`` with a key computed at render time, strictly."""
    if is_forbidden(key):
        raise _security(key, line, column)
    found = get_one(obj, key)
    if found is _MISSING:
        raise UndefinedVariableError(f"{name}[{key!r}]", line=line, column=column)
    return note(found)
