"""Execution and task-run ids: 22-character base62 UUIDs, like Kestra's."""

from __future__ import annotations

import os

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Two base62 digits at a time: half the divisions of a digit-by-digit conversion.
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_BASE2 = 62 * 62
# The version and variant bits of a random (version 4) UUID, as uuid.uuid4() sets them.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)


def new_id() -> str:
    """A random, URL-safe id such as ``23F2KgSYm3uCfHJ00DvNxY``."""
    number = (int.from_bytes(os.urandom(16)) & _CLEAR) | _SET
    pairs = []
    while number:
        number, digits = divmod(number, _BASE2)
        pairs.append(_PAIRS[digits])
    text = "".join(reversed(pairs)).lstrip("0")
    return text.rjust(22, "0")
