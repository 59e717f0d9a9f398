"""The execution and event codecs (pure, no database)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import timedelta, timezone
from typing import Any, get_args

import pytest

from perch.engine.events import Event
from perch.engine.model import Attempt, Execution, Label, ParentRef, TaskRun
from perch.engine.principal import Principal, PrincipalKind
from perch.engine.states import State, StateType
from perch.store.codec import decode_event, decode_execution, encode_event, encode_execution
from tests.store.samples import T0

FULL = Execution(
    id="exec1",
    namespace="company.team",
    flow_id="approve",
    flow_revision=4,
    state=State.new(T0).with_state(StateType.RUNNING, T0 + timedelta(seconds=1)),
    tenant="acme",
    task_runs=(
        TaskRun(
            id="tr1",
            task_id="each",
            state=State.new(T0, StateType.RUNNING),
            parent_task_run_id="tr0",
            value='{"k": 1}',
            iteration=2,
            attempts=(
                Attempt(State.new(T0, StateType.FAILED)),
                Attempt(State.new(T0, StateType.RUNNING), "w2"),
            ),
            outputs={"out": [1, 2.5, None, True, "é"]},
        ),
        TaskRun(id="tr2", task_id="log", state=State.new(T0)),
    ),
    inputs={"name": "Ana", "count": 3},
    outputs={"result": {"nested": []}},
    labels=(Label("system.username", "ana"), Label("team", "x")),
    variables={"v": "{{ inputs.name }}"},
    trigger={"type": "schedule"},
    parent=ParentRef("p1", "ptr1", "company", "parent"),
    original_id="orig",
    metadata={"attemptNumber": 2, "manualPause": False},
    version=7,
)


def test_execution_round_trips_with_every_field() -> None:
    assert decode_execution(encode_execution(FULL), 7) == FULL


def test_minimal_execution_round_trips_and_is_compact() -> None:
    minimal = Execution("e", "n", "f", 1, State.new(T0))
    text = encode_execution(minimal)
    assert decode_execution(text, 0) == minimal
    assert " " not in text
    # Fields holding their default are left out; the version lives in its own column.
    assert set(json.loads(text)) == {"id", "tenant", "namespace", "flow", "revision", "state"}


def test_datetimes_keep_their_instant_and_zone() -> None:
    other_zone = State.new(T0.astimezone(timezone(timedelta(hours=2))))
    decoded = decode_execution(encode_execution(Execution("e", "n", "f", 1, other_zone)), 0)
    assert decoded.state.start_date == T0
    assert decoded.state.start_date.utcoffset() == timedelta(hours=2)


def _sample(name: str, annotation: Any) -> Any:
    text = str(annotation)
    if name == "principal":
        return Principal("svc", PrincipalKind.SERVICE_ACCOUNT)
    if "StateType" in text:
        return StateType.WARNING
    if "Mapping" in text:
        return {"a": [1, {"b": None}]}
    if "int" in text:
        return 3
    return f"{name}-value"


@pytest.mark.parametrize("cls", get_args(Event), ids=lambda cls: cls.__name__)
def test_every_event_round_trips(cls: type[Any]) -> None:
    event = cls(**{f.name: _sample(f.name, f.type) for f in fields(cls)})
    text = encode_event(event)
    assert json.loads(text)["type"] == cls.__name__
    assert decode_event(text) == event
