"""Kestra's ForEachItem through a real server over HTTP: one subflow per batch of a file's
lines, merged outputs, failures, ``wait: false`` and restarts.

Each flow follows one of Kestra's engine test flows (``core/src/test/resources/flows/valids/``),
named in a comment above it, and the test asserts what the Kestra test asserts.
"""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from tests.conformance.test_flowables import logs, run, runs_of

# Kestra: flows/valids/for-each-item-subflow.yaml.
EACH_SUBFLOW = """
id: for-each-item-subflow
namespace: conformance.each
inputs:
  - id: items
    type: STRING
tasks:
  - id: per-item
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.items }}"
"""

# Kestra: ForEachItemCaseTest.forEachItem, flows/valids/for-each-item.yaml.
EACH = """
id: for-each-item
namespace: conformance.each
inputs:
  - id: file
    type: FILE
  - id: batch
    type: INT
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: "{{inputs.batch}}"
    namespace: conformance.each
    flowId: for-each-item-subflow
    wait: true
    transmitFailed: true
    inputs:
      items: "{{ taskrun.items }}"
"""

ITEMS = "".join(f"line {number}\n" for number in range(1, 103)).encode()  # 26 batches of 4


def _children(server: Api, flow_id: str, parent_id: str) -> list[dict[str, Any]]:
    response = server.client.get(
        "/api/v1/executions/search",
        params={"namespace": "conformance.each", "flowId": flow_id, "size": 100},
    )
    assert response.status_code == 200, response.text
    found = [
        e
        for e in response.json()["results"]
        if any(
            lab["key"] == "system.correlationId" and lab["value"] == parent_id
            for lab in e["labels"]
        )
    ]
    return found


