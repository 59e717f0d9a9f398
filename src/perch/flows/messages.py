"""Problem messages in plain words, for people who write flows rather than Python.

Pydantic and the YAML parser describe what went wrong in their own terms ("Input should be a
valid dictionary", "expected <block end>, but found '<block mapping start>'"). The functions
here say the same thing in the flow author's terms: what was expected, what was found, and
when the cause is usually something else (indentation, a tab, an unquoted ``{{``), what to do.
"""

from __future__ import annotations

import math
import re
from typing import Any

from perch.inputs.base import ID_PATTERN

_SHOWN_TEXT = 40


def shown(value: Any) -> str:
    """How a value found in the flow is named in a message: ``a list``, ``'abc'``, ``300``."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping (key: value)"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int):
        text = str(value) if value.bit_length() < 128 else "a very large number"
        return text
    if isinstance(value, float):
        return "a number that is not finite" if not math.isfinite(value) else repr(value)
    if isinstance(value, str):
        text = value if len(value) <= _SHOWN_TEXT else value[: _SHOWN_TEXT - 1] + "…"
        return repr(text) if text else "an empty text"
    return type(value).__name__


_EXPECTED = {
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list (items written '- …')",
    "tuple_type": "a list (items written '- …')",
    "set_type": "a list (items written '- …')",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "date_type": "a date such as 2024-07-01",
    "date_parsing": "a date such as 2024-07-01",
    "datetime_type": "a date and time such as 2024-07-01T10:00:00Z",
    "datetime_parsing": "a date and time such as 2024-07-01T10:00:00Z",
}
_PATTERNS = {
    ID_PATTERN: (
        "input id",
        "use letters, digits, '.', '_' and '-', starting with a letter or a digit",
    ),
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def _plural(count: Any, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def pydantic_message(kind: str, ctx: dict[str, Any], value: Any, fallback: str) -> str:
    """The plain-words message for one pydantic error (``kind`` is its ``type``)."""
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {shown(value)}"
    if kind == "int_parsing_size":
        return "the number is too large"
    if kind == "finite_number":
        return "the number must be finite"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)}, got {shown(value)}"
    if kind == "too_short":
        wanted = ctx.get("min_length", 1)
        if wanted == 1:
            return "must not be empty"
        return f"must have at least {_plural(wanted, 'item')}"
    if kind == "too_long":
        return f"must have at most {_plural(ctx.get('max_length'), 'item')}"
    if kind == "string_too_long":
        length = len(value) if isinstance(value, str) else "more"
        return f"must be at most {ctx.get('max_length')} characters long (it has {length})"
    if kind == "string_too_short":
        return f"must be at least {_plural(ctx.get('min_length'), 'character')} long"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        if pattern in _PATTERNS:
            what, rule = _PATTERNS[pattern]
            return f"{shown(value)} is not a valid {what}: {rule}"
        return f"{shown(value)} does not match the pattern {pattern}"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected')}, got {shown(value)}"
    for prefix in ("Value error, ", "Assertion failed, "):
        fallback = fallback.removeprefix(prefix)
    return fallback


def merge_alternatives(messages: list[str]) -> list[str]:
    """Join the messages of a union's branches: ``expected text, got a list`` and ``expected a
    mapping, got a list`` become ``expected text or a mapping, got a list``."""
    found = [re.fullmatch(r"expected (.+), got (.+)", m, re.DOTALL) for m in messages]
    if len(messages) > 1 and all(found):
        got = {m.group(2) for m in found if m}
        if len(got) == 1:
            wanted = " or ".join(dict.fromkeys(m.group(1) for m in found if m))
            return [f"expected {wanted}, got {got.pop()}"]
    return messages


# --- YAML ----------------------------------------------------------------------------------

_INDENTATION = (
    "wrong indentation: this line does not line up with the lines above it "
    "(the keys of one mapping, and the items of one list, must start in the same column)"
)
_YAML_HINTS: tuple[tuple[str, str], ...] = (
    (
        "found character '\\t' that cannot start any token",
        "a tab character is not allowed for indentation in YAML; indent with spaces",
    ),
    ("expected <block end>, but found '<block mapping start>'", _INDENTATION),
    ("expected <block end>, but found '<block sequence start>'", _INDENTATION),
    ("expected <block end>, but found '-'", "a list item '- …' is not indented like its list"),
    (
        "mapping values are not allowed here",
        "unexpected ':' — a value that contains ': ' must be quoted, or the indentation is wrong",
    ),
    (
        "could not find expected ':'",
        "a key is missing its ':' (or a quoted value is not closed on this line)",
    ),
    (
        "did not find expected key",
        "expected a 'key: value' line here; check the indentation of this line",
    ),
    (
        "did not find expected '-' indicator",
        "expected a list item starting with '- ' here; check the indentation of this line",
    ),
    (
        "expected a single document in the stream",
        "a flow file must hold one YAML document, but '---' starts another one here",
    ),
    (
        "found unexpected end of stream",
        "the file ends inside a quoted value that is never closed",
    ),
    (
        "expected the node content, but found '<stream end>'",
        "the file ends inside a '[' or '{' that is never closed",
    ),
    (
        "expected <block end>, but found '<scalar>'",
        "unexpected text after a value: a value that starts with a quote or '{' ends where "
        "it closes; put the whole value in quotes (\"{{ a }} b\", or 'it''s' for a quote)",
    ),
    (
        "while parsing a flow sequence",
        "a list written with '[' is not closed with ']' before this point "
        "(or one of its items contains ': ' and must be quoted)",
    ),
    (
        "while parsing a flow mapping",
        "a mapping written with '{' is not closed with '}' before this point "
        "(or one of its values contains ': ' and must be quoted)",
    ),
)


def yaml_message(context: str | None, problem: str | None) -> str:
    """The plain-words message for a YAML parser error (its ``context`` and ``problem``)."""
    raw = " ".join(part for part in (context, problem) if part)
    for marker, hint in _YAML_HINTS:
        if marker in raw:
            return f"invalid YAML: {hint}"
    start = re.search(r"found character '(.)' that cannot start any token", raw)
    if start:
        return f"invalid YAML: a value cannot start with '{start.group(1)}'; put it in quotes"
    escape = re.search(r"found unknown escape character '(.)'", raw)
    if escape:
        char = escape.group(1)
        return (
            f"invalid YAML: '\\{char}' is not an escape a double-quoted value may use; "
            f"write '\\\\{char}', or use single quotes"
        )
    alias = re.search(r"found undefined alias '([^']*)'", raw)
    if alias:
        name = alias.group(1)
        return f"invalid YAML: the alias '*{name}' refers to no anchor '&{name}' above it"
    return f"invalid YAML: {raw}"


def character_message(character: Any, reason: str) -> str:
    """The message for a character that YAML text may not contain (NUL, most controls)."""
    if isinstance(character, int):
        return f"invalid YAML: the character U+{character:04X} is not allowed in YAML text"
    return f"invalid YAML: {reason}"
