"""Trigger conditions: whether an upstream execution's state change, or a schedule's date,
satisfies a trigger's ``conditions``, ``states`` and ``preconditions``.

A condition is read by the last part of its type without a ``Condition`` suffix, so Kestra's
current names (``io.kestra.plugin.core.condition.ExecutionStatus``) and older ones
(``io.kestra.core.models.conditions.types.ExecutionStatusCondition``) mean the same.
:mod:`perch.flows.conditiontypes` lists what is understood; validation refuses the others.

Conditions that must all have happened, at different times, within a time window (the
``preconditions.flows`` of a Flow trigger, a ``MultipleCondition``) are *keys*: an event meets
some of them, :func:`perch.engine.flowtriggers` remembers which and when, and the trigger
fires once all are met inside the window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from perch.durations import parse_duration
from perch.engine.model import Execution
from perch.engine.states import StateType
from perch.errors import PerchError, UndefinedVariableError
from perch.flows.conditiontypes import (
    DATE_CONDITIONS,
    condition_name,
    nested_conditions,
)
from perch.flows.triggers import FlowTrigger, Preconditions, TimeWindow, Trigger
from perch.patterns import PatternError, compile_pattern
from perch.templating.values import truthy

Render = Callable[[str], Any]
"""Renders a template with the variables of what is being checked."""

DEFAULT_FLOW_STATES = frozenset(
    {
        StateType.FAILED,
        StateType.WARNING,
        StateType.SUCCESS,
        StateType.KILLED,
        StateType.CANCELLED,
        StateType.RETRIED,
        StateType.SKIPPED,
        StateType.PAUSED,
    }
)
"""The states a Flow trigger reacts to by default: Kestra's terminated states and PAUSED."""

_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_NTH = {"FIRST": 0, "SECOND": 1, "THIRD": 2, "FOURTH": 3}


class ConditionError(PerchError):
    """A condition that cannot be evaluated (an unknown type, a bad property)."""


@dataclass(frozen=True)
class Upstream:
    """What a Flow trigger looks at: an execution of another flow, entering ``state``."""

    execution: Execution
    state: StateType
    render: Render
    now: datetime


@dataclass(frozen=True)
class Verdict:
    """How one event stands against a trigger: refused, or meeting some of its keys."""

    concerned: bool
    met: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    window: TimeWindow | None = None
    reset_on_success: bool = True

    @property
    def complete(self) -> bool:
        """This event alone meets every key (or there are none): fire without any state."""
        return self.concerned and self.keys <= self.met


REFUSED = Verdict(concerned=False)


@dataclass
class _Keys:
    keys: set[str] = field(default_factory=set)
    met: set[str] = field(default_factory=set)
    window: TimeWindow | None = None
    reset: bool = True


def judge_flow_event(trigger: FlowTrigger, upstream: Upstream) -> Verdict:
    """Whether ``upstream`` concerns ``trigger``, and which of its keys it meets."""
    states = {StateType(s) for s in trigger.states} if trigger.states else DEFAULT_FLOW_STATES
    if upstream.state not in states:
        return REFUSED
    keys = _Keys()
    for condition in trigger.conditions or []:
        raw = condition.model_dump(by_alias=True, exclude_none=True)
        if condition_name(condition.type) in ("MultipleCondition", "Multiple"):
            _multiple(raw, upstream, keys)
        elif not execution_condition(raw, upstream):
            return REFUSED
    if trigger.preconditions is not None and not _preconditions(
        trigger.preconditions, upstream, keys
    ):
        return REFUSED
    if keys.keys and not keys.met:
        return REFUSED
    return Verdict(True, frozenset(keys.met), frozenset(keys.keys), keys.window, keys.reset)


def _preconditions(pre: Preconditions, upstream: Upstream, keys: _Keys) -> bool:
    for group in pre.where or []:
        results = [_filter(item.model_dump(), upstream) for item in group.filters]
        if not (any(results) if group.operand == "OR" else all(results)):
            return False
    execution = upstream.execution
    for index, flow in enumerate(pre.flows or []):
        key = f"{pre.id}.flows.{index}"
        keys.keys.add(key)
        if flow.namespace != execution.namespace:
            continue
        if flow.flowId is not None and flow.flowId != execution.flow_id:
            continue
        if flow.states and upstream.state.value not in flow.states:
            continue
        if flow.labels and not _has_labels(execution, flow.labels):
            continue
        keys.met.add(key)
    keys.window = pre.timeWindow
    keys.reset = pre.resetOnSuccess
    return True


def _multiple(raw: Mapping[str, Any], upstream: Upstream, keys: _Keys) -> None:
    name = str(raw.get("id", "multiple"))
    for key, inner in (raw.get("conditions") or {}).items():
        full = f"{name}.{key}"
        keys.keys.add(full)
        if isinstance(inner, dict) and execution_condition(inner, upstream):
            keys.met.add(full)
    window = raw.get("timeWindow")
    if isinstance(window, dict):
        keys.window = TimeWindow.model_validate(window)
    elif raw.get("window") is not None:
        keys.window = TimeWindow.model_validate(
            {
                "type": "DURATION_WINDOW",
                "window": raw["window"],
                "windowAdvance": raw.get("windowAdvance"),
            }
        )
    keys.reset = bool(raw.get("resetOnSuccess", True))


