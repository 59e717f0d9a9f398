"""Kestra's other core task types run on a real server (SQLite and PostgreSQL), and what they do
shows through the API: ``execution.Labels`` (labels of the execution), ``execution.Resume`` (a
paused execution resumed, audited as the flow), ``log.Fetch`` (a file of log lines, downloaded
and read with ``read()``), ``trigger.Toggle`` (the trigger search), the deprecated
``state.Set``/``Get``/``Delete`` (outputs, KV pairs) and ``debug.Echo`` (log lines). Bad
properties are refused with their line.

One server per backend serves the whole module; each test deploys its own flows.
"""

from __future__ import annotations

import json

import tests.conformance.core_helpers as helpers
from tests.api.conftest import Api
from tests.api.hitl import outputs_of, task_states
from tests.conformance.core_helpers import (
    DONE,
    NS,
    deploy,
    errors_of,
    labels_of,
    paused,
    run,
    run_id,
    schedule_disabled,
)

api = helpers.api


# --- execution.Labels --------------------------------------------------------------------------

# Follows Kestra's RuntimeLabelsTest.update (flows/valids/labels-update-task.yml).
LABELS = f"""\
id: labels-update-task
namespace: {NS}
labels:
  flowLabelKey: flowLabelValue
  overriddenFlowLabelKey: flowValueThatWillGetOverridden
inputs:
  - id: labelsJson
    type: JSON
  - id: labelsMapKey
    type: STRING
  - id: labelsMapValue
    type: STRING
  - id: labelsListKey
    type: STRING
  - id: labelsListValue
    type: STRING
tasks:
  - id: from-render
    type: io.kestra.plugin.core.execution.Labels
    labels: "{{{{ inputs.labelsJson }}}}"
  - id: from-map
    type: io.kestra.core.tasks.executions.Labels
    labels:
      "{{{{ inputs.labelsMapKey }}}}": "{{{{ inputs.labelsMapValue }}}}"
  - id: from-list
    type: Labels
    labels:
      - key: "{{{{ inputs.labelsListKey }}}}"
        value: "{{{{ inputs.labelsListValue }}}}"
  - id: override-labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      overriddenFlowLabelKey: "{{{{ flow.namespace ~ '.' ~ flow.id }}}}"
      overriddenExecutionLabelKey: "{{{{ taskrun.id }}}}"
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ labels.keyFromMap }}}}"
"""

# Kestra's Labels refuses system labels at run time (Labels.update).
SYSTEM_LABEL = f"""\
id: labels-system
namespace: {NS}
tasks:
  - id: sneaky
    type: io.kestra.plugin.core.execution.Labels
    labels:
      system.username: somebody-else
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"""


def test_labels_are_added_and_overridden_on_the_running_execution(api: Api) -> None:
    deploy(api, LABELS)
    inputs = {
        "labelsJson": '{"keyFromJson": "valueFromJson"}',
        "labelsMapKey": "keyFromMap",
        "labelsMapValue": "valueFromMap",
        "labelsListKey": "keyFromList",
        "labelsListValue": "valueFromList",
    }
    given = ["keyFromExecution:valueFromExecution", "overriddenExecutionLabelKey:before"]
    execution = run(api, "labels-update-task", inputs, labels=given)
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution["id"])
    assert len(execution["taskRunList"]) == 5
    labels = labels_of(execution)
    assert labels.pop("system.username") == "admin"
    assert labels == {
        "flowLabelKey": "flowLabelValue",
        "overriddenFlowLabelKey": f"{NS}.labels-update-task",
        "keyFromExecution": "valueFromExecution",
        "overriddenExecutionLabelKey": run_id(execution, "override-labels"),
        "system.correlationId": execution["id"],
        "keyFromJson": "valueFromJson",
        "keyFromMap": "valueFromMap",
        "keyFromList": "valueFromList",
    }
    # The next tasks see the new labels, searches find them, and the change is audited as
    # the flow.
    assert outputs_of(execution, "seen")["value"] == "valueFromMap"
    found = api.client.get(
        "/api/v1/main/executions/search", params={"labels": "keyFromList:valueFromList"}
    ).json()
    assert [e["id"] for e in found["results"]] == [execution["id"]]
    audit = api.client.get(
        "/api/v1/main/auditlogs/search",
        params={"action": "SET_LABELS", "executionId": execution["id"]},
    ).json()
    assert audit["total"] == 4
    assert {r["principal"]["kind"] for r in audit["results"]} == {"FLOW"}
    assert {r["principal"]["name"] for r in audit["results"]} == {f"{NS}.labels-update-task"}


