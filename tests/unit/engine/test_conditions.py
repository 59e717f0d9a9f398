"""Trigger conditions on their own: which upstream state changes concern a Flow trigger, which
of its keys they meet, the date conditions and the time windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from perch.engine.conditions import (
    ConditionError,
    Upstream,
    date_condition,
    judge_flow_event,
    window_opening,
)
from perch.engine.model import Execution, Label
from perch.engine.states import State, StateType
from perch.flows.triggers import FlowTrigger, TimeWindow
from perch.templating import default_environment

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday


def execution(
    namespace: str = "company.team", flow_id: str = "upstream", **labels: str
) -> Execution:
    return Execution(
        id="e1",
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=1,
        state=State.new(NOW, StateType.SUCCESS),
        labels=tuple(Label(k, v) for k, v in labels.items()),
    )


def upstream(run: Execution, state: StateType = StateType.SUCCESS) -> Upstream:
    variables = {"labels": {label.key: label.value for label in run.labels}}

    def render(text: str) -> Any:
        return default_environment().render_value(text, variables)

    return Upstream(run, state, render, NOW)


def trigger(**fields: Any) -> FlowTrigger:
    return FlowTrigger.model_validate(
        {"id": "t", "type": "io.kestra.plugin.core.trigger.Flow", **fields}
    )


def test_default_states_are_the_terminated_ones_and_paused() -> None:
    plain = trigger()
    assert judge_flow_event(plain, upstream(execution(), StateType.SUCCESS)).complete
    assert judge_flow_event(plain, upstream(execution(), StateType.PAUSED)).complete
    assert not judge_flow_event(plain, upstream(execution(), StateType.RUNNING)).concerned
    listed = trigger(states=["RUNNING"])
    assert judge_flow_event(listed, upstream(execution(), StateType.RUNNING)).complete
    assert not judge_flow_event(listed, upstream(execution(), StateType.SUCCESS)).concerned


def test_older_conditions_must_all_hold() -> None:
    conditions = [
        {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS"]},
        {
            "type": "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
            "namespace": "company",
            "comparison": "PREFIX",
        },
        {"type": "io.kestra.plugin.core.condition.ExecutionLabels", "labels": {"team": "hr"}},
        {
            "type": "io.kestra.plugin.core.condition.Not",
            "conditions": [
                {
                    "type": "io.kestra.plugin.core.condition.ExecutionFlow",
                    "namespace": "company.team",
                    "flowId": "other",
                }
            ],
        },
    ]
    judged = trigger(conditions=conditions)
    assert judge_flow_event(judged, upstream(execution(team="hr"))).complete
    assert not judge_flow_event(judged, upstream(execution(team="it"))).concerned
    assert not judge_flow_event(judged, upstream(execution("elsewhere", team="hr"))).concerned
    assert not judge_flow_event(judged, upstream(execution(team="hr"), StateType.FAILED)).concerned


def test_preconditions_name_keys_and_where_filters_refuse() -> None:
    pre = {
        "id": "both",
        "flows": [
            {"namespace": "company.team", "flowId": "a", "states": ["SUCCESS"]},
            {"namespace": "company.team", "flowId": "b"},
        ],
        "where": [
            {
                "id": "w",
                "operand": "OR",
                "filters": [
                    {"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ labels.go == 'yes' }}"},
                    {"field": "FLOW_ID", "type": "REGEX", "value": "^b$"},
                ],
            }
        ],
    }
    judged = trigger(preconditions=pre)
    verdict = judge_flow_event(judged, upstream(execution(flow_id="a", go="yes")))
    assert verdict.concerned
    assert not verdict.complete
    assert verdict.met == {"both.flows.0"}
    assert verdict.keys == {"both.flows.0", "both.flows.1"}
    assert not judge_flow_event(judged, upstream(execution(flow_id="a", go="no"))).concerned
    assert judge_flow_event(judged, upstream(execution(flow_id="b"))).met == {"both.flows.1"}
    assert not judge_flow_event(judged, upstream(execution(flow_id="c", go="yes"))).concerned


def test_a_regex_filter_runs_on_re2_and_a_bad_one_says_why() -> None:
    pre = {
        "id": "p",
        "where": [{"id": "w", "filters": [{"field": "FLOW_ID", "type": "REGEX", "value": "(a"}]}],
    }
    with pytest.raises(ConditionError, match="REGEX filter"):
        judge_flow_event(trigger(preconditions=pre), upstream(execution()))


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"type": "io.kestra.plugin.core.condition.Weekend"}, False),
        ({"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "WEDNESDAY"}, True),
        (
            {
                "type": "io.kestra.plugin.core.condition.DayWeekInMonth",
                "dayOfWeek": "WEDNESDAY",
                "dayInMonth": "FIRST",
            },
            True,
        ),
        (
            {
                "type": "io.kestra.plugin.core.condition.DayWeekInMonth",
                "dayOfWeek": "WEDNESDAY",
                "dayInMonth": "LAST",
            },
            False,
        ),
        (
            {
                "type": "io.kestra.plugin.core.condition.TimeBetween",
                "after": "09:00:00",
                "before": "11:00:00",
            },
            True,
        ),
        ({"type": "io.kestra.plugin.core.condition.TimeBetween", "after": "11:00:00"}, False),
        (
            {
                "type": "io.kestra.plugin.core.condition.DateTimeBetween",
                "after": "2026-03-01T00:00:00Z",
                "before": "2026-03-05T00:00:00Z",
            },
            True,
        ),
    ],
)
def test_date_conditions(condition: dict[str, Any], holds: bool) -> None:
    assert date_condition(condition, NOW, lambda text: text) is holds


def test_time_windows() -> None:
    midnight = NOW.replace(hour=0, minute=30)
    assert window_opening(None, NOW) == NOW.replace(hour=0, minute=0)
    sliding = TimeWindow(type="SLIDING_WINDOW", window="PT1H")
    assert window_opening(sliding, NOW) == NOW - timedelta(hours=1)
    hours = TimeWindow(type="DURATION_WINDOW", window="PT4H", windowAdvance="PT30M")
    assert window_opening(hours, NOW) == midnight + timedelta(hours=8)
    deadline = TimeWindow(type="DAILY_TIME_DEADLINE", deadline="09:00:00")
    assert window_opening(deadline, NOW) is None  # past today's deadline: nothing recorded
    daily = TimeWindow(type="DAILY_TIME_WINDOW", startTime="08:00:00", endTime="12:00:00")
    assert window_opening(daily, NOW) == NOW.replace(hour=8, minute=0)
    assert window_opening(daily, NOW.replace(hour=13)) is None
