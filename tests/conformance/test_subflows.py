"""Subflow task runs as Kestra's: one attempt with the child's terminal state, the child's
outputs (the Subflow's ``outputs`` map rendered against the child, or the child flow's declared
outputs), ``trigger`` naming the parent, and inherited labels."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.conformance.conftest import history, messages, only_run, run, runs_of

NS = "conf.subflow"

# Kestra's core/src/test/resources/flows/valids/switch.yaml (the child of FlowCaseTest), with
# a task showing the trigger variables.
SWITCH = f"""\
id: switch
namespace: {NS}
inputs:
  - id: string
    type: STRING
  - id: def
    type: STRING
    defaults: amazing
labels:
  switchFlowLabel: switchFoo
tasks:
  - id: parent-seq
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.string }}}}"
    cases:
      FIRST:
        - id: t1
          type: io.kestra.plugin.core.debug.Return
          format: "{{{{ task.id }}}} > {{{{ taskrun.startDate }}}}"
      THIRD:
        - id: t3
          type: io.kestra.plugin.core.flow.Sequential
          tasks:
            - id: failed
              type: io.kestra.plugin.core.execution.Fail
          errors:
            - id: error-t1
              type: io.kestra.plugin.core.debug.Return
              format: "Error Trigger ! {{{{ task.id }}}}"
    defaults:
      - id: default
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ task.id }}}} > {{{{ inputs.def }}}} > {{{{ trigger.flowId }}}}"
"""

# Kestra's task-flow.yaml (FlowCaseTest with testInherited) and task-flow-inherited-labels.yaml.
TASK_FLOW = f"""\
id: task-flow
namespace: {NS}
inputs:
  - id: string
    type: STRING
labels:
  mainFlowLabel: flowFoo
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: {NS}
    flowId: switch
    inputs:
      string: "{{{{ inputs.string }}}}"
    wait: true
    transmitFailed: true
    inheritLabels: true
    labels:
      launchTaskLabel: launchFoo
    outputs:
      extracted: "{{{{ outputs.default.value ?? outputs['error-t1'].value }}}}"
