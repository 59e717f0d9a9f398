"""Flow triggers through the real API and engine: the seeds' Pause + Flow trigger pattern (the
downstream flow does not start while the upstream is PAUSED and starts exactly once when it
succeeds, also across a restart), the older ``conditions`` form with inputs from upstream
outputs, Kestra's "fires on every state it lists" behaviour, and preconditions on two flows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.api.conftest import ADMIN, Api, open_test_store, start_api, state_is, stop_api
from tests.integrations.conftest import run_flow

UPSTREAM = """\
id: pause_demo
namespace: demo
outputs:
  - id: verdict
    type: STRING
    value: "{{ outputs.decide.value }}"
tasks:
  - id: wait_for_approval
    type: io.kestra.plugin.core.flow.Pause
  - id: decide
    type: io.kestra.plugin.core.debug.Return
    format: approved
"""

DOWNSTREAM = """\
id: after_pause
namespace: demo.downstream
inputs:
  - id: verdict
    type: STRING
    defaults: none
tasks:
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: >-
      {{ trigger.flowId }} {{ trigger.namespace }} {{ trigger.state }}
      {{ trigger.executionId }} {{ inputs.verdict }}
triggers:
  - id: flow
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      verdict: "{{ trigger.outputs.verdict }}"
    preconditions:
      id: flow1
      flows:
        - flowId: pause_demo
          namespace: demo
          states:
            - SUCCESS
"""


def executions_of(api: Api, namespace: str, flow_id: str) -> list[dict[str, Any]]:
    response = api.client.get(
        "/api/v1/main/executions/search",
        params={"namespace": namespace, "flowId": flow_id, "size": 100},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def wait_for_count(
    api: Api, namespace: str, flow_id: str, count: int, timeout: float = 15.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = executions_of(api, namespace, flow_id)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def log_lines(api: Api, execution_id: str) -> list[str]:
    return [line["message"] for line in api.client.get(f"/api/v1/logs/{execution_id}").json()]


def start(api: Api, namespace: str, flow_id: str) -> str:
    answer = api.client.post(f"/api/v1/main/executions/{namespace}/{flow_id}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_downstream_waits_for_success_and_starts_once(api: Api) -> None:
    api.deploy(UPSTREAM)
    api.deploy(DOWNSTREAM)
    upstream = start(api, "demo", "pause_demo")
    api.wait(upstream, state_is("PAUSED"))
    time.sleep(0.3)
    assert executions_of(api, "demo.downstream", "after_pause") == []

    assert api.client.post(f"/api/v1/main/executions/{upstream}/resume").status_code == 204
    api.wait(upstream, state_is("SUCCESS"))
    [downstream] = wait_for_count(api, "demo.downstream", "after_pause", 1)
    ended = api.wait(downstream["id"], state_is("SUCCESS", "FAILED"))
    assert ended["state"]["current"] == "SUCCESS"
    assert ended["trigger"]["id"] == "flow"
    assert ended["trigger"]["type"] == "io.kestra.plugin.core.trigger.Flow"
    assert ended["trigger"]["variables"]["executionId"] == upstream
    assert ended["inputs"] == {"verdict": "approved"}
    assert f"pause_demo demo SUCCESS {upstream} approved" in log_lines(api, downstream["id"])
    time.sleep(0.3)
    assert len(executions_of(api, "demo.downstream", "after_pause")) == 1


def test_a_failed_or_killed_upstream_starts_nothing(api: Api) -> None:
    api.deploy(UPSTREAM)
    api.deploy(DOWNSTREAM)
    upstream = start(api, "demo", "pause_demo")
    api.wait(upstream, state_is("PAUSED"))
    assert api.client.delete(f"/api/v1/main/executions/{upstream}/kill").status_code == 202
    api.wait(upstream, state_is("KILLED"))
    time.sleep(0.5)
    assert executions_of(api, "demo.downstream", "after_pause") == []


def test_the_trigger_holds_across_a_restart(tmp_path: Path) -> None:
    first = start_api(open_test_store("sqlite", tmp_path))
    first.deploy(UPSTREAM)
    first.deploy(DOWNSTREAM)
    upstream = start(first, "demo", "pause_demo")
    first.wait(upstream, state_is("PAUSED"))
    stop_api(first)

    # A new server on the same data folder.
    second = start_api(open_test_store("sqlite", tmp_path), admin=False)
    second.client.auth = ADMIN
    try:
        assert second.client.post(f"/api/v1/main/executions/{upstream}/resume").status_code == 204
        second.wait(upstream, state_is("SUCCESS"))
        found = wait_for_count(second, "demo.downstream", "after_pause", 1)
        assert len(found) == 1
        time.sleep(0.3)
        assert len(executions_of(second, "demo.downstream", "after_pause")) == 1
    finally:
        stop_api(second)


LISTENER_WITH_CONDITIONS = """\
id: trigger_flow_listener
namespace: io.kestra.tests.trigger
inputs:
  - id: from-parent
    type: STRING
tasks:
  - id: only-listener
    type: io.kestra.plugin.core.debug.Return
    format: "childs: {{ inputs['from-parent'] }}"
triggers:
  - id: listen-flow
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      from-parent: "{{ outputs.only.value }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in:
          - SUCCESS
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: io.kestra.tests.trigger
        flowId: trigger_flow
