"""Drives a Perch server with Kestra's Python SDK (kestrapy 1.x or 2.x), as a script.

Run by ``test_kestrapy.py`` in a subprocess whose ``sys.path`` starts with the folder one version
of the SDK is installed in (two versions of a package cannot share an interpreter): it imports
neither Perch nor the tests. Every call goes through the SDK's own methods; every answer's raw
JSON (captured from the SDK's HTTP session) is then validated strictly with the SDK's own
model, with ``Model.from_dict`` (the SDK itself falls back to an unchecked ``model_construct``
when validation fails, which would hide a wrong answer).

Two defects of the 2.x models are worked around, because Kestra's own server trips on them
too: ``State`` declares the Java getters ``getDuration``, ``getStartDate`` and ``getEndDate`` as
required properties (Kestra sends ``duration``, ``startDate``, ``endDate``), so those three are
filled from their real counterparts before validating; ``ApiLightExecution.inputs`` wants each
input's value to be an object, so the search results are validated without their ``inputs``.

Prints one JSON report: ``{"steps": [{"step", "ok", "detail"}]}``.
Usage: ``kestrapy_driver.py SDK_DIR URL USER PASSWORD NAMESPACE``.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import time
from typing import Any

sys.path.insert(0, sys.argv[1])

import warnings

warnings.simplefilter("ignore")  # the 2.x models warn about a field named `validate`

import requests  # noqa: E402
from kestrapy import KestraClient  # noqa: E402

URL, USER, PASSWORD, NAMESPACE = sys.argv[2:6]
TENANT = "main"
VERSION = int(importlib.metadata.version("kestrapy").split(".")[0])

client = KestraClient(host=URL, username=USER, password=PASSWORD, timeout=30)
answers: list[requests.Response] = []
client._session.hooks["response"].append(lambda r, *a, **k: answers.append(r))
report: list[dict[str, Any]] = []


def model(name: str) -> Any:
    module = __import__("kestrapy.models", fromlist=[name])
    return getattr(module, name)


def _fill_getters(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _fill_getters(v) for k, v in value.items()}
        if "current" in value and "histories" in value and VERSION == 2:
            value.setdefault("getDuration", value.get("duration"))
            value.setdefault("getStartDate", value.get("startDate"))
            value.setdefault("getEndDate", value.get("endDate", value.get("startDate")))
        return value
    if isinstance(value, list):
        return [_fill_getters(v) for v in value]
    return value


def last_json() -> Any:
    answer = answers[-1]
    return answer.json() if answer.content else None


def strict(name: str, raw: Any) -> Any:
    """``raw`` validated by the SDK's model ``name``; raises on any disagreement."""
    return model(name).from_dict(_fill_getters(raw))


def step(name: str, check: Any) -> None:
    started = time.monotonic()
    try:
        detail = check()
        report.append({"step": name, "ok": True, "detail": detail})
    except Exception as error:
        report.append({"step": name, "ok": False, "detail": f"{type(error).__name__}: {error}"})
    report[-1]["seconds"] = round(time.monotonic() - started, 3)


def wait_for(execution_id: str, *states: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = client.executions.execution(execution_id, TENANT)
        current = getattr(found.state.current, "value", found.state.current)
        if current in states:
            strict("Execution", last_json())
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_id} is {current}, not {states}")
        time.sleep(0.05)


state: dict[str, Any] = {}


def create() -> str:
    created = client.executions.create_execution(
        TENANT, NAMESPACE, "gate", inputs={"who": "sdk"}, labels=["team:sdk"]
    )
    checked = strict("ExecutionControllerExecutionResponse", last_json())
    assert checked.id == created.id, checked
    assert checked.url, checked
    state["id"] = created.id
    return created.id


def get_paused() -> str:
    found = wait_for(state["id"], "PAUSED")
    (paused,) = [r for r in found.task_run_list if r.task_id == "wait"]
    state["wait_run"] = paused.id
    return getattr(found.state.current, "value", str(found.state.current))


def search() -> int:
    client.executions.search_executions(TENANT, page=1, size=50)
    raw = last_json()
    if VERSION == 2:
        for item in raw["results"]:
            item.pop("inputs", None)
        page = strict("PagedResultsApiLightExecution", raw)
    else:
        page = strict("PagedResultsExecution", raw)
    assert state["id"] in [e.id for e in page.results], "the paused execution is not found"
    return int(page.total)