def test_foreachitem_starts_one_subflow_per_batch(server: Api) -> None:
    server.deploy(EACH_SUBFLOW)
    files = [("file", ("items.txt", ITEMS, "text/plain")), ("batch", (None, "4"))]
    execution = run(server, EACH, files=files, timeout=60)
    assert execution["state"]["current"] == "SUCCESS"
    runs = execution["taskRunList"]
    assert [run["taskId"] for run in runs] == ["each", "each_split", "each_items", "each_merge"]
    items = runs[2]
    assert len(items["attempts"]) == 1
    assert items["attempts"][0]["state"]["current"] == "SUCCESS"
    assert items["outputs"]["numberOfBatches"] == 26
    assert items["outputs"]["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}
    assert runs[1]["outputs"]["splits"].endswith("/splits.txt")
    children = _children(server, "for-each-item-subflow", execution["id"])
    assert len(children) == 26
    assert all(child["state"]["current"] == "SUCCESS" for child in children)
    batch = children[0]["inputs"]["items"]
    assert batch.startswith(
        f"kestra:///conformance/each/for-each-item/executions/{execution['id']}/"
    )
    assert batch.endswith(".txt")
    first = [c for c in children if c["inputs"]["items"].endswith(f"{runs[1]['id']}/1.txt")]
    [line] = logs(server, first[0]["id"])
    assert line["message"] == f"{first[0]['inputs']['items']}"


# Kestra: flows/valids/for-each-item-outputs-subflow.yaml.
EACH_OUTPUTS_SUBFLOW = """
id: for-each-item-outputs-subflow
namespace: conformance.each
inputs:
  - id: items
    type: STRING
tasks:
  - id: return
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.items) }}"
outputs:
  - id: value
    value: "{{ outputs.return.value }}"
    type: STRING
"""

# Kestra: ForEachItemCaseTest.forEachItemWithSubflowOutputs, flows/valids/for-each-item-outputs.
EACH_OUTPUTS = """
id: for-each-item-outputs
namespace: conformance.each
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 4
    namespace: conformance.each
    flowId: for-each-item-outputs-subflow
    wait: true
    transmitFailed: true
    inputs:
      items: "{{ taskrun.items }}"
  - id: return
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.each_merge.subflowOutputs }}"
"""


def test_foreachitem_merges_the_subflow_outputs(server: Api) -> None:
    server.deploy(EACH_OUTPUTS_SUBFLOW)
    files = [("file", ("items.txt", ITEMS, "text/plain"))]
    execution = run(server, EACH_OUTPUTS, files=files, timeout=60)
    assert execution["state"]["current"] == "SUCCESS"
    runs = execution["taskRunList"]
    assert len(runs) == 5
    assert runs[2]["outputs"]["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}
    merged = runs[3]["outputs"]["subflowOutputs"]
    assert runs[4]["outputs"]["value"] == merged
    download = server.client.get(
        f"/api/v1/executions/{execution['id']}/file", params={"path": merged}
    )
    assert download.status_code == 200, download.text
    lines = download.text.splitlines()
    assert len(lines) == 26  # one line per subflow, in batch order
    assert json.loads(lines[0]) == {"value": "line 1\nline 2\nline 3\nline 4\n"}
    assert json.loads(lines[-1]) == {"value": "line 101\nline 102\n"}


# Kestra: flows/valids/for-each-item-subflow-failed.yaml.
EACH_FAILED_SUBFLOW = """
id: for-each-item-subflow-failed
namespace: conformance.each
inputs:
  - id: items
    type: STRING
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
"""

# Kestra: ForEachItemCaseTest.forEachItemFailed, flows/valids/for-each-item-failed.yaml.
EACH_FAILED = (
    EACH_OUTPUTS.replace("id: for-each-item-outputs\n", "id: for-each-item-failed\n")
    .replace("flowId: for-each-item-outputs-subflow", "flowId: for-each-item-subflow-failed")
    .split("  - id: return")[0]
)


def test_foreachitem_fails_when_its_subflows_fail(server: Api) -> None:
    server.deploy(EACH_FAILED_SUBFLOW)
    files = [("file", ("items.txt", ITEMS, "text/plain"))]
    execution = run(server, EACH_FAILED, files=files, timeout=60)
    assert execution["state"]["current"] == "FAILED"
    runs = execution["taskRunList"]
    assert len(runs) == 3
    assert runs[2]["attempts"][0]["state"]["current"] == "FAILED"
    assert runs[2]["outputs"]["numberOfBatches"] == 26
    assert runs[2]["outputs"]["iterations"] == {"CREATED": 0, "RUNNING": 0, "FAILED": 26}
    children = _children(server, "for-each-item-subflow-failed", execution["id"])
    assert len(children) == 26
    assert all(child["state"]["current"] == "FAILED" for child in children)


# Kestra: ForEachItemCaseTest.forEachItemNoWait, flows/valids/for-each-item-no-wait.yaml.
EACH_NO_WAIT = (
    EACH_OUTPUTS.replace("id: for-each-item-outputs\n", "id: for-each-item-no-wait\n")
    .replace("flowId: for-each-item-outputs-subflow", "flowId: for-each-item-subflow-no-wait")
    .replace("wait: true", "wait: false")
    .split("  - id: return")[0]
)


def test_foreachitem_without_wait_counts_every_subflow_as_done(server: Api) -> None:
    server.deploy(EACH_SUBFLOW.replace("for-each-item-subflow", "for-each-item-subflow-no-wait"))
    files = [("file", ("items.txt", ITEMS, "text/plain"))]
    execution = run(server, EACH_NO_WAIT, files=files, timeout=60)
    assert execution["state"]["current"] == "SUCCESS"
    runs = execution["taskRunList"]
    assert len(runs) == 4
    assert runs[2]["outputs"]["iterations"] == {"RUNNING": 0, "SUCCESS": 26}
    assert runs[3].get("outputs") is None


def test_foreachitem_refuses_items_that_are_not_a_file(server: Api) -> None:
    source = EACH_NO_WAIT.replace("for-each-item-no-wait", "for-each-item-not-a-file").replace(
        'items: "{{ inputs.file }}"', "items: just some text"
    )
    execution = run(server, source, files=[("file", ("items.txt", ITEMS, "text/plain"))])
    assert execution["state"]["current"] == "FAILED"
    split = runs_of(execution, "each_split")[0]
    assert split["state"]["current"] == "FAILED"
    errors = [line["message"] for line in logs(server, execution["id"]) if line["level"] == "ERROR"]
    assert any("this is not an internal storage URI" in message for message in errors)


def test_a_restarted_foreachitem_starts_its_batches_again(server: Api) -> None:
    subflow = EACH_FAILED_SUBFLOW.replace("for-each-item-subflow-failed", "each-restart-child")
    server.deploy(subflow)
    source = EACH_FAILED.replace("for-each-item-failed", "each-restart").replace(
        "flowId: for-each-item-subflow-failed", "flowId: each-restart-child"
    )
    execution = run(server, source, files=[("file", ("items.txt", ITEMS, "text/plain"))])
    assert execution["state"]["current"] == "FAILED"
    restarted = server.client.post(f"/api/v1/executions/{execution['id']}/restart")
    assert restarted.status_code == 200, restarted.text
    again = server.wait(
        execution["id"],
        lambda b: [h["state"] for h in b["state"]["histories"]].count("FAILED") == 2,
        timeout=60,
    )
    items = runs_of(again, "each_items")[0]
    assert items["outputs"]["iterations"] == {"CREATED": 0, "RUNNING": 0, "FAILED": 26}
    assert len(_children(server, "each-restart-child", execution["id"])) == 52
