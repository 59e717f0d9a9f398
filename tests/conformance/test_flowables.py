"""Kestra's Dag, WaitFor and WorkingDirectory, through a real server over HTTP (ForEachItem is in
``test_foreachitem``).

Each flow follows one of Kestra's engine test flows (``core/src/test/resources/flows/valids/``),
named in a comment above it, and the test asserts what the Kestra test asserts (states, task-run
counts, attempts, outputs), plus log lines where Kestra's flow writes some.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

ENDED = ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")
YAML = {"Content-Type": "application/x-yaml"}


def run(
    server: Api, source: str, files: list[Any] | None = None, timeout: float = 20.0
) -> dict[str, Any]:
    """Deploy ``source``, start an execution, and return it once it ended."""
    flow = server.deploy(source)
    response = server.client.post(
        f"/api/v1/executions/{flow['namespace']}/{flow['id']}", files=files
    )
    assert response.status_code == 200, response.text
    return server.wait(response.json()["id"], lambda b: b["state"]["current"] in ENDED, timeout)


def logs(server: Api, execution_id: str) -> list[dict[str, Any]]:
    response = server.client.get(f"/api/v1/logs/{execution_id}")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def runs_of(execution: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [run for run in execution["taskRunList"] if run["taskId"] == task_id]


def validate(server: Api, source: str) -> list[dict[str, Any]]:
    response = server.client.post("/api/v1/flows/validate", content=source, headers=YAML)
    assert response.status_code == 200, response.text
    [result] = response.json()
    problems: list[dict[str, Any]] = result["problems"]
    return problems


# --- Dag -----------------------------------------------------------------------------------

# Kestra: DagTest.dag, flows/valids/dag.yaml.
DAG = """
id: dag
namespace: conformance.dag
tasks:
  - id: dag
    description: "my task"
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: task1
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
      - task:
          id: task2
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn:
          - task1
      - task:
          id: task3
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn:
          - task1
      - task:
          id: task4
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn:
          - task2
      - task:
          id: task5
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn:
          - task4
          - task3
      - task:
          id: task6
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn:
          - task2
          - task3
"""


def _ended_at(run: dict[str, Any]) -> str:
    return str(run["state"]["histories"][-1]["date"])


def _started_at(run: dict[str, Any]) -> str:
    return str(run["state"]["histories"][0]["date"])


def test_dag_runs_each_task_after_its_dependencies(server: Api) -> None:
    execution = run(server, DAG)
    assert execution["state"]["current"] == "SUCCESS"
    assert len(execution["taskRunList"]) == 7
    by_id = {run["taskId"]: run for run in execution["taskRunList"]}
    dag = by_id["dag"]
    for task_id in ("task1", "task2", "task3", "task4", "task5", "task6"):
        child = by_id[task_id]
        assert child["parentTaskRunId"] == dag["id"]
        assert child["state"]["current"] == "SUCCESS"
        assert len(child["attempts"]) == 1
    order = [run["taskId"] for run in execution["taskRunList"]]
    for task_id, needs in {
        "task2": ["task1"],
        "task3": ["task1"],
        "task4": ["task2"],
        "task5": ["task4", "task3"],
        "task6": ["task2", "task3"],
    }.items():
        for need in needs:
            assert order.index(need) < order.index(task_id)
            assert _ended_at(by_id[need]) <= _started_at(by_id[task_id])
    messages = sorted(
        line["message"] for line in logs(server, execution["id"]) if line.get("taskId") != "dag"
    )
    assert messages == ["task1", "task2", "task3", "task4", "task5", "task6"]


# Kestra: FlowableUtils.resolveDagNexts (a failure stops new starts, as in a Parallel).
DAG_FAILING = """
id: dag-failing
namespace: conformance.dag
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    concurrent: 1
    tasks:
      - task:
          id: first
          type: io.kestra.plugin.core.execution.Fail
      - task:
          id: after
          type: io.kestra.plugin.core.log.Log
          message: never
        dependsOn: [first]
    errors:
      - id: handler
        type: io.kestra.plugin.core.log.Log
        message: "handled {{ task.id }}"
