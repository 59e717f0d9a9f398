"""The names of trigger conditions, and which of them Perch evaluates.

A condition is known by the last part of its type without a ``Condition`` suffix, so Kestra's
current names (``io.kestra.plugin.core.condition.ExecutionStatus``) and older ones
(``io.kestra.core.models.conditions.types.ExecutionStatusCondition``) mean the same.
Validation refuses the others (:func:`unsupported_conditions`), so that a condition is never
silently false.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXECUTION_CONDITIONS = frozenset(
    {
        "ExecutionStatus",
        "ExecutionFlow",
        "ExecutionNamespace",
        "ExecutionLabels",
        "ExecutionOutputs",
        "HasRetryAttempt",
    }
)
DATE_CONDITIONS = frozenset(
    {"DayWeek", "DayWeekInMonth", "Weekend", "TimeBetween", "DateTimeBetween", "DateTime"}
)
COMBINING = frozenset({"Expression", "Not", "Or", "MultipleCondition", "Multiple"})
SUPPORTED = EXECUTION_CONDITIONS | DATE_CONDITIONS | COMBINING


def condition_name(type_name: str) -> str:
    """``io.kestra.plugin.core.condition.ExecutionStatusCondition`` → ``ExecutionStatus``."""
    last = type_name.rsplit(".", 1)[-1]
    return last[: -len("Condition")] if last.endswith("Condition") and last != "Condition" else last


def unsupported_conditions(conditions: list[dict[str, Any]]) -> list[str]:
    """The condition types (nested ones too) this server does not evaluate."""
    found: list[str] = []
    for raw in conditions:
        name = condition_name(str(raw.get("type", "")))
        if name not in SUPPORTED:
            found.append(str(raw.get("type", "")))
        for nested in nested_conditions(raw):
            found.extend(unsupported_conditions([nested]))
    return found


def nested_conditions(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The conditions inside ``Not``, ``Or`` (a list) or ``MultipleCondition`` (a map)."""
    inner = raw.get("conditions")
    if isinstance(inner, list):
        return [c for c in inner if isinstance(c, dict)]
    if isinstance(inner, dict):
        return [c for c in inner.values() if isinstance(c, dict)]
    return []
