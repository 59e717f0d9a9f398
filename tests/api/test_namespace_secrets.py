"""Namespace secrets over HTTP, on SQLite and PostgreSQL: written, listed by name only, deleted,
seen by flows of the namespace and its children through ``secret()``, and kept per tenant."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select
from tests.api.conftest import Api, state_is
from tests.api.hitl import create, outputs_of

from perch.store.schema import audit, secrets

VALUE = "pa55-w0rd/ÿ"
BASE = "/api/v1/main/namespaces"

READER = """\
id: reader
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      length: "{{ secret('DB_PASSWORD') | length }}"
      same: "{{ secret('DB_PASSWORD') == 'pa55-w0rd/ÿ' }}"
"""


def _put(api: Api, namespace: str, key: str, value: str = VALUE, **extra: str) -> None:
    body = {"value": value, **extra}
    response = api.client.put(f"{BASE}/{namespace}/secrets/{key}", json=body)
    assert response.status_code == 204, response.text


def _run(api: Api, source: str, namespace: str = "company.team", flow_id: str = "reader") -> dict:
    api.deploy(source)
    execution_id = create(api, namespace, flow_id)
    return api.wait(execution_id, state_is("SUCCESS", "FAILED"))


def test_a_secret_is_written_listed_by_name_and_deleted(api: Api) -> None:
    _put(api, "company.team", "DB_PASSWORD", description="the database")
    text = api.client.put(
        f"{BASE}/company.team/secrets/TOKEN",
        content="t0k3n-value",
        headers={"Content-Type": "text/plain"},
    )
    assert text.status_code == 204, text.text
    named = api.client.put(
        f"{BASE}/company.team/secrets", json={"key": "OTHER", "value": "x-value"}
    )
    assert named.status_code == 204, named.text
    listed = api.client.get(f"{BASE}/company.team/secrets")
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 3
    assert body["readOnly"] is False
    assert [r["key"] for r in body["results"]] == ["DB_PASSWORD", "OTHER", "TOKEN"]
    assert body["results"][0]["description"] == "the database"
    one = api.client.get(f"{BASE}/company.team/secrets/DB_PASSWORD")
    assert one.status_code == 200
    assert one.json()["key"] == "DB_PASSWORD"
    for response in (listed, one):
        for value in (VALUE, "t0k3n-value", "x-value"):
            assert value not in response.text
        assert "value" not in response.text.replace('"readOnly"', "")
    assert api.client.delete(f"{BASE}/company.team/secrets/TOKEN").status_code == 204
    missing = api.client.delete(f"{BASE}/company.team/secrets/TOKEN")
    assert missing.status_code == 404
    assert "TOKEN" in missing.json()["message"]
    assert api.client.get(f"{BASE}/company.team/secrets/TOKEN").status_code == 404
    keys = [r["key"] for r in api.client.get(f"{BASE}/company.team/secrets").json()["results"]]
    assert keys == ["DB_PASSWORD", "OTHER"]


def test_the_value_is_encrypted_and_the_audit_names_only_the_key(api: Api) -> None:
    _put(api, "company.team", "DB_PASSWORD")
    _put(api, "company.team", "DB_PASSWORD", value="second-" + VALUE)
    api.client.delete(f"{BASE}/company.team/secrets/DB_PASSWORD")
    _put(api, "company", "DB_PASSWORD")
    with api.store.transaction() as tx:
        stored = tx.connection.execute(select(secrets.c.value)).scalars().all()
        records = tx.connection.execute(select(audit.c.action, audit.c.detail)).all()
    assert len(stored) == 1
    assert VALUE.encode() not in bytes(stored[0])
    actions = [r.action for r in records if r.action.startswith("SECRET_")]
    assert actions == ["SECRET_CREATED", "SECRET_UPDATED", "SECRET_DELETED", "SECRET_CREATED"]
    for record in records:
        assert VALUE not in record.detail
    assert any('"DB_PASSWORD"' in r.detail and "company.team" in r.detail for r in records)


def test_bad_bodies_and_keys_are_refused_without_echo(api: Api) -> None:
    url = f"{BASE}/company.team/secrets/K"
    for body in ({"value": 12}, {"nothing": "here-" + VALUE}, ["x"]):
        response = api.client.put(url, json=body)
        assert response.status_code == 422, response.text
        assert VALUE not in response.text
    broken = api.client.put(
        url,
        content=b'{"value": "' + VALUE.encode() + b'"',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code in (400, 422)
    assert VALUE not in broken.text
    wrong = api.client.put(url, json={"key": "OTHER", "value": VALUE})
    assert wrong.status_code == 422
    assert VALUE not in wrong.text
    bad_key = api.client.put(f"{BASE}/company.team/secrets/bad key!", json={"value": VALUE})
    assert bad_key.status_code == 422
    assert VALUE not in bad_key.text
    assert api.client.get(f"{BASE}/company.team/secrets").json()["total"] == 0


def test_a_flow_reads_its_namespace_then_its_parents(api: Api) -> None:
    _put(api, "company", "DB_PASSWORD")
    execution = _run(api, READER)
    assert execution["state"]["current"] == "SUCCESS"
    # Values derived from a secret are themselves secret: shown masked (a comparison's answer
    # is a boolean, which tells nothing of the value).
    assert outputs_of(execution, "out") == {"values": {"length": "******", "same": True}}
    # The nearest namespace wins.
    _put(api, "company.team", "DB_PASSWORD", value="nearer")
    source = READER.replace("'pa55-w0rd/ÿ'", "'nearer'").replace("id: reader", "id: nearer")
    nearer = _run(api, source, flow_id="nearer")
    assert nearer["state"]["current"] == "SUCCESS"
    assert outputs_of(nearer, "out")["values"]["same"] is True


def test_a_sibling_or_child_secret_is_not_visible(api: Api) -> None:
    _put(api, "company.other", "DB_PASSWORD")
    _put(api, "company.team.child", "DB_PASSWORD")
    execution = _run(api, READER)
    assert execution["state"]["current"] == "FAILED"
    errors = " ".join(
        str(run.get("error") or "") + str(run.get("outputs") or "")
        for run in execution["taskRunList"]
    )
    logs = api.client.get(f"/api/v1/logs/{execution['id']}").text
    assert "DB_PASSWORD" in logs + errors
    assert VALUE not in logs + errors


def test_secret_from_the_environment_is_base64(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_DB_PASSWORD", base64.b64encode(VALUE.encode()).decode())
    execution = _run(api, READER)
    assert execution["state"]["current"] == "SUCCESS"
    assert outputs_of(execution, "out") == {"values": {"length": "******", "same": True}}


def test_secrets_are_kept_per_tenant(api: Api) -> None:
    api.add_tenant("other")
    _put(api, "company.team", "DB_PASSWORD")
    foreign = api.client.get("/api/v1/other/namespaces/company.team/secrets")
    assert foreign.status_code == 200
    assert foreign.json()["total"] == 0
    assert (
        api.client.delete("/api/v1/other/namespaces/company.team/secrets/DB_PASSWORD").status_code
        == 404
    )
    api.deploy(READER, tenant="other")
    execution_id = create(api, "company.team", "reader", tenant="other")
    execution = api.wait(execution_id, state_is("SUCCESS", "FAILED"), tenant="other")
    assert execution["state"]["current"] == "FAILED"
    assert api.client.get(f"{BASE}/company.team/secrets").json()["total"] == 1


def test_a_value_moved_between_namespaces_fails_the_task_without_showing(api: Api) -> None:
    _put(api, "elsewhere", "DB_PASSWORD")
    with api.store.transaction() as tx:
        tx.connection.execute(secrets.update().values(namespace="company"))
    execution = _run(api, READER)
    assert execution["state"]["current"] == "FAILED"
    logs = api.client.get(f"/api/v1/logs/{execution['id']}").text
    assert "DB_PASSWORD" in logs
    assert "another encryption key" in logs
    assert VALUE not in logs + str(execution)
