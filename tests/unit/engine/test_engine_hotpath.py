"""The hot path builds executions and task runs field by field instead of with
``dataclasses.replace``: these tests fail when a field is added and not carried over."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime

from engine_harness import Harness

from perch.engine.draft import Draft
from perch.engine.model import Attempt, Execution, Label, ParentRef, TaskRun
from perch.engine.states import State, StateType

NOW = datetime(2026, 1, 1, tzinfo=UTC)

FLOW = """
id: tiny
namespace: company.team
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: x
"""


def _run() -> TaskRun:
    return TaskRun(
        id="r1",
        task_id="only",
        state=State.new(NOW, StateType.RUNNING),
        parent_task_run_id="p1",
        value="v",
        iteration=3,
        attempts=(Attempt(State.new(NOW), "w1"),),
        outputs={"value": "x"},
    )


def test_task_run_evolve_carries_every_field() -> None:
    assert [f.name for f in fields(TaskRun)] == [
        "id",
        "task_id",
        "state",
        "parent_task_run_id",
        "value",
        "iteration",
        "attempts",
        "outputs",
    ], "a TaskRun field was added: carry it over in TaskRun.evolve"
    run = _run()
    assert run.evolve() == run
    assert run.evolve(outputs=None).outputs is None
    assert run.evolve(outputs=None).attempts == run.attempts
    moved = run.with_state(StateType.SUCCESS, NOW)
    assert (moved.state.current, moved.value, moved.iteration) == (StateType.SUCCESS, "v", 3)


def test_a_draft_rebuilds_every_field_of_the_execution() -> None:
    assert len(fields(Execution)) == 16, "an Execution field was added: list it in Draft.snapshot"
    flow = Harness([FLOW]).flows[("company.team", "tiny")]
    execution = Execution(
        id="e1",
        namespace="company.team",
        flow_id="tiny",
        flow_revision=4,
        state=State.new(NOW, StateType.RUNNING),
        tenant="other",
        task_runs=(_run(),),
        inputs={"a": 1},
        outputs={"b": 2},
        labels=(Label("k", "v"),),
        variables={"c": 3},
        trigger={"d": 4},
        parent=ParentRef("pe", "pr", "ns", "pf"),
        original_id="e0",
        metadata={"attemptNumber": 2},
        version=7,
    )
    draft = Draft(flow, execution, NOW)
    draft.set_meta("extra", True)
    # set_meta forces a rebuild: everything else must come out as it went in.
    assert draft.build() == replace(execution, metadata={"attemptNumber": 2, "extra": True})