"""


def test_dag_failure_stops_the_tasks_that_depend_on_it(server: Api) -> None:
    execution = run(server, DAG_FAILING)
    assert execution["state"]["current"] == "FAILED"
    by_id = {run["taskId"]: run for run in execution["taskRunList"]}
    assert set(by_id) == {"dag", "first", "handler"}
    assert by_id["dag"]["state"]["current"] == "FAILED"
    assert by_id["handler"]["state"]["current"] == "SUCCESS"


# Kestra: DagTest.dagCyclicDependencies, flows/invalids/dag-cyclicdependency.yaml.
DAG_CYCLIC = """id: dag-cyclicdependency
namespace: conformance.dag
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: task1
          type: io.kestra.plugin.core.log.Log
          message: "1 !"
        dependsOn:
          - task2
      - task:
          id: task2
          type: io.kestra.plugin.core.log.Log
          message: "2 !"
        dependsOn:
          - task1
      - task:
          id: task3
          type: io.kestra.plugin.core.log.Log
          message: "1 !"
        dependsOn:
          - task2
"""

# Kestra: DagTest.dagNotExistTask, flows/invalids/dag-notexist-task.yaml.
DAG_MISSING = """id: dag-notexist-task
namespace: conformance.dag
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: task1
          type: io.kestra.plugin.core.log.Log
          message: "1 !"
      - task:
          id: task2
          type: io.kestra.plugin.core.log.Log
          message: "2 !"
        dependsOn:
          - taskX
"""


def test_dag_validation_refuses_cycles_and_unknown_dependencies(server: Api) -> None:
    [cyclic] = validate(server, DAG_CYCLIC)
    assert cyclic["path"] == "tasks[0]"
    assert cyclic["line"] == 4
    assert "Cyclic dependency detected: task1, task2" in cyclic["message"]
    [missing] = validate(server, DAG_MISSING)
    assert missing["path"] == "tasks[0]"
    assert missing["line"] == 4
    assert "Not existing task id in dependency: taskX" in missing["message"]
    refused = server.client.post("/api/v1/flows", content=DAG_CYCLIC, headers=YAML)
    assert refused.status_code == 422, refused.text
    assert "Cyclic dependency detected" in refused.text


# --- WaitFor -------------------------------------------------------------------------------

# Kestra: WaitForCaseTest.waitforMultipleTasks, flows/valids/waitfor-multiple-tasks.yaml
# (with a short interval: Kestra's default is one second). Perch's OutputValues keeps typed
# values (count is the number 4, Kestra's the text '4'), so the condition compares numbers.
WAITFOR_MULTIPLE = """
id: waitfor-multiple-tasks
namespace: conformance.waitfor
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.output_values.values.count == 4 }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: echo
        type: io.kestra.plugin.core.log.Log
        message: "looping {{ outputs.waitfor.iterationCount }}"
      - id: output_values
        type: io.kestra.plugin.core.output.OutputValues
        values:
          count: "{{ outputs.waitfor.iterationCount + 1 }}"
"""


def test_waitfor_runs_its_tasks_until_the_condition_holds(server: Api) -> None:
    execution = run(server, WAITFOR_MULTIPLE)
    assert execution["state"]["current"] == "SUCCESS"
    # Kestra keeps the task runs of the last iteration only.
    assert [run["taskId"] for run in execution["taskRunList"]] == [
        "waitfor",
        "echo",
        "output_values",
    ]
    waitfor, echo, values = execution["taskRunList"]
    assert values["outputs"]["values"]["count"] == 4
    assert waitfor["outputs"] == {"iterationCount": 4}
    assert waitfor["iteration"] == 3
    assert echo["iteration"] == values["iteration"] == 3
    assert [h["state"] for h in waitfor["state"]["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]
    loops = [
        line["message"] for line in logs(server, execution["id"]) if line.get("taskId") == "echo"
    ]
    assert loops == ["looping 1", "looping 2", "looping 3"]


# Kestra: WaitForCaseTest.waitforMaxIterations, flows/valids/waitfor-max-iterations.yaml.
WAITFOR_MAX_ITERATIONS = """
id: waitfor-max-iterations
namespace: conformance.waitfor
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.output_values.values.count == 10 }}"
    checkFrequency:
      maxIterations: 3
      interval: PT0.05S
    failOnMaxReached: true
    tasks:
      - id: output_values
        type: io.kestra.plugin.core.output.OutputValues
        values:
          count: "{{ outputs.waitfor.iterationCount + 1 }}"
