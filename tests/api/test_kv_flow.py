"""Flows use the KV store, on SQLite and PostgreSQL: kv.Set, kv.Get and kv.Delete run through
the engine, ``kv()`` reads what they wrote, and what the API wrote; a missing key fails a task
unless ``errorOnMissing`` is false."""

from __future__ import annotations

from tests.api.conftest import Api, state_is
from tests.api.hitl import create, outputs_of, task_states

BASE = "/api/v1/main/namespaces"

FLOW = """\
id: kv_flow
namespace: company.team
tasks:
  - id: set_count
    type: io.kestra.plugin.core.kv.Set
    key: count
    value: "41"
    kvType: NUMBER
  - id: set_other
    type: io.kestra.plugin.core.kv.Set
    key: greeting
    namespace: company
    value: "hello {{ flow.id }}"
    ttl: PT1H
    kvDescription: a greeting
  - id: keep_first
    type: io.kestra.plugin.core.kv.Set
    key: count
    value: "99"
    overwrite: false
    allowFailure: true
  - id: get_count
    type: io.kestra.plugin.core.kv.Get
    key: count
  - id: get_missing
    type: io.kestra.plugin.core.kv.Get
    key: never_set
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "count is {{ kv('count') + 1 }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      next: "{{ kv('count') + 1 }}"
      greeting: "{{ kv('greeting', namespace='company') }}"
      fromApi: "{{ kv('from_api') }}"
      missing: "{{ kv('never_set', errorOnMissing=false) ?? 'none' }}"
  - id: delete_count
    type: io.kestra.plugin.core.kv.Delete
    key: count
  - id: delete_again
    type: io.kestra.plugin.core.kv.Delete
    key: count
"""

STRICT = """\
id: kv_strict
namespace: company.team
tasks:
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "{{ kv('never_set') }}"
"""

STRICT_GET = """\
id: kv_strict_get
namespace: company.team
tasks:
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: never_set
    errorOnMissing: true
"""


def test_a_flow_sets_gets_reads_and_deletes(api: Api) -> None:
    put = api.client.put(f"{BASE}/company.team/kv/from_api", json={"a": 1})
    assert put.status_code == 200, put.text
    api.deploy(FLOW)
    execution = api.wait(create(api, "company.team", "kv_flow"), state_is("SUCCESS", "WARNING"))
    states = task_states(execution)
    assert states["keep_first"] == "WARNING", states
    assert states["out"] == "SUCCESS", states
    assert outputs_of(execution, "get_count") == {"value": 41}
    assert outputs_of(execution, "get_missing") == {"value": None}
    assert outputs_of(execution, "out")["values"] == {
        "next": 42,
        "greeting": "hello kv_flow",
        "fromApi": {"a": 1},
        "missing": "none",
    }
    assert outputs_of(execution, "delete_count") == {"deleted": True}
    assert outputs_of(execution, "delete_again") == {"deleted": False}
    logs = api.client.get(f"/api/v1/logs/{execution['id']}").json()
    assert any(line["message"] == "count is 42" for line in logs)
    assert api.client.get(f"{BASE}/company.team/kv/count").status_code == 404
    greeting = api.client.get(f"{BASE}/company/kv/greeting").json()
    assert greeting == {"type": "STRING", "value": "hello kv_flow"}
    listed = api.client.get(f"{BASE}/company/kv").json()
    assert listed[0]["description"] == "a greeting"
    assert listed[0]["expirationDate"] is not None


def test_a_missing_key_fails_unless_told_otherwise(api: Api) -> None:
    for source, flow_id in ((STRICT, "kv_strict"), (STRICT_GET, "kv_strict_get")):
        api.deploy(source)
        execution = api.wait(create(api, "company.team", flow_id), state_is("SUCCESS", "FAILED"))
        assert execution["state"]["current"] == "FAILED", flow_id
        logs = api.client.get(f"/api/v1/logs/{execution['id']}").json()
        assert any("never_set" in line["message"] for line in logs), logs
