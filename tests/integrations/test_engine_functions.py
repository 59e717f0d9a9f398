"""The template functions that read the store work on the real server (the engine, workers
and API as ``perch server local`` runs them), not only in the unit-test harness:
``errorLogs()`` in a flow's ``errors`` branch, ``read()`` of a FILE input and of a file given
at resume."""

from __future__ import annotations

from tests.api.conftest import Api, state_is
from tests.integrations.conftest import run_flow

FAILING = """\
id: failing
namespace: company.team
tasks:
  - id: failed
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: Task failure
errors:
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: >-
      {% for log in errorLogs() %}- task: {{ log.taskId }},
      message: {{ log.message }}{% endfor %}
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs() | length }}"
"""


def messages(api: Api, execution_id: str, task_id: str) -> list[str]:
    lines = api.client.get(f"/api/v1/logs/{execution_id}").json()
    return [line["message"] for line in lines if line.get("taskId") == task_id]


def task_output(execution: dict[str, object], task_id: str) -> object:
    runs = [r for r in execution["taskRunList"] if r["taskId"] == task_id]  # type: ignore[attr-defined,index]
    return runs[0]["outputs"]


def test_error_logs_in_an_errors_branch(api: Api) -> None:
    execution = run_flow(api, FAILING)
    assert execution["state"]["current"] == "FAILED"
    assert messages(api, execution["id"], "report") == ["- task: failed, message: Task failure"]
    assert task_output(execution, "count") == {"value": "1"}


READING = """\
id: reading
namespace: company.team
inputs:
  - id: doc
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "content: {{ read(inputs.doc) }}"
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: evidence
        type: FILE
  - id: shown
    type: io.kestra.plugin.core.log.Log
    message: "evidence: {{ read(outputs.ask.onResume.evidence) }}"
"""


def test_read_gives_the_text_of_input_and_resume_files(api: Api) -> None:
    flow = api.deploy(READING)
    started = api.client.post(
        f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}",
        files=[("doc", ("note.txt", b"hello <b>{{ 7*7 }}</b>", "text/plain"))],
    )
    assert started.status_code == 200, started.text
    execution_id = started.json()["id"]
    api.wait(execution_id, state_is("PAUSED"))
    assert messages(api, execution_id, "show") == ["content: hello <b>{{ 7*7 }}</b>"]
    resumed = api.client.post(
        f"/api/v1/main/executions/{execution_id}/resume",
        files=[("evidence", ("proof.txt", b"signed by Ana", "text/plain"))],
    )
    assert resumed.status_code == 204, resumed.text
    ended = api.wait(execution_id, state_is("SUCCESS", "FAILED"))
    assert ended["state"]["current"] == "SUCCESS"
    assert messages(api, execution_id, "shown") == ["evidence: signed by Ana"]


def test_read_refuses_what_is_not_an_execution_file(api: Api) -> None:
    source = READING.replace("read(inputs.doc)", "read('/etc/passwd')")
    flow = api.deploy(source)
    started = api.client.post(
        f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}",
        files=[("doc", ("note.txt", b"x", "text/plain"))],
    )
    execution = api.wait(started.json()["id"], state_is("FAILED", "SUCCESS", "PAUSED"))
    assert execution["state"]["current"] == "FAILED"
    errors = [
        line["message"]
        for line in api.client.get(f"/api/v1/logs/{execution['id']}").json()
        if line["level"] == "ERROR"
    ]
    assert any("is not a kestra:/// file" in e for e in errors), errors


EACH = """\
id: each
namespace: company.team
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: ["1", "2"]
        tasks:
          - id: group
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: make
                type: io.kestra.plugin.core.debug.Return
                format: "{{ parents[1].taskrun.value }}-{{ parents[0].taskrun.value }}"
              - id: use
                type: io.kestra.plugin.core.log.Log
                message: "got {{ currentEachOutput(outputs.make).value }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.make.b['2'].value }} {{ outputs.make | keys }}"
"""


def test_nested_foreach_outputs_are_keyed_by_each_level(api: Api) -> None:
    execution = run_flow(api, EACH)
    assert execution["state"]["current"] == "SUCCESS"
    # Task runs: outer, 2 inner, 4 groups, 4 make, 4 use, after.
    assert len(execution["taskRunList"]) == 16
    assert sorted(messages(api, execution["id"], "use")) == [
        "got a-1",
        "got a-2",
        "got b-1",
        "got b-2",
    ]
    assert messages(api, execution["id"], "after") == ['b-2 ["a","b"]']


THREE_LEVELS = """\
id: three_levels
namespace: company.team
tasks:
  - id: l1
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - id: l2
        type: io.kestra.plugin.core.flow.ForEach
        values: ["p", "q"]
        tasks:
          - id: l3
            type: io.kestra.plugin.core.flow.ForEach
            values: ["1", "2"]
            tasks:
              - id: first
                type: io.kestra.plugin.core.debug.Return
                format: >-
                  {{ parents[1].taskrun.value }}{{ parents[0].taskrun.value
                  }}{{ taskrun.value }}
              - id: second
                type: io.kestra.plugin.core.debug.Return
                format: "seen {{ currentEachOutput(outputs.first).value }}"
"""


def test_three_nested_foreach_levels(api: Api) -> None:
    execution = run_flow(api, THREE_LEVELS)
    assert execution["state"]["current"] == "SUCCESS"
    # l1, 2 of l2, 4 of l3, 8 of first, 8 of second: Kestra's count.
    assert len(execution["taskRunList"]) == 23
    seen = sorted(
        run["outputs"]["value"] for run in execution["taskRunList"] if run["taskId"] == "second"
    )
    assert seen == [f"seen {a}{b}{c}" for a in "xy" for b in "pq" for c in "12"]
