"""Regular expressions written in flows and matched on values typed by people.

A flow author writes a pattern (a STRING ``validator``, the ``split`` delimiter, ``replace`` with
``regexp=true``) and anybody who may answer a form supplies the text it runs on. A backtracking
engine such as Python's :mod:`re` can spend exponential time on a short answer
(``^([a-zA-Z0-9]+\\s?)+$`` against 28 characters held the whole process for seconds), so every
such pattern runs on RE2, whose matching time is linear in the text and whose memory is capped.

RE2 has no back-references and no look-around: a pattern that uses them is refused when it is
compiled, with RE2's reason, so that a flow using one fails validation rather than a task.
Compiled patterns are cached by text, as the same validator runs for every answer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

from perch.errors import PerchError

__all__ = ["MAX_PATTERN_LENGTH", "Pattern", "PatternError", "compile_pattern"]

MAX_PATTERN_LENGTH = 4_096
"""Longest pattern accepted, in characters."""

_MAX_PROGRAM_MEMORY = 8 << 20
"""Memory RE2 may use for one compiled pattern (a ``{1000}`` repetition grows it fast)."""

_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[0-9k]")

Pattern = Any
"""A compiled RE2 pattern: ``fullmatch``, ``search``, ``finditer`` and ``sub`` as in :mod:`re`."""


class PatternError(PerchError):
    """The regular expression cannot be used."""

    def __init__(self, pattern: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"`{pattern}` is not a valid regular expression: {reason}")


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise write every refused pattern to stderr
    options.max_mem = _MAX_PROGRAM_MEMORY
    return options


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled for linear-time matching, or :class:`PatternError` saying why not."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        reason = f"it is {len(pattern)} characters long; the limit is {MAX_PATTERN_LENGTH}"
        raise PatternError(pattern[:40] + "…", reason)
    try:
        return re2.compile(pattern, _options())
    except re2.error as error:
        raise PatternError(pattern, _reason(error)) from None


def _reason(error: Exception) -> str:
    raw = error.args[0] if error.args else str(error)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if "invalid perl operator" in text or _BACKREFERENCE.search(text):
        return (
            f"{text} (back-references and look-around are not supported: patterns run on RE2, "
            "whose matching time grows linearly with the text)"
        )
    if "pattern too large" in text:
        return f"{text} (the compiled pattern would need more than {_MAX_PROGRAM_MEMORY >> 20} MB)"
    return text