def test_a_system_label_fails_the_task_and_leaves_the_labels(api: Api) -> None:
    deploy(api, SYSTEM_LABEL)
    execution = run(api, "labels-system")
    assert execution["state"]["current"] == "FAILED"
    assert task_states(execution) == {"sneaky": "FAILED"}
    assert "refused label: system.username=somebody-else" in errors_of(api, execution["id"])
    assert labels_of(execution)["system.username"] == "admin"


# --- execution.Resume --------------------------------------------------------------------------

# Follows Kestra's ResumeTest.resume (flows/valids/pause.yaml, here "waiting", and
# resume-execution.yaml), with an onResume input given by the Resume task's `inputs`.
PAUSED = f"""\
id: waiting
namespace: {NS}
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.pause.onResume.reason }}}} by {{{{ outputs.pause.resumed.by }}}}"
"""

RESUMER = f"""\
id: resume-execution
namespace: {NS}
inputs:
  - id: executionId
    type: STRING
  - id: why
    type: STRING
    defaults: approved by the pipeline
tasks:
  - id: resume
    type: io.kestra.plugin.core.execution.Resume
    executionId: "{{{{ inputs.executionId }}}}"
    inputs:
      reason: "{{{{ inputs.why }}}}"
"""

# Kestra's Resume defaults to the current execution, which is running, not paused.
RESUME_SELF = f"""\
id: resume-self
namespace: {NS}
tasks:
  - id: resume
    type: io.kestra.plugin.core.execution.Resume
"""

# The same pause in a namespace outside the resumer's: a flow reaches only its own namespace.
ELSEWHERE = PAUSED.replace(f"namespace: {NS}", "namespace: other.team")

# A HumanTask waits for its assignees: a flow is no person, and may not decide for them.
HUMAN = f"""\
id: human
namespace: {NS}
tasks:
  - id: approve
    type: io.kestra.plugin.ee.flow.HumanTask
    assignment:
      users: [admin]
"""


def test_resume_resumes_a_paused_execution_as_the_flow_with_inputs(api: Api) -> None:
    deploy(api, PAUSED)
    deploy(api, RESUMER)
    target = paused(api, NS, "waiting")
    resumer = run(api, "resume-execution", {"executionId": target})
    assert resumer["state"]["current"] == "SUCCESS", errors_of(api, resumer["id"])
    done = api.wait(target, DONE)
    assert done["state"]["current"] == "SUCCESS"
    flow_name = f"{NS}.resume-execution"
    assert outputs_of(done, "after")["value"] == f"approved by the pipeline by {flow_name}"
    assert outputs_of(done, "pause")["resumed"]["by"] == flow_name
    audit = api.client.get(
        "/api/v1/main/auditlogs/search", params={"action": "RESUME", "executionId": target}
    ).json()
    [record] = audit["results"]
    assert record["principal"] == {"name": flow_name, "kind": "FLOW"}
    assert record["channel"] == "SYSTEM"
    assert resumer["id"] in record["userAgent"]
    assert "task resume" in record["userAgent"]


