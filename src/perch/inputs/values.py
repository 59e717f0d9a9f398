"""Typed input values on their way out: SECRET values, and the JSON form kept in storage.

A SECRET input's value is a :class:`Secret` (see :mod:`perch.templating.taint`): a ``str`` in
every way that matters to a template or a task, whose ``repr`` is masked. ``str(secret)`` and
f-strings still give the real text on purpose: that is how a task uses it. Encryption at rest is
the store's job; :func:`serialize_input_value` can mask secrets for anything meant to be shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from perch.durations import format_duration
from perch.inputs.parsing import MASK
from perch.templating.taint import Secret

__all__ = ["Secret", "nest_values", "serialize_input_value"]


def serialize_input_value(value: Any, *, mask_secrets: bool = False) -> Any:
    """A JSON-able form of a typed input value, the inverse of reading it back by type.

    Dates, times and datetimes become ISO-8601 text (a datetime in UTC ends in ``Z``, like
    Java's ``Instant``), durations become ``PT…`` text, secrets stay marked (the store encrypts
    them; ``mask_secrets`` gives ``******``); lists and mappings are converted item by item.
    """
    if isinstance(value, Secret):
        return MASK if mask_secrets else value
    if isinstance(value, datetime):
        return _instant_text(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Mapping):
        return {
            str(k): serialize_input_value(v, mask_secrets=mask_secrets) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [serialize_input_value(v, mask_secrets=mask_secrets) for v in value]
    return value


def _instant_text(value: datetime) -> str:
    if value.tzinfo is None:
        return value.isoformat()
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def nest_values(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Turn dotted ids into nested mappings: ``{"a.b": 1}`` becomes ``{"a": {"b": 1}}``.

    When an id is also the prefix of another (``a`` and ``a.b``), the nested mapping wins;
    :func:`perch.inputs.declaration_problems` reports such declarations as an error.
    """
    nested: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: k.count(".")):
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(leaf), dict):
            node[leaf] = flat[key]
    return nested
