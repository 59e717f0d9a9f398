"""Pebble expressions, the way Kestra evaluates them: strict, single-pass and sandboxed.

``{{ inputs.name ?? 'anonymous' }}`` compiles once to Python code, is cached by its source, and
renders against plain dicts and lists. See :mod:`perch.templating.environment` for the API.

Where Perch knowingly differs from Pebble:

- ``if``, ``and``, ``or``, ``not`` and ``? :`` accept any value and apply Kestra's truth rule
  (:func:`perch.templating.values.truthy`); Pebble rejects lists and reads strings with
  ``Boolean.valueOf``.
- ``is true`` and ``is false`` are tests (the seeds use ``x is false``).
- There are no macros, blocks, ``include``/``extends``/``import``, and no method calls on
  values: ``.`` reads map keys and list indexes only.
- ``{% for x in map %}`` visits ``{key, value}`` entries, like Pebble's ``Map.Entry``.
"""

from __future__ import annotations

from perch.templating.calls import CallContext
from perch.templating.environment import (
    Environment,
    Template,
    check_syntax,
    default_environment,
    is_template,
)
from perch.templating.references import Reference, references

__all__ = [
    "CallContext",
    "Environment",
    "Reference",
    "Template",
    "check_syntax",
    "default_environment",
    "is_template",
    "references",
]
