"""Looking into an execution over HTTP: its graph, an expression evaluated in its context, and
its outputs on their own (Kestra 2.x's /outputs API)."""

from __future__ import annotations

from typing import Any

import httpx
from tests.api.conftest import Api, state_is
from tests.api.hitl import bind, create, form

from perch import identity

PROBE = """\
id: probe
namespace: company.team
inputs:
  - id: pw
    type: SECRET
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.who == 'world' }}"
    then:
      - id: both
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: left
            type: io.kestra.plugin.core.debug.Return
            format: "L {{ inputs.pw }}"
          - id: right
            type: io.kestra.plugin.core.log.Log
            message: right
    else:
      - id: never
        type: io.kestra.plugin.core.log.Log
        message: never
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
"""
TEXT = {"Content-Type": "text/plain"}


def _paused(api: Api) -> dict[str, Any]:
    api.deploy(PROBE)
    execution_id = create(api, "company.team", "probe", {"pw": "hunter2-secret"})
    return api.wait(execution_id, state_is("PAUSED"))


def _eval(client: httpx.Client, path: str, expression: str) -> httpx.Response:
    return client.post(path, content=expression, headers=TEXT)


def test_the_graph_follows_the_flow_with_its_task_runs(api: Api) -> None:
    execution = _paused(api)
    answer = api.client.get(f"/api/v1/main/executions/{execution['id']}/graph")
    assert answer.status_code == 200, answer.text
    graph = answer.json()
    nodes = {n["uid"]: n for n in graph["nodes"]}
    assert "root.check.both.left" in nodes
    assert nodes["root.check.both.left"]["taskRun"]["outputs"] == {"value": "******"}
    assert "hunter2" not in answer.text
    assert nodes["root.wait"]["taskRun"]["state"]["current"] == "PAUSED"
    assert "taskRun" not in nodes["root.check.never"]  # the branch not taken never ran
    assert nodes["root.alert"]["error"] is True
    edges = {(e["source"], e["target"]): e["relation"] for e in graph["edges"]}
    assert edges[("root.check", "root.check.both._start")] == {
        "relationType": "CHOICE",
        "value": "then",
    }
    assert edges[("root.check", "root.check.never")] == {"relationType": "CHOICE", "value": "else"}
    assert edges[("root.check.both", "root.check.both.left")] == {"relationType": "PARALLEL"}
    assert edges[("root._start", "root.alert")] == {"relationType": "ERROR"}
    clusters = {c["cluster"]["uid"]: c for c in graph["clusters"]}
    assert clusters["cluster_root.check.both"]["parents"] == ["cluster_root.check"]
    assert "root.check.both.right" in clusters["cluster_root.check.both"]["nodes"]
    assert sorted(graph["flowables"]) == ["both", "check"]


def test_eval_renders_in_the_context_and_masks_secrets(api: Api) -> None:
    execution = _paused(api)
    base = f"/api/v1/main/executions/{execution['id']}"
    runs = {r["taskId"]: r["id"] for r in execution["taskRunList"]}
    shown = _eval(api.client, f"{base}/eval", "{{ inputs.who }} {{ flow.id }}")
    assert shown.json() == {"result": "world probe"}
    by_run = _eval(api.client, f"{base}/eval/{runs['left']}", "{{ taskrun.id }} {{ task.id }}")
    assert by_run.json() == {"result": f"{runs['left']} left"}
    assert _eval(api.client, f"{base}/actions/eval", "{{ 1 + 2 }}").json() == {"result": "3"}
    masked = _eval(api.client, f"{base}/eval", "{{ inputs.pw | upper }}").json()
    assert masked == {"result": "******"}
    failed = _eval(api.client, f"{base}/eval", "{{ inputs.pw | number }}").json()
    assert "hunter2" not in failed["error"]
    for function in ("secret('X')", "kv('k')", "read('f.txt')"):
        refused = _eval(api.client, f"{base}/eval", "{{ " + function + " }}").json()
        assert set(refused) == {"error"}
        assert "is not evaluated here" in refused["error"]
    assert set(_eval(api.client, f"{base}/eval", "{{ envs }}").json()) == {"error"}
    assert "result" not in _eval(api.client, f"{base}/eval", "{{ nope(").json()


def test_eval_refuses_what_it_cannot_read(api: Api) -> None:
    execution = _paused(api)
    base = f"/api/v1/main/executions/{execution['id']}"
    missing = _eval(api.client, f"{base}/eval/no-such-run", "{{ 1 }}")
    assert missing.status_code == 404
    assert "no-such-run" in missing.json()["message"]
    assert _eval(api.client, "/api/v1/main/executions/nope/eval", "{{ 1 }}").status_code == 404
    as_json = api.client.post(f"{base}/eval", json={"x": 1})
    assert as_json.status_code == 422
    assert "text/plain" in as_json.json()["message"]
    assert _eval(api.client, f"{base}/eval", "x" * 300_000).status_code == 413
    # A Viewer of the namespace may evaluate (reading is enough); one of another may not see it.
    for name, namespace in (("viewer", "company"), ("stranger", "elsewhere")):
        user = identity.create_user(api.store, name, "correct horse battery")
        bind(api, "USER", user.id, "Viewer", namespace=namespace)
    with httpx.Client(base_url=api.url, auth=("viewer", "correct horse battery")) as viewer:
        assert _eval(viewer, f"{base}/eval", "{{ 1 }}").json() == {"result": "1"}
    with httpx.Client(base_url=api.url, auth=("stranger", "correct horse battery")) as stranger:
        assert _eval(stranger, f"{base}/eval", "{{ 1 }}").status_code == 404


def test_two_x_actions_answer_with_the_execution_and_outputs_stand_alone(api: Api) -> None:
    execution = _paused(api)
    base = f"/api/v1/main/executions/{execution['id']}"
    resumed = api.client.post(f"{base}/actions/resume", **form())
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["id"] == execution["id"]
    again = api.client.post(f"{base}/actions/resume", **form())
    assert again.status_code == 409  # as on the 1.x path
    done = api.wait(execution["id"], state_is("SUCCESS"))
    assert "endDate" in done["state"]
    runs = {r["taskId"]: r for r in done["taskRunList"]}
    assert "outputs" not in runs["right"]  # nothing to show: left out, as Kestra
    listed = api.client.get(f"/api/v1/main/outputs/tasks/{execution['id']}").json()
    assert {"taskId": "left", "taskRunId": runs["left"]["id"], "inline": True} in listed
    one = api.client.get(f"/api/v1/main/outputs/tasks/{execution['id']}/{runs['left']['id']}")
    assert one.json() == {"value": "******"}
    assert api.client.get(f"/api/v1/main/outputs/executions/{execution['id']}").json() == {}
    killed = api.client.delete(f"{base}/actions/kill")
    assert killed.status_code == 409  # already finished