"""
NO_LABELS = (
    TASK_FLOW.replace("id: task-flow\n", "id: task-flow-inherited-labels\n")
    .replace("labels:\n  mainFlowLabel: flowFoo\n", "")
    .replace("    inheritLabels: true\n", "    inheritLabels: false\n")
)


@pytest.fixture(scope="module")
def deployed(kapi: Api) -> Api:
    for source in (SWITCH, TASK_FLOW, NO_LABELS, CHILD_OUTPUTS, PARENT_OF_TYPED):
        kapi.deploy(source)
    return kapi


def _child(api: Api, execution_id: str) -> dict[str, object]:
    body = api.client.get(f"/api/v1/main/executions/{execution_id}")
    assert body.status_code == 200, body.text
    child: dict[str, object] = body.json()
    return child


Case = tuple[str, str, str, int, str | None]
"""The input, the parent's state, the child's, its task runs, and the extracted output."""


@pytest.mark.parametrize(
    "case",
    [
        # FlowCaseTest.waitSuccess
        ("OK", "SUCCESS", "SUCCESS", 2, "default > amazing > task-flow"),
        # FlowCaseTest.waitFailed: the child fails, and its errors branch gives the output
        ("THIRD", "FAILED", "FAILED", 4, "Error Trigger ! error-t1"),
        # FlowCaseTest.invalidOutputs: the child succeeds, its outputs cannot render
        ("FIRST", "FAILED", "SUCCESS", 2, None),
    ],
)
def test_a_waiting_subflow_task_run_is_a_full_task_run(deployed: Api, case: Case) -> None:
    value, state, child_state, child_runs, extracted = case
    api = deployed
    done = run(api, NS, "task-flow", {"string": value}, labels=["mainFlowExecutionLabel:execFoo"])
    assert done["state"]["current"] == state
    [launch] = done["taskRunList"]
    assert launch["state"]["current"] == state
    [attempt] = launch["attempts"]
    assert attempt["state"]["current"] == state
    assert history(launch) == ["CREATED", "RUNNING", state]
    outputs = launch["outputs"]
    child = _child(api, outputs["executionId"])
    assert child["state"]["current"] == child_state  # type: ignore[index]
    assert len(child["taskRunList"]) == child_runs  # type: ignore[arg-type]
    assert outputs["state"] == child_state
    if extracted is None:
        assert outputs["outputs"] == {}
        [error] = [m for m in messages(api, done["id"], "launch") if "could not be read" in m]
        assert "outputs.error-t1" in error
    else:
        assert outputs["outputs"]["extracted"].startswith(extracted)
    # The child names its parent, in the API and in its templates.
    assert child["trigger"] == {
        "id": "launch",
        "type": "io.kestra.plugin.core.flow.Subflow",
        "variables": {
            "executionId": done["id"],
            "namespace": NS,
            "flowId": "task-flow",
            "flowRevision": 1,
        },
    }
    assert child["parentId"] == done["id"]
    labels = {(label["key"], label["value"]) for label in child["labels"]}  # type: ignore[attr-defined]
    assert labels >= {
        ("system.correlationId", done["id"]),
        ("mainFlowExecutionLabel", "execFoo"),
        ("mainFlowLabel", "flowFoo"),
        ("launchTaskLabel", "launchFoo"),
        ("switchFlowLabel", "switchFoo"),
    }


def test_labels_are_not_inherited_unless_asked(deployed: Api) -> None:
    # FlowCaseTest.noLabels (with inheritLabels: false, the parent's own labels stay home)
    done = run(deployed, NS, "task-flow-inherited-labels", {"string": "OK"}, labels=["team:data"])
    assert done["state"]["current"] == "SUCCESS"
    child = _child(deployed, only_run(done, "launch")["outputs"]["executionId"])
    keys = {label["key"]: label["value"] for label in child["labels"]}  # type: ignore[attr-defined]
    assert "team" not in keys
    assert keys["system.correlationId"] == done["id"]
    assert keys["launchTaskLabel"] == "launchFoo"
    assert keys["switchFlowLabel"] == "switchFoo"
    assert keys["system.username"] == "admin"


# Kestra's Subflow.createSubflowExecutionResult
# (SubflowTest.shouldOnlyReturnOutputsFromFlowOutputs): a child flow's declared outputs are
# typed; one that does not read as its type fails the Subflow task run, even without
# transmitFailed.
CHILD_OUTPUTS = f"""\
id: typed-child
namespace: {NS}
inputs:
  - id: answer
    type: STRING
tasks:
  - id: give
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.answer }}}}"
outputs:
  - id: number
    type: INT
    value: "{{{{ outputs.give.value }}}}"
"""
PARENT_OF_TYPED = f"""\
id: typed-parent
namespace: {NS}
inputs:
  - id: answer
    type: STRING
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: {NS}
    flowId: typed-child
    transmitFailed: false
    inputs:
      answer: "{{{{ inputs.answer }}}}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.call.outputs.number + 1 }}}}"
"""


def test_declared_child_outputs_reach_the_parent_and_bad_ones_fail_it(deployed: Api) -> None:
    good = run(deployed, NS, "typed-parent", {"answer": "41"})
    assert good["state"]["current"] == "SUCCESS"
    call = only_run(good, "call")
    assert call["outputs"]["outputs"] == {"number": 41}
    assert [a["state"]["current"] for a in call["attempts"]] == ["SUCCESS"]
    assert only_run(good, "after")["outputs"] == {"value": "42"}

    bad = run(deployed, NS, "typed-parent", {"answer": "forty-one"})
    assert bad["state"]["current"] == "FAILED"
    call = only_run(bad, "call")
    assert call["state"]["current"] == "FAILED"
    assert [a["state"]["current"] for a in call["attempts"]] == ["FAILED"]
    child = _child(deployed, call["outputs"]["executionId"])
    assert child["state"]["current"] == "FAILED"  # type: ignore[index]
    assert runs_of(bad, "after") == []
    [error] = [m for m in messages(deployed, bad["id"], "call") if "could not be read" in m]
    assert "output 'number'" in error