"""


def test_waitfor_fails_when_max_iterations_are_reached(server: Api) -> None:
    execution = run(server, WAITFOR_MAX_ITERATIONS)
    assert execution["state"]["current"] == "FAILED"
    waitfor, values = execution["taskRunList"]
    assert waitfor["state"]["current"] == "FAILED"
    assert waitfor["outputs"] == {"iterationCount": 4}
    assert values["outputs"]["values"]["count"] == 4
    warnings = [
        line["message"] for line in logs(server, execution["id"]) if line["level"] == "WARN"
    ]
    assert warnings == ["Max iterations reached"]


# Kestra: WaitForCaseTest.waitforNoSuccess, flows/valids/waitfor-no-success.yaml (without
# failOnMaxReached, reaching the maximum ends the loop in the state of its tasks).
WAITFOR_NO_SUCCESS = WAITFOR_MAX_ITERATIONS.replace(
    "waitfor-max-iterations", "waitfor-no-success"
).replace("    failOnMaxReached: true\n", "")


def test_waitfor_without_fail_on_max_reached_succeeds(server: Api) -> None:
    execution = run(server, WAITFOR_NO_SUCCESS)
    assert execution["state"]["current"] == "SUCCESS"
    assert execution["taskRunList"][0]["outputs"] == {"iterationCount": 4}


# Kestra: WaitForCaseTest.waitforMultipleTasksFailed, flows/valids/waitfor-multiple-tasks-failed.
WAITFOR_FAILED = """
id: waitfor-multiple-tasks-failed
namespace: conformance.waitfor
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.output_values.values.count == 6 }}"
    checkFrequency:
      maxIterations: 5
      interval: PT0.05S
    tasks:
      - id: output_values
        type: io.kestra.plugin.core.output.OutputValues
        values:
          count: "{{ outputs.waitfor.iterationCount + 1 }}"
      - id: fail
        type: io.kestra.core.tasks.executions.Fail
"""


def test_waitfor_fails_with_its_failing_task_at_the_first_iteration(server: Api) -> None:
    execution = run(server, WAITFOR_FAILED)
    assert execution["state"]["current"] == "FAILED"
    last = execution["taskRunList"][-1]
    assert last["taskId"] == "fail"
    assert last["state"]["current"] == "FAILED"
    assert len(execution["taskRunList"]) == 3
    assert execution["taskRunList"][0]["outputs"] == {"iterationCount": 1}


# Kestra: ExecutionService.retryWaitFor (the wait between iterations is a delay, not a task).
WAITFOR_LONG = """
id: waitfor-long
namespace: conformance.waitfor
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ false }}"
    checkFrequency:
      interval: PT1H
    tasks:
      - id: echo
        type: io.kestra.plugin.core.log.Log
        message: "iteration {{ outputs.waitfor.iterationCount }}"
"""


def test_a_waiting_waitfor_holds_nothing_and_can_be_killed(server: Api) -> None:
    flow = server.deploy(WAITFOR_LONG)
    created = server.client.post(f"/api/v1/executions/{flow['namespace']}/{flow['id']}")
    assert created.status_code == 200, created.text
    execution_id = created.json()["id"]
    waiting = server.wait(
        execution_id,
        lambda b: any(
            r["taskId"] == "echo" and r["state"]["current"] == "SUCCESS" for r in b["taskRunList"]
        ),
    )
    assert waiting["state"]["current"] == "RUNNING"
    assert waiting["taskRunList"][0]["outputs"] == {"iterationCount": 2}
    killed = server.client.delete(f"/api/v1/executions/{execution_id}/kill")
    assert killed.status_code in (202, 204), killed.text
    ended = server.wait(execution_id, lambda b: b["state"]["current"] in ENDED)
    assert ended["state"]["current"] == "KILLED"
    assert ended["taskRunList"][0]["state"]["current"] == "KILLED"