def test_resume_refusals_fail_the_task_and_leave_the_target(api: Api) -> None:
    deploy(api, RESUMER)
    deploy(api, RESUME_SELF)
    deploy(api, ELSEWHERE)
    deploy(api, HUMAN)

    own = run(api, "resume-self")
    assert own["state"]["current"] == "FAILED"
    assert "is not paused" in errors_of(api, own["id"])

    outside = paused(api, "other.team", "waiting")
    refused = run(api, "resume-execution", {"executionId": outside})
    assert refused["state"]["current"] == "FAILED"
    assert "reaches only its namespace" in errors_of(api, refused["id"])

    human = paused(api, NS, "human")
    refused = run(api, "resume-execution", {"executionId": human})
    assert refused["state"]["current"] == "FAILED"
    for execution_id, namespace in ((outside, "other.team"), (human, NS)):
        response = api.client.get(f"/api/v1/main/executions/{execution_id}")
        assert response.json()["state"]["current"] == "PAUSED", namespace
    assert "assignees of a HumanTask" in errors_of(api, refused["id"])
    denied = api.client.get(
        "/api/v1/main/auditlogs/search", params={"action": "RESUME_DENIED", "executionId": human}
    ).json()
    [record] = denied["results"]
    assert record["outcome"] == "DENIED"
    assert record["principal"] == {"name": f"{NS}.resume-execution", "kind": "FLOW"}


# --- log.Fetch -----------------------------------------------------------------------------------

# Follows the examples of Kestra's log.Fetch (level, tasksId, executionId of this execution);
# the file holds one JSON object per line and read() gives it back.
FETCH = f"""\
id: fetch
namespace: {NS}
tasks:
  - id: info
    type: io.kestra.plugin.core.log.Log
    message: an info line
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: a warning
  - id: error
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: ["an error", "another error"]
  - id: warnings
    type: io.kestra.plugin.core.log.Fetch
    level: WARN
  - id: of_info
    type: io.kestra.core.tasks.log.Fetch
    executionId: "{{{{ execution.id }}}}"
    tasksId: [info, error]
  - id: reread
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ read(outputs.warnings.uri) }}}}"
"""

FETCH_OTHER = f"""\
id: fetch-other
namespace: {NS}
inputs:
  - id: executionId
    type: STRING
tasks:
  - id: theirs
    type: io.kestra.plugin.core.log.Fetch
    namespace: {NS}
    flowId: fetch
    executionId: "{{{{ inputs.executionId }}}}"
    level: ERROR
  - id: wrong_flow
    type: io.kestra.plugin.core.log.Fetch
    executionId: "{{{{ inputs.executionId }}}}"
"""


def test_fetch_writes_the_log_lines_to_a_file_the_api_and_read_give_back(api: Api) -> None:
    deploy(api, FETCH)
    execution = run(api, "fetch")
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution["id"])
    warnings = outputs_of(execution, "warnings")
    assert warnings["size"] == 3
    assert warnings["uri"].startswith(
        f"kestra:///conformance/core/fetch/executions/{execution['id']}/"
    )
    download = api.client.get(
        f"/api/v1/main/executions/{execution['id']}/file", params={"path": warnings["uri"]}
    )
    assert download.status_code == 200, download.text
    records = [json.loads(line) for line in download.text.splitlines()]
    assert [(r["taskId"], r["level"], r["message"]) for r in records] == [
        ("warn", "WARN", "a warning"),
        ("error", "ERROR", "an error"),
        ("error", "ERROR", "another error"),
    ]
    assert {r["executionId"] for r in records} == {execution["id"]}
    assert {(r["namespace"], r["flowId"], r["tenantId"]) for r in records} == {
        (NS, "fetch", "main")
    }
    assert outputs_of(execution, "reread")["value"] == download.text
    of_info = outputs_of(execution, "of_info")
    assert of_info["size"] == 3  # info's line, then error's two: in the order of tasksId

    deploy(api, FETCH_OTHER)
    other = run(api, "fetch-other", {"executionId": execution["id"]})
    assert task_states(other) == {"theirs": "SUCCESS", "wrong_flow": "FAILED"}
    assert outputs_of(other, "theirs")["size"] == 2
    assert f"Execution '{execution['id']}' of flow {NS}.fetch-other not found" in errors_of(
        api, other["id"]
    )


# --- trigger.Toggle ------------------------------------------------------------------------------