def execution_condition(raw: Mapping[str, Any], upstream: Upstream) -> bool:
    """One condition of a Flow trigger's ``conditions`` against ``upstream``."""
    name = condition_name(str(raw.get("type", "")))
    execution = upstream.execution
    if name == "ExecutionStatus":
        inside = raw.get("in")
        outside = raw.get("notIn")
        state = upstream.state.value
        return (not inside or state in inside) and (not outside or state not in outside)
    if name == "ExecutionFlow":
        return bool(
            raw.get("namespace") == execution.namespace and raw.get("flowId") == execution.flow_id
        )
    if name == "ExecutionNamespace":
        return _namespace_matches(raw, execution.namespace)
    if name == "ExecutionLabels":
        return _has_labels(execution, raw.get("labels") or {})
    if name == "HasRetryAttempt":
        return any(len(run.attempts) > 1 for run in execution.task_runs)
    if name in ("ExecutionOutputs", "Expression"):
        return truthy(_rendered(upstream, str(raw.get("expression", ""))))
    if name == "Not":
        return not any(execution_condition(c, upstream) for c in nested_conditions(raw))
    if name == "Or":
        return any(execution_condition(c, upstream) for c in nested_conditions(raw))
    if name in DATE_CONDITIONS:
        return date_condition(raw, upstream.now, upstream.render)
    raise ConditionError(f"Condition type '{raw.get('type')}' is not supported")


def _rendered(upstream: Upstream, text: str) -> Any:
    """An expression about the upstream execution; one naming a variable this execution does
    not have (a label others carry) is simply not true of it."""
    try:
        return upstream.render(text)
    except UndefinedVariableError:
        return None


def _namespace_matches(raw: Mapping[str, Any], namespace: str) -> bool:
    wanted = str(raw.get("namespace", ""))
    comparison = str(raw.get("comparison") or ("PREFIX" if raw.get("prefix") else "EQUALS"))
    if comparison == "PREFIX":
        return namespace.startswith(wanted)
    if comparison == "SUFFIX":
        return namespace.endswith(wanted)
    return namespace == wanted


def _has_labels(execution: Execution, wanted: Any) -> bool:
    if isinstance(wanted, list):
        pairs = [(str(w.get("key")), str(w.get("value"))) for w in wanted if isinstance(w, dict)]
    else:
        pairs = [(str(k), str(v)) for k, v in dict(wanted).items()]
    present = {(label.key, label.value) for label in execution.labels}
    return all(pair in present for pair in pairs)


def _filter(item: Mapping[str, Any], upstream: Upstream) -> bool:
    """One ``preconditions.where`` filter."""
    execution = upstream.execution
    subject = item["field"]
    actual: Any
    if subject == "FLOW_ID":
        actual = execution.flow_id
    elif subject == "NAMESPACE":
        actual = execution.namespace
    elif subject == "STATE":
        actual = upstream.state.value
    else:
        actual = _rendered(upstream, str(item.get("value") or ""))
    kind = item["type"]
    value = item.get("value")
    values = item.get("values") or []
    if subject == "EXPRESSION":
        # The expression is the value; the type says how to read its result.
        return _expression_result(kind, actual, values)
    text = "" if actual is None else str(actual)
    tests: dict[str, Callable[[], bool]] = {
        "EQUAL_TO": lambda: text == value,
        "NOT_EQUAL_TO": lambda: text != value,
        "IN": lambda: text in values,
        "NOT_IN": lambda: text not in values,
        "IS_NULL": lambda: actual is None,
        "IS_NOT_NULL": lambda: actual is not None,
        "IS_TRUE": lambda: truthy(actual),
        "IS_FALSE": lambda: not truthy(actual),
        "STARTS_WITH": lambda: value is not None and text.startswith(value),
        "ENDS_WITH": lambda: value is not None and text.endswith(value),
        "CONTAINS": lambda: value is not None and value in text,
        "REGEX": lambda: value is not None and _bounded_match(value, text),
    }
    return tests[kind]()


def _expression_result(kind: str, result: Any, values: list[str]) -> bool:
    text = "" if result is None else str(result)
    if kind == "IS_FALSE":
        return not truthy(result)
    if kind == "IS_NULL":
        return result is None or text == ""
    if kind == "IS_NOT_NULL":
        return not (result is None or text == "")
    if kind == "IN":
        return text in values
    if kind == "NOT_IN":
        return text not in values
    return truthy(result)


