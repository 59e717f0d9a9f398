"""Execution and task-run ids: 22-character base62 UUIDs, like Kestra's."""

from __future__ import annotations

import uuid

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id() -> str:
    """A random, URL-safe id such as ``23F2KgSYm3uCfHJ00DvNxY``."""
    number = uuid.uuid4().int
    chars = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars)).rjust(22, "0")
