"""Flows Kestra accepts deploy: what only fails when it runs (a read of an undeclared input, a
template error in a flowable's condition) is a warning with its path and line, and the task
run fails at run time as Kestra's does."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.conformance.conftest import messages, only_run, run, runs_of

NS = "conf.warnings"
YAML = {"Content-Type": "application/x-yaml"}

# Kestra's flows/valids/task-flow-dynamic.yaml (FlowGraphTest.dynamicIdSubflow): its Subflow
# names `inputs.namespace` and `inputs.flowId`, which the flow does not declare.
DYNAMIC = f"""\
id: task-flow-dynamic
namespace: {NS}
inputs:
  - id: string
    type: STRING
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: "{{{{ inputs.namespace }}}}"
    flowId: "{{{{ inputs.flowId }}}}"
    inputs:
      string: "{{{{ inputs.string }}}}"
"""

# An If whose condition only fails when it renders (Kestra renders it at run time).
CONDITION = f"""\
id: broken-condition
namespace: {NS}
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ 1 | nosuchfilter }}}}"
    then:
      - id: never
        type: io.kestra.plugin.core.log.Log
        message: never
"""


def test_validate_returns_warnings_with_path_and_line(kapi: Api) -> None:
    answer = kapi.client.post(
        "/api/v1/main/flows/validate", content=DYNAMIC + "---\n" + CONDITION, headers=YAML
    )
    assert answer.status_code == 200, answer.text
    dynamic, condition = answer.json()
    assert dynamic["constraints"] is None
    assert dynamic["problems"] == []
    assert [(w["path"], w["line"], w["message"]) for w in dynamic["warningProblems"]] == [
        ("tasks[0].namespace", 9, "'inputs.namespace' is not an input of this flow"),
        ("tasks[0].flowId", 10, "'inputs.flowId' is not an input of this flow"),
    ]
    assert dynamic["warnings"] == [
        "tasks[0].namespace (line 9): 'inputs.namespace' is not an input of this flow",
        "tasks[0].flowId (line 10): 'inputs.flowId' is not an input of this flow",
    ]
    # The second document starts on line 14 of the request.
    assert [(w["path"], w["line"]) for w in condition["warningProblems"]] == [
        ("tasks[0].condition", 19)
    ]
    assert "Unknown filter 'nosuchfilter'" in condition["warnings"][0]


def test_such_flows_deploy_and_fail_when_they_run(kapi: Api) -> None:
    kapi.deploy(DYNAMIC)
    kapi.deploy(CONDITION)

    done = run(kapi, NS, "task-flow-dynamic", {"string": "x"})
    assert done["state"]["current"] == "FAILED"
    launch = only_run(done, "launch")
    assert launch["state"]["current"] == "FAILED"
    assert "executionId" not in (launch.get("outputs") or {})
    assert any("inputs.namespace" in m for m in messages(kapi, done["id"], "launch"))

    done = run(kapi, NS, "broken-condition")
    assert done["state"]["current"] == "FAILED"
    assert only_run(done, "check")["state"]["current"] == "FAILED"
    assert runs_of(done, "never") == []
    assert any("nosuchfilter" in m for m in messages(kapi, done["id"], "check"))