# Follows Kestra's ToggleTest.toggle (flows/valids/trigger-toggle.yaml), which turns a trigger of
# its own flow on; here the flow turns it off, and another flow turns it on again.
TOGGLED = f"""\
id: trigger-toggle
namespace: {NS}
tasks:
  - id: disable
    type: io.kestra.plugin.core.trigger.Toggle
    trigger: schedule
triggers:
  - id: schedule
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 1 1 *"
"""

TOGGLER = f"""\
id: toggler
namespace: {NS}
tasks:
  - id: enable
    type: io.kestra.core.tasks.trigger.Toggle
    namespace: {NS}
    flowId: trigger-toggle
    trigger: schedule
    enabled: "{{{{ 1 == 1 }}}}"
  - id: missing
    type: io.kestra.plugin.core.trigger.Toggle
    trigger: nope
"""


def test_toggle_disables_and_enables_a_trigger_through_the_trigger_service(api: Api) -> None:
    deploy(api, TOGGLED)
    deploy(api, TOGGLER)
    assert not schedule_disabled(api)
    execution = run(api, "trigger-toggle")
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution["id"])
    assert schedule_disabled(api)

    toggler = run(api, "toggler")
    assert task_states(toggler) == {"enable": "SUCCESS", "missing": "FAILED"}
    assert not schedule_disabled(api)
    assert f"Unable to find trigger 'nope' of flow {NS}.toggler" in errors_of(api, toggler["id"])


# --- state.Set / Get / Delete --------------------------------------------------------------------

# Follows Kestra's StateTest.run: Get of nothing, Set merges, Get sees it, Delete, Get again.
STATE = f"""\
id: state
namespace: {NS}
inputs:
  - id: key
    type: STRING
    defaults: test
tasks:
  - id: empty
    type: io.kestra.plugin.core.state.Get
  - id: first
    type: io.kestra.plugin.core.state.Set
    data:
      "{{{{ inputs.key }}}}": 1
  - id: after_first
    type: io.kestra.core.tasks.states.Get
  - id: second
    type: io.kestra.plugin.core.state.Set
    data:
      test: 2
      test2: "{{{{ outputs.after_first.data.test + 2 }}}}"
  - id: after_second
    type: io.kestra.plugin.core.state.Get
  - id: shared
    type: io.kestra.plugin.core.state.Get
    namespace: true
  - id: delete
    type: io.kestra.plugin.core.state.Delete
  - id: after_delete
    type: io.kestra.plugin.core.state.Get
  - id: delete_again
    type: io.kestra.plugin.core.state.Delete
  - id: keep
    type: io.kestra.plugin.core.state.Set
    name: kept
    data:
      list: [a]
  - id: keep_more
    type: io.kestra.plugin.core.state.Set
    name: kept
    data:
      list: [b]
  - id: strict
    type: io.kestra.plugin.core.state.Get
    name: never-set
    errorOnMissing: true
"""

# Follows the "each" branch of Kestra's flows/valids/state.yaml: inside a ForEach a state is one
# per value, unless `taskrunValue: false` shares it with every iteration (and the flow's root).
STATE_EACH = f"""\
id: state-each
namespace: {NS}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: per_value
        type: io.kestra.plugin.core.state.Set
        name: each
        data:
          "{{{{ taskrun.value }}}}": 1
      - id: shared
        type: io.kestra.plugin.core.state.Set
        name: each
        taskrunValue: false
        data:
          "{{{{ taskrun.value }}}}": 1
  - id: outside
    type: io.kestra.plugin.core.state.Get
    name: each
"""