def _bounded_match(pattern: str, text: str) -> bool:
    """A REGEX filter, run on RE2 (linear time in the text; the pattern's size is capped)."""
    try:
        return compile_pattern(pattern).fullmatch(text) is not None
    except PatternError as exc:
        raise ConditionError(f"REGEX filter: {exc}") from exc


# --- conditions on a date (Schedule triggers, and Flow triggers at the time of the event) -----


def date_condition(raw: Mapping[str, Any], default: datetime, render: Render) -> bool:
    """A condition on a date: ``date`` (rendered; a Schedule's ``trigger.date`` by default)."""
    name = condition_name(str(raw.get("type", "")))
    when = _date_of(raw.get("date"), default, render)
    if name == "Weekend":
        return when.weekday() >= 5
    if name == "DayWeek":
        return _DAYS[when.weekday()] == str(raw.get("dayOfWeek", "")).upper()
    if name == "DayWeekInMonth":
        if _DAYS[when.weekday()] != str(raw.get("dayOfWeek", "")).upper():
            return False
        nth = str(raw.get("dayInMonth", "")).upper()
        if nth == "LAST":
            return (when + timedelta(days=7)).month != when.month
        return nth in _NTH and (when.day - 1) // 7 == _NTH[nth]
    if name == "TimeBetween":
        moment = when.timetz().replace(tzinfo=None)
        after = _time(raw.get("after"))
        before = _time(raw.get("before"))
        return (after is None or moment >= after) and (before is None or moment <= before)
    if name in ("DateTimeBetween", "DateTime"):
        after_at = _instant(raw.get("after"), when)
        before_at = _instant(raw.get("before"), when)
        return (after_at is None or when >= after_at) and (before_at is None or when <= before_at)
    raise ConditionError(f"Condition type '{raw.get('type')}' is not supported")


def _date_of(value: Any, default: datetime, render: Render) -> datetime:
    if value is None:
        return default
    rendered = render(str(value)) if isinstance(value, str) else value
    if isinstance(rendered, datetime):
        return rendered
    if isinstance(rendered, date):
        return datetime.combine(rendered, time(), UTC)
    try:
        parsed = datetime.fromisoformat(str(rendered).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConditionError(f"Condition date {rendered!r} is not a date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=default.tzinfo or UTC)


def _time(value: Any) -> time | None:
    if value is None:
        return None
    text = str(value).split("+")[0].rstrip("Z")
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise ConditionError(f"Condition time {value!r} is not a time (HH:MM:SS)") from exc


def _instant(value: Any, like: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConditionError(f"Condition date {value!r} is not a date and time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=like.tzinfo or UTC)


def schedule_conditions_hold(trigger: Trigger, when: datetime, render: Render) -> bool:
    """Whether every condition of a Schedule trigger holds at ``when``."""
    conditions = list(trigger.conditions or []) + list(
        getattr(trigger, "scheduleConditions", []) or []
    )
    for condition in conditions:
        raw = condition.model_dump(by_alias=True, exclude_none=True)
        name = condition_name(condition.type)
        if name == "Expression":
            if not truthy(render(str(raw.get("expression", "")))):
                return False
        elif name == "Not":
            if any(_date_or_expression(c, when, render) for c in nested_conditions(raw)):
                return False
        elif name == "Or":
            if not any(_date_or_expression(c, when, render) for c in nested_conditions(raw)):
                return False
        elif not date_condition(raw, when, render):
            return False
    return True


def _date_or_expression(raw: Mapping[str, Any], when: datetime, render: Render) -> bool:
    if condition_name(str(raw.get("type", ""))) == "Expression":
        return truthy(render(str(raw.get("expression", ""))))
    return date_condition(raw, when, render)


# --- time windows ------------------------------------------------------------------------------


def window_opening(window: TimeWindow | None, now: datetime) -> datetime | None:
    """When the window that holds ``now`` opened (keys met before it are forgotten), or None
    when ``now`` is outside every window (a daily window before its start or past its end,
    a deadline passed): nothing is recorded then."""
    kind = "DURATION_WINDOW" if window is None else window.type
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "SLIDING_WINDOW":
        length = parse_duration(window.window) if window and window.window else timedelta(days=1)
        return now - length
    if kind == "DAILY_TIME_DEADLINE":
        deadline = _time(window.deadline if window else None) or time(23, 59, 59)
        return midnight if now.time() <= deadline else None
    if kind == "DAILY_TIME_WINDOW":
        start = _time(window.startTime if window else None) or time(0)
        end = _time(window.endTime if window else None) or time(23, 59, 59, 999999)
        if not start <= now.time() <= end:
            return None
        return datetime.combine(now.date(), start, now.tzinfo)
    length = parse_duration(window.window) if window and window.window else timedelta(days=1)
    advance = (
        parse_duration(window.windowAdvance) if window and window.windowAdvance else timedelta()
    )
    if length <= timedelta():
        return midnight
    origin = midnight + advance
    if origin > now:
        origin -= timedelta(days=1)
    steps = (now - origin) // length
    return origin + steps * length
