"""SECRET values, marked where they enter the engine, and the mark following them through rendering.

A secret's text is a :class:`Secret`: a ``str`` in every way that matters to a template or a task
(comparison, concatenation, ``json.dumps``), whose ``repr`` is masked. Python's string methods
return plain ``str``, so a mark alone would fall off at the first filter; instead each rendering
keeps a flag, raised by the lookup that reads a secret (or a map or list holding one) and by a
function that returns one. When the flag is up, the whole rendered value comes out marked
(:func:`mark`): ``{{ inputs.pw | upper }}``, ``{{ inputs | toJson }}`` and
``{{ 'x' ~ inputs.pw }}`` are all secrets. A nested rendering (``render()``) that read a secret
raises its caller's flag too. Nothing is matched by text: a value is masked because of where it
came from, never because it looks like a secret.

Whatever shows a value (the API, the CLI, logs) uses :func:`masked`; the engine keeps the real
text (a subflow input, a task property); the store encrypts marked values at rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from typing import Any, Final

MASK: Final = "******"
"""What is shown instead of a SECRET value."""


class Secret(str):
    """Text that comes from a SECRET value; its ``repr`` never shows it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"


_SCAN_LIMIT: Final = 100_000
"""How many containers :func:`holds_secret` visits before it answers True to be safe."""


def holds_secret(value: Any) -> bool:
    """Whether ``value`` is a :class:`Secret` or a map or list with one inside (keys included)."""
    kind = type(value)
    if kind is Secret:
        return True
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return False
    stack = [value]
    visited = 0
    while stack:
        node = stack.pop()
        visited += 1
        if visited > _SCAN_LIMIT:
            return True
        if isinstance(node, Mapping):
            for key, item in node.items():
                if isinstance(key, Secret) or isinstance(item, Secret):
                    return True
                if isinstance(item, Mapping | list | tuple):
                    stack.append(item)
        elif isinstance(node, Sequence) and not isinstance(node, str | bytes | bytearray):
            for item in node:
                if isinstance(item, Secret):
                    return True
                if isinstance(item, Mapping | list | tuple):
                    stack.append(item)
        elif isinstance(node, Secret):
            return True
    return False


def mark(value: Any) -> Any:
    """``value`` with every text in it marked as a secret (numbers become marked text too, so
    that ``{{ inputs.pin | number }}`` cannot show the pin); booleans and null stay as they are."""
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        from perch.templating.values import to_string

        return Secret(to_string(value))
    if isinstance(value, Mapping):
        return {mark(k) if isinstance(k, str) else k: mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mark(v) for v in value]
    return value


def masked(value: Any) -> Any:
    """``value`` as it may be shown: every :class:`Secret` in it replaced by ``******``; the
    same object when it holds none."""
    if not holds_secret(value):
        return value
    return _masked(value)


def _masked(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Mapping):
        return {_masked(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


# --- the flag of the rendering under way ----------------------------------------------------

_reading: ContextVar[list[bool] | None] = ContextVar("perch_secret_reading", default=None)


def begin() -> Token[list[bool] | None]:
    """Start tracking one rendering; hand the token to :func:`end`."""
    return _reading.set([False])


def end(token: Token[list[bool] | None]) -> bool:
    """Stop tracking the rendering started by ``token``; whether it read a secret. A nested
    rendering that did raises the enclosing one's flag as well."""
    state = _reading.get()
    _reading.reset(token)
    read = bool(state and state[0])
    if read:
        outer = _reading.get()
        if outer is not None:
            outer[0] = True
    return read


def reading_secret() -> bool:
    """Whether the rendering under way has read a secret so far."""
    state = _reading.get()
    return bool(state and state[0])


def note(value: Any) -> Any:
    """Raise the current rendering's flag when ``value`` is or holds a secret; return it."""
    kind = type(value)
    if kind is Secret or (
        kind is not str
        and kind is not int
        and kind is not bool
        and kind is not float
        and value is not None
        and holds_secret(value)
    ):
        state = _reading.get()
        if state is not None:
            state[0] = True
    return value