def graph() -> list[str]:
    client.executions.execution_flow_graph(state["id"], TENANT)
    flow_graph = strict("FlowGraph", last_json())
    uids = [n.uid for n in flow_graph.nodes]
    assert any(uid.endswith(".wait") for uid in uids), uids
    assert flow_graph.edges
    assert flow_graph.clusters is not None
    return uids


def evaluate() -> dict[str, Any]:
    shown = client.executions.eval_expression(state["id"], TENANT, "{{ inputs.who }}!")
    if VERSION == 2:
        strict("ExecutionControllerEvalResult", last_json())
    assert shown == {"result": "sdk!"}, shown
    refused = client.executions.eval_expression(state["id"], TENANT, "{{ secret('TOKEN') }}")
    assert "result" not in refused, refused
    assert "secret()" in refused["error"], refused
    found: dict[str, Any] = {"execution": shown, "secret": refused}
    if VERSION == 2:
        run = client.executions.eval_task_run_expression(
            state["id"], state["wait_run"], TENANT, "{{ taskrun.id }}"
        )
        strict("ExecutionControllerEvalResult", last_json())
        assert run.result == state["wait_run"], run
        found["taskRun"] = run.result
    return found


def resume() -> str:
    resumed = client.executions.resume_execution(state["id"], TENANT, inputs={"ok": True})
    if VERSION == 2:
        checked = strict("Execution", last_json())
        assert checked.id == state["id"]
    else:
        assert resumed is None
        assert answers[-1].status_code == 204, answers[-1].status_code
    return str(answers[-1].status_code)


def outputs() -> dict[str, Any]:
    done = wait_for(state["id"], "SUCCESS")
    if VERSION == 1:
        by_task = {r.task_id: r.outputs for r in done.task_run_list}
        flow = done.outputs
    else:  # 2.x reads outputs from their own API
        flow = client.outputs.execution_outputs(state["id"], TENANT)
        listed = client.outputs.task_outputs_information(state["id"], TENANT)
        for raw in last_json():
            strict("OutputControllerTaskOutputInformation", raw)
        by_task = {
            i.task_id: client.outputs.task_run_outputs(state["id"], i.task_run_id, TENANT)
            for i in listed
        }
    assert by_task["after"] == {"value": "true"}, by_task
    assert flow == {"final": "true"}, flow
    return {"after": by_task["after"], "flow": flow}


def triggers() -> list[str]:
    client.triggers.search_triggers(TENANT, page=1, size=10)
    raw = last_json()
    if VERSION == 2:
        page = strict("PagedResultsApiTriggerAndState", raw)
        ids = [r.state.trigger_id for r in page.results]
    else:
        page = strict("PagedResultsTriggerControllerTriggers", raw)
        ids = [r.trigger_context.trigger_id for r in page.results]
    assert "yearly" in ids, ids
    return ids


def pause_and_kill() -> list[str]:
    created = client.executions.create_execution(TENANT, NAMESPACE, "slow")
    wait_for(created.id, "RUNNING")
    seen = []
    paused = client.executions.pause_execution(created.id, TENANT)
    seen.append(str(answers[-1].status_code))
    if VERSION == 2:
        assert strict("Execution", last_json()).id == created.id
    else:
        assert paused is None
    wait_for(created.id, "PAUSED")
    killed = client.executions.kill_execution(created.id, TENANT)
    seen.append(str(answers[-1].status_code))
    if VERSION == 2:
        assert strict("Execution", last_json()).id == created.id
    else:
        assert killed is None
    wait_for(created.id, "KILLED")
    return seen


def restart() -> str:
    created = client.executions.create_execution(TENANT, NAMESPACE, "failing")
    wait_for(created.id, "FAILED")
    restarted = client.executions.restart_execution(created.id, TENANT)
    checked = strict("Execution", last_json())
    assert checked.id == restarted.id == created.id
    current = getattr(checked.state.current, "value", str(checked.state.current))
    assert current in {"RESTARTED", "RUNNING", "FAILED"}, current
    return current


for name, check in [
    ("create", create),
    ("get", get_paused),
    ("search", search),
    ("graph", graph),
    ("eval", evaluate),
    ("resume", resume),
    ("outputs", outputs),
    ("triggers search", triggers),
    ("pause and kill", pause_and_kill),
    ("restart", restart),
]:
    step(name, check)
    if name == "create" and not report[-1]["ok"]:
        break

print(json.dumps({"version": VERSION, "steps": report}))