def test_state_set_get_delete_round_trip_in_the_kv_store(api: Api) -> None:
    deploy(api, STATE)
    execution = run(api, "state")
    states = task_states(execution)
    assert states.pop("strict") == "FAILED"
    assert set(states.values()) == {"SUCCESS"}, states
    assert outputs_of(execution, "empty") == {"count": 0, "data": {}}
    first = outputs_of(execution, "first")
    assert first["count"] == 1
    assert first["key"].startswith("_state.flow.state.default.")
    assert outputs_of(execution, "after_first") == {"count": 1, "data": {"test": 1}}
    assert outputs_of(execution, "second") == {"count": 2, "key": first["key"]}
    assert outputs_of(execution, "after_second") == {"count": 2, "data": {"test": 2, "test2": 3}}
    assert outputs_of(execution, "shared") == {"count": 0, "data": {}}
    assert outputs_of(execution, "delete") == {"deleted": True}
    assert outputs_of(execution, "after_delete") == {"count": 0, "data": {}}
    assert outputs_of(execution, "delete_again") == {"deleted": False}
    assert "Unable to find the state 'never-set'" in errors_of(api, execution["id"])

    # The kept state is a KV pair of the namespace, readable through the API; its key is one
    # nobody can write.
    kv = f"/api/v1/main/namespaces/{NS}/kv"
    keys = [pair["key"] for pair in api.client.get(kv).json()]
    [kept] = [key for key in keys if key.startswith("_state.flow.state.kept.")]
    assert first["key"] not in keys
    value = api.client.get(f"{kv}/{kept}").json()
    assert value == {"type": "JSON", "value": {"list": ["a", "b"]}}
    refused = api.client.put(f"{kv}/{kept}", json={"list": []})
    assert refused.status_code == 422, refused.text


def test_state_inside_a_foreach_is_per_value_unless_shared(api: Api) -> None:
    deploy(api, STATE_EACH)
    execution = run(api, "state-each")
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution["id"])
    runs = execution["taskRunList"]
    counts = {
        (r["taskId"], r["value"]): r["outputs"]["count"]
        for r in runs
        if r["taskId"] in ("per_value", "shared")
    }
    assert counts == {
        ("per_value", "a"): 1,
        ("per_value", "b"): 1,
        ("shared", "a"): 1,
        ("shared", "b"): 2,
    }
    assert outputs_of(execution, "outside") == {"count": 2, "data": {"a": 1, "b": 1}}


# --- debug.Echo ----------------------------------------------------------------------------------

# Kestra's deprecated Echo logs `format` at `level`, as Log does (fail-on-condition.yaml uses it).
ECHO = f"""\
id: echo
namespace: {NS}
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    level: WARN
    format: "{{{{ flow.id }}}} says hello"
  - id: old_name
    type: io.kestra.core.tasks.debugs.Echo
    format: plain
"""


def test_echo_logs_its_format_at_its_level(api: Api) -> None:
    deploy(api, ECHO)
    execution = run(api, "echo")
    assert execution["state"]["current"] == "SUCCESS"
    lines = api.client.get(f"/api/v1/main/logs/{execution['id']}").json()
    found = [
        (line.get("taskId"), line["level"], line["message"]) for line in lines if line.get("taskId")
    ]
    assert found == [("echo", "WARN", "echo says hello"), ("old_name", "INFO", "plain")]


# --- bad properties ------------------------------------------------------------------------------

BAD = f"""\
id: bad-properties
namespace: {NS}
tasks:
  - id: toggle
    type: io.kestra.plugin.core.trigger.Toggle
    enabled: true
  - id: resume
    type: io.kestra.plugin.core.execution.Resume
    namespace: {NS}
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
    level: LOUD
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: a
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    format: "  "
  - id: state
    type: io.kestra.plugin.core.state.Set
    data: [1, 2]
  - id: fetch_half
    type: io.kestra.plugin.core.log.Fetch
    executionId: abc
    flowId: other
"""


def test_bad_properties_are_refused_with_their_line(api: Api) -> None:
    response = api.client.post(
        "/api/v1/main/flows", content=BAD, headers={"Content-Type": "application/x-yaml"}
    )
    assert response.status_code == 422, response.text
    errors = response.json()["_embedded"]["errors"]
    by_line = {e["line"]: e["message"] for e in errors}
    expected = {
        4: "trigger",
        7: "may only be set with `executionId`",
        12: "LOUD",
        15: "'key' and 'value'",
        19: "blank",
        22: "expected a mapping",
        23: "set both or neither",
    }
    for line, text in expected.items():
        assert line in by_line, (line, errors)
        assert text in by_line[line], (line, errors)