"""

TRIGGER_FLOW = """\
id: trigger_flow
namespace: io.kestra.tests.trigger
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "from parents: {{ execution.id }}"
"""


def test_older_conditions_and_inputs_from_upstream_task_outputs(api: Api) -> None:
    api.deploy(LISTENER_WITH_CONDITIONS)
    upstream = run_flow(api, TRIGGER_FLOW)
    assert upstream["state"]["current"] == "SUCCESS"
    [child] = wait_for_count(api, "io.kestra.tests.trigger", "trigger_flow_listener", 1)
    ended = api.wait(child["id"], state_is("SUCCESS", "FAILED"))
    assert ended["state"]["current"] == "SUCCESS"
    assert ended["inputs"] == {"from-parent": f"from parents: {upstream['id']}"}
    assert len(ended["taskRunList"]) == 1
    variables = ended["trigger"]["variables"]
    assert variables["flowId"] == "trigger_flow"
    assert variables["namespace"] == "io.kestra.tests.trigger"


WITH_PAUSE = """\
id: trigger_flow_with_pause
namespace: io.kestra.tests.trigger
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: first
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.5S
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: last
"""

LISTENER_WITH_PAUSE = """\
id: trigger_flow_listener_with_pause
namespace: io.kestra.tests.trigger
outputs:
  - id: status
    type: STRING
    value: "{{ trigger.state }}"
tasks:
  - id: only
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.state }}"
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    states: [RUNNING, PAUSED, SUCCESS, WARNING, FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: io.kestra.tests.trigger
        flowId: trigger_flow_with_pause
"""


def test_a_listener_fires_on_every_state_it_lists(api: Api) -> None:
    api.deploy(LISTENER_WITH_PAUSE)
    upstream = run_flow(api, WITH_PAUSE)
    assert upstream["state"]["current"] == "SUCCESS"
    assert len(upstream["taskRunList"]) == 3
    found = wait_for_count(api, "io.kestra.tests.trigger", "trigger_flow_listener_with_pause", 4)
    states = []
    for child in found:
        ended = api.wait(child["id"], state_is("SUCCESS", "FAILED"))
        states.append(ended["outputs"]["status"])
    assert sorted(states) == sorted(["RUNNING", "PAUSED", "RUNNING", "SUCCESS"])


FLOW_A = """\
id: flow_a
namespace: io.kestra.tests.preconditions
labels:
  some: label
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: a
"""

FLOW_B = FLOW_A.replace("flow_a", "flow_b").replace("message: a", "message: b")

LISTEN_BOTH = """\
id: flow_listen
namespace: io.kestra.tests.preconditions
tasks:
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: both done
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: two_flows
      flows:
        - namespace: io.kestra.tests.preconditions
          flowId: flow_a
          states: [SUCCESS]
        - namespace: io.kestra.tests.preconditions
          flowId: flow_b
          states: [SUCCESS]
      where:
        - id: namespace
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
              value: io.kestra.tests
        - id: labelled
          filters:
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ labels.some == 'label' }}"
"""


def test_preconditions_on_two_flows_fire_once_both_succeeded(api: Api) -> None:
    api.deploy(LISTEN_BOTH)
    run_flow(api, FLOW_A)
    time.sleep(0.3)
    assert executions_of(api, "io.kestra.tests.preconditions", "flow_listen") == []
    again = start(api, "io.kestra.tests.preconditions", "flow_a")  # A again: still not both
    api.wait(again, state_is("SUCCESS"))
    time.sleep(0.3)
    assert executions_of(api, "io.kestra.tests.preconditions", "flow_listen") == []
    run_flow(api, FLOW_B)
    found = wait_for_count(api, "io.kestra.tests.preconditions", "flow_listen", 1)
    assert len(found) == 1
    # The set was reset: B alone again starts nothing.
    api.wait(start(api, "io.kestra.tests.preconditions", "flow_b"), state_is("SUCCESS"))
    time.sleep(0.3)
    assert len(executions_of(api, "io.kestra.tests.preconditions", "flow_listen")) == 1


NO_PAUSE = UPSTREAM.replace(
    "  - id: wait_for_approval\n    type: io.kestra.plugin.core.flow.Pause\n", ""
)


def test_a_disabled_trigger_does_not_fire(api: Api) -> None:
    api.deploy(
        DOWNSTREAM.replace(
            "    type: io.kestra.plugin.core.trigger.Flow\n",
            "    type: io.kestra.plugin.core.trigger.Flow\n    disabled: true\n",
        )
    )
    assert run_flow(api, NO_PAUSE)["state"]["current"] == "SUCCESS"
    time.sleep(0.4)
    assert executions_of(api, "demo.downstream", "after_pause") == []


def test_two_engines_on_one_database_start_the_downstream_once(
    backend: str, tmp_path: Path
) -> None:
    """Two servers (each its own store, executor, scheduler and workers) share the database:
    the trigger fires in the transaction of the upstream's change, wherever that commits."""
    import os
    import uuid

    from perch.store import open_store

    if backend == "sqlite":
        stores = [open_store(None, data_dir=tmp_path / "data") for _ in range(2)]
    else:
        schema = f"ft_{uuid.uuid4().hex[:12]}"
        url = os.environ["PERCH_TEST_POSTGRES_URL"]
        stores = [open_store(url, schema=schema) for _ in range(2)]
    first = start_api(stores[0])
    second = start_api(stores[1], admin=False)
    second.client.auth = ADMIN
    try:
        first.deploy(NO_PAUSE)
        first.deploy(DOWNSTREAM)
        upstreams = [start(first if i % 2 else second, "demo", "pause_demo") for i in range(6)]
        for upstream in upstreams:
            first.wait(upstream, state_is("SUCCESS"))
        found = wait_for_count(first, "demo.downstream", "after_pause", 6)
        time.sleep(0.5)
        found = executions_of(first, "demo.downstream", "after_pause")
        parents = sorted(e["trigger"]["variables"]["executionId"] for e in found)
        assert parents == sorted(upstreams)
    finally:
        stop_api(second)
        stop_api(first)
