"""Subflows: labels passed to the child, its trigger variables, wait, transmitFailed and the
state the Subflow task run takes from the child (Kestra's ``guessState``)."""

from __future__ import annotations

import pytest
from engine_harness import Harness

from perch.engine.model import Execution, Label
from perch.engine.states import StateType

SUBFLOW = "io.kestra.plugin.core.flow.Subflow"
RETURN = "io.kestra.plugin.core.debug.Return"

CALLER = f"""
id: caller
namespace: company.team
labels:
  team: data
  tier: gold
inputs:
  - id: target
    type: STRING
    defaults: callee
  - id: inherit
    type: BOOLEAN
    defaults: false
  - id: transmit
    type: BOOLEAN
    defaults: true
  - id: wait
    type: BOOLEAN
    defaults: true
tasks:
  - id: call
    type: {SUBFLOW}
    namespace: company.team
    flowId: "{{{{ inputs.target }}}}"
    inheritLabels: "{{{{ inputs.inherit }}}}"
    transmitFailed: "{{{{ inputs.transmit }}}}"
    wait: "{{{{ inputs.wait }}}}"
    labels:
      tier: silver
      origin: "{{{{ flow.id }}}}"
  - id: after
    type: {RETURN}
    format: "after {{{{ outputs.call.executionId }}}}"
"""

CALLEE = f"""
id: callee
namespace: company.team
tasks:
  - id: where
    type: {RETURN}
    format: "{{{{ trigger.flowId }}}}/{{{{ trigger.executionId }}}}/\\
      {{{{ labels.system.correlationId }}}}"
outputs:
  - id: answer
    type: INT
    value: "{{{{ 40 + 2 }}}}"
"""

BROKEN = """
id: broken
namespace: company.team
tasks:
  - id: no
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: child failed
"""

WARNS = """
id: warns
namespace: company.team
tasks:
  - id: shaky
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
"""


@pytest.fixture
def h() -> Harness:
    return Harness([CALLER, CALLEE, BROKEN, WARNS])


def _child(h: Harness, flow_id: str) -> Execution:
    (child,) = [e for e in h.executions.values() if e.flow_id == flow_id]
    return child


def test_a_child_gets_the_system_labels_only_by_default(h: Harness) -> None:
    done = h.start("caller", labels=(Label("system.readOnly", "true"),))
    assert done.state.current is StateType.SUCCESS
    child = _child(h, "callee")
    assert child.label("system.correlationId") == done.id
    assert child.label("system.readOnly") == "true"
    assert child.label("team") is None
    assert child.label("tier") == "silver"
    assert child.label("origin") == "caller"


def test_inherit_labels_passes_every_label_and_the_task_labels_win(h: Harness) -> None:
    h.start("caller", {"inherit": True})
    child = _child(h, "callee")
    assert child.label("team") == "data"
    assert child.label("tier") == "silver"
    assert child.label("origin") == "caller"


def test_a_child_sees_its_parent_as_trigger_and_its_outputs_are_typed(h: Harness) -> None:
    done = h.start("caller")
    child = _child(h, "callee")
    assert child.trigger == {
        "id": "call",
        "type": "io.kestra.plugin.core.flow.Subflow",
        "variables": {
            "executionId": done.id,
            "namespace": "company.team",
            "flowId": "caller",
            "flowRevision": 1,
        },
    }
    assert h.run_of(child.id, "where").outputs == {"value": f"caller/{done.id}/{done.id}"}
    call = h.run_of(done.id, "call")
    assert call.outputs == {
        "executionId": child.id,
        "state": "SUCCESS",
        "outputs": {"answer": 42},
    }
    assert h.run_of(done.id, "after").outputs == {"value": f"after {child.id}"}


@pytest.mark.parametrize(
    ("target", "transmit", "call_state", "final"),
    [
        ("broken", True, StateType.FAILED, StateType.FAILED),
        ("broken", False, StateType.SUCCESS, StateType.SUCCESS),
        ("warns", True, StateType.WARNING, StateType.WARNING),
        ("warns", False, StateType.SUCCESS, StateType.SUCCESS),
    ],
)
def test_transmit_failed(
    h: Harness, target: str, transmit: bool, call_state: StateType, final: StateType
) -> None:
    done = h.start("caller", {"target": target, "transmit": transmit})
    assert done.state.current is final
    call = h.run_of(done.id, "call")
    assert call.state.current is call_state
    assert call.outputs is not None
    assert call.outputs["state"] == _child(h, target).state.current.value
    assert len(done.task_runs) == (1 if final is StateType.FAILED else 2)


def test_without_wait_the_parent_goes_on_and_ignores_the_child(h: Harness) -> None:
    done = h.start("caller", {"target": "broken", "wait": False})
    assert done.state.current is StateType.SUCCESS
    call = h.run_of(done.id, "call")
    assert call.state.current is StateType.SUCCESS
    assert call.outputs == {"executionId": _child(h, "broken").id}
    assert _child(h, "broken").state.current is StateType.FAILED


def test_a_missing_child_flow_fails_the_subflow_task(h: Harness) -> None:
    done = h.start("caller", {"target": "nowhere"})
    assert done.state.current is StateType.FAILED
    assert h.run_of(done.id, "call").state.current is StateType.FAILED
