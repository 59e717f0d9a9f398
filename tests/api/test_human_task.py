"""HumanTask over HTTP: only its assignees decide, on every path, on SQLite and PostgreSQL.

Users: ``alice`` (listed by e-mail), ``bob`` (listed by username), ``carol`` (a member of the
listed group), ``dave`` (nobody's assignee) and the superadmin ``admin``, who is refused too.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from tests.api.conftest import ADMIN, Api, state_is
from tests.api.hitl import bind, create, form

from perch import identity
from perch.engine.model import DEFAULT_TENANT
from perch.identity import roles
from perch.store.schema import audit

PASSWORD = "correct horse battery"
DENIED = "Access denied to resume this execution"

APPROVAL = """\
id: vm_provisioning_approval
namespace: infrastructure
inputs:
  - id: vm_spec
    type: STRING
    defaults: "2 vCPU, 4GB RAM, Ubuntu 22.04"
  - id: approver
    type: STRING
    defaults: nobody-in-particular
tasks:
  - id: it_admin_approval
    type: io.kestra.plugin.ee.flow.HumanTask
    assignment:
      users:
        - Alice@Example.com
        - bob
        - "{{ inputs.approver }}"
      groups:
        - Security Team
    onResume:
      - id: comment
        type: STRING
        defaults: ok
  - id: provision_vm
    type: io.kestra.plugin.core.log.Log
    message: "Approved by {{ outputs.it_admin_approval.resumed.by }}"
"""


@pytest.fixture
def people(api: Api) -> Iterator[dict[str, httpx.Client]]:
    store = api.store
    identity.create_user(store, "alice", PASSWORD, email="alice@example.com")
    for name in ("bob", "carol", "dave", "erin"):
        identity.create_user(store, name, PASSWORD)
    for name in ("alice", "bob", "carol", "dave", "erin"):
        # Everyone may act on the namespace's executions; the assignment decides who resumes.
        user = identity.find_user(store, name)
        assert user is not None
        roles.create_binding(
            store, DEFAULT_TENANT, "USER", user.id, "Launcher", namespace="infrastructure"
        )
    group = identity.create_group(store, DEFAULT_TENANT, "Security Team")
    carol = identity.find_user(store, "carol")
    assert carol is not None
    identity.set_membership(store, group.id, carol.id, True, tenant=DEFAULT_TENANT)
    api.deploy(APPROVAL)
    clients = {
        name: httpx.Client(base_url=api.url, auth=(name, PASSWORD), timeout=30)
        for name in ("alice", "bob", "carol", "dave", "erin")
    }
    clients["alice-by-email"] = httpx.Client(
        base_url=api.url, auth=("ALICE@example.com", PASSWORD), timeout=30
    )
    clients["admin"] = api.client
    yield clients
    for name, client in clients.items():
        if name != "admin":
            client.close()


def _start(api: Api, **inputs: str) -> str:
    execution_id = create(api, "infrastructure", "vm_provisioning_approval", inputs or None)
    api.wait(execution_id, state_is("PAUSED"))
    return execution_id


def _audit(api: Api, execution_id: str) -> list[tuple[str, str]]:
    """The audit trail of one execution: (action, principal), oldest first."""
    query = (
        select(audit.c.action, audit.c.principal_name)
        .where(audit.c.execution_id == execution_id)
        .order_by(audit.c.seq)
    )
    with api.store.transaction() as tx:  # type: ignore[attr-defined]
        return [(a, p) for a, p in tx.connection.execute(query)]


def _resume(client: httpx.Client, execution_id: str, **values: str) -> httpx.Response:
    return client.post(
        f"/api/v1/main/executions/{execution_id}/resume", **(form(**values) if values else {})
    )


def test_only_assignees_resume_and_everyone_else_gets_403(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    execution_id = _start(api)
    shown = api.client.get(f"/api/v1/main/executions/{execution_id}").json()
    assert shown["assignment"]["taskId"] == "it_admin_approval"
    # Rendered when the task started: the expression became the input's value.
    assert shown["assignment"]["users"] == ["Alice@Example.com", "bob", "nobody-in-particular"]
    assert shown["assignment"]["groups"] == ["Security Team"]
    for who in ("dave", "admin"):
        refused = _resume(people[who], execution_id, comment="sneaky")
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"] == DENIED
        # A bad value changes nothing either: who decides is checked first.
        assert _resume(people[who], execution_id, comment="x" * 10).status_code == 403
    validate = people["dave"].post(f"/api/v1/main/executions/{execution_id}/resume/validate")
    assert validate.status_code == 403
    assert (
        api.client.get(f"/api/v1/main/executions/{execution_id}").json()["state"]["current"]
        == "PAUSED"
    )
    # alice is listed by e-mail in another case, and signs in with her e-mail in a third.
    done = _resume(people["alice-by-email"], execution_id, comment="fine")
    assert done.status_code == 204, done.text
    body = api.wait(execution_id, state_is("SUCCESS"))
    run = next(r for r in body["taskRunList"] if r["taskId"] == "it_admin_approval")
    assert run["outputs"]["resumed"]["by"] == "alice"
    assert run["outputs"]["assignment"]["groups"] == ["Security Team"]
    assert "assignment" not in body  # no longer waiting for anyone
    logs = api.client.get(f"/api/v1/main/logs/{execution_id}").json()
    assert any(line["message"] == "Approved by alice" for line in logs)
    trail = _audit(api, execution_id)
    # Each refused attempt is on record, beside the decision that was made.
    assert trail.count(("RESUME_DENIED", "dave")) == 2
    assert trail.count(("RESUME_DENIED", "admin")) == 2
    assert ("RESUME", "alice") in trail


def test_a_listed_username_a_group_member_and_an_expression_may_decide(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    for who in ("bob", "carol"):
        execution_id = _start(api)
        assert _resume(people[who], execution_id).status_code == 204
        api.wait(execution_id, state_is("SUCCESS"))
    execution_id = _start(api, approver="erin")
    assert _resume(people["dave"], execution_id).status_code == 403
    assert _resume(people["erin"], execution_id).status_code == 204
    api.wait(execution_id, state_is("SUCCESS"))


def test_membership_counts_when_deciding(api: Api, people: dict[str, httpx.Client]) -> None:
    execution_id = _start(api)
    group = api.client.get("/api/v1/main/groups/search", params={"q": "security"}).json()
    group_id = group["results"][0]["id"]
    removed = api.client.delete(f"/api/v1/main/groups/{group_id}/members/carol")
    assert removed.status_code == 204
    assert _resume(people["carol"], execution_id).status_code == 403
    added = api.client.put(f"/api/v1/main/groups/{group_id}/members/dave")
    assert added.status_code == 204
    members = api.client.get(f"/api/v1/main/groups/{group_id}/members").json()
    assert [m["username"] for m in members] == ["dave"]
    assert _resume(people["dave"], execution_id).status_code == 204


def test_bulk_resume_reports_each_refusal(api: Api, people: dict[str, httpx.Client]) -> None:
    ids = [_start(api), _start(api)]
    report = people["dave"].post("/api/v1/main/executions/resume/by-ids", json=ids)
    assert report.status_code == 200, report.text
    assert report.json()["count"] == 0
    assert sorted(report.json()["invalids"], key=lambda i: i["invalidValue"]) == [
        {"invalidValue": i, "message": DENIED} for i in sorted(ids)
    ]
    by_query = people["dave"].post(
        "/api/v1/main/executions/resume/by-query", params={"namespace": "infrastructure"}
    )
    assert by_query.json()["count"] == 0
    assert {i["invalidValue"] for i in by_query.json()["invalids"]} == set(ids)
    for execution_id in ids:
        body = api.client.get(f"/api/v1/main/executions/{execution_id}").json()
        assert body["state"]["current"] == "PAUSED"
        assert _audit(api, execution_id).count(("RESUME_DENIED", "dave")) == 2
    assert people["bob"].post("/api/v1/main/executions/resume/by-ids", json=ids).json() == {
        "count": 2,
        "invalids": [],
    }


def test_restart_cannot_bypass_the_assignment_but_kill_follows_rbac(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    execution_id = _start(api)
    restart = api.client.post(f"/api/v1/main/executions/{execution_id}/restart")
    assert restart.status_code == 403
    assert restart.json()["message"] == DENIED
    assert ("RESTART_DENIED", "admin") in _audit(api, execution_id)
    assert (
        api.client.get(f"/api/v1/main/executions/{execution_id}").json()["state"]["current"]
        == "PAUSED"
    )
    killed = api.client.delete(f"/api/v1/main/executions/{execution_id}/kill")
    assert killed.status_code in (200, 202, 204), killed.text
    api.wait(execution_id, state_is("KILLED"))
    # The conflict says what ended the pause, and who: not "resumed by" after a kill.
    late = _resume(people["bob"], execution_id)
    assert late.status_code == 409
    assert late.json()["killedBy"] == "admin"
    assert "resumedBy" not in late.json()


def test_the_approvals_inbox_lists_what_the_caller_may_resume(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    first, second = _start(api), _start(api, approver="erin")
    inbox = people["erin"].get("/api/v1/main/approvals").json()
    assert inbox["total"] == 1
    assert inbox["results"][0]["executionId"] == second
    assert inbox["results"][0]["assignment"]["users"][-1] == "erin"
    bob = people["bob"].get("/api/v1/main/approvals").json()
    assert [a["executionId"] for a in bob["results"]] == [first, second]  # oldest first
    assert people["dave"].get("/api/v1/main/approvals").json() == {"results": [], "total": 0}


def test_a_disabled_user_is_refused_at_once(api: Api, people: dict[str, httpx.Client]) -> None:
    assert people["bob"].get("/api/v1/main/approvals").status_code == 200  # a remembered check
    bob = api.client.get("/api/v1/users/search", params={"q": "bob"}).json()["results"][0]
    disabled = api.client.put(f"/api/v1/users/{bob['id']}", json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    assert people["bob"].get("/api/v1/main/approvals").status_code == 401
    # Even a disable written straight to the database, by another process, counts at once.
    carol = identity.find_user(api.store, "carol")
    assert carol is not None
    assert people["carol"].get("/api/v1/main/approvals").status_code == 200
    identity.update_user(api.store, carol.id, identity.UserChanges(disabled=True))
    assert people["carol"].get("/api/v1/main/approvals").status_code == 401
    deleted = api.client.delete(f"/api/v1/users/{bob['id']}")
    assert deleted.status_code == 204
    assert api.client.get(f"/api/v1/users/{bob['id']}").status_code == 404


def test_user_routes_are_for_superadmins(api: Api, people: dict[str, httpx.Client]) -> None:
    created = api.client.post(
        "/api/v1/users",
        json={"username": "frank", "password": PASSWORD, "email": "F@x.org", "displayName": "F"},
    )
    assert created.status_code == 200, created.text
    assert created.json()["email"] == "f@x.org"
    assert (
        api.client.post(
            "/api/v1/users", json={"username": "frank", "password": PASSWORD}
        ).status_code
        == 409
    )
    assert people["dave"].get("/api/v1/users").status_code == 403
    assert people["dave"].post("/api/v1/main/groups", json={"name": "x"}).status_code == 403
    listed = api.client.get("/api/v1/users", params={"size": 3}).json()
    assert listed["total"] == 7
    assert len(listed["results"]) == 3
    admin = api.client.get("/api/v1/users/search", params={"q": ADMIN[0]}).json()["results"][0]
    last = api.client.put(f"/api/v1/users/{admin['id']}", json={"disabled": True})
    assert last.status_code == 422
    assert "last enabled superadmin" in last.json()["message"]


def test_any_tenant_means_the_default_one_until_a_second_exists(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    execution_id = _start(api)
    # The seeds' literal curl, with the flow's namespace where the tenant goes.
    seen = people["bob"].get(f"/api/v1/demo/executions/{execution_id}")
    assert seen.status_code == 200
    assert seen.json()["tenantId"] == DEFAULT_TENANT
    assert _resume_in(people["bob"], "demo", execution_id).status_code == 204
    created = api.client.post("/api/v1/tenants", json={"id": "other"})
    assert created.status_code == 200, created.text
    tenants = [t["id"] for t in api.client.get("/api/v1/tenants").json()]
    assert tenants == ["main", "other"]
    assert people["bob"].get(f"/api/v1/demo/executions/{execution_id}").status_code == 404
    # Bob has nothing in tenant "other": every call under it is refused.
    assert people["bob"].get(f"/api/v1/other/executions/{execution_id}").status_code == 403
    assert people["bob"].get(f"/api/v1/main/executions/{execution_id}").status_code == 200
    with api.anonymous() as anonymous:
        assert anonymous.get("/api/v1/demo/executions/x").status_code == 401


def _resume_in(client: httpx.Client, tenant: str, execution_id: str) -> httpx.Response:
    return client.post(f"/api/v1/{tenant}/executions/{execution_id}/resume")


def test_a_service_account_acts_in_its_own_tenant_only(api: Api) -> None:
    api.client.post("/api/v1/tenants", json={"id": "other"})
    account = api.client.post("/api/v1/other/service-accounts", json={"name": "ci"}).json()
    bind(api, "SERVICE_ACCOUNT", account["id"], "Launcher", tenant="other")
    token = api.client.post(
        f"/api/v1/other/service-accounts/{account['id']}/api-tokens", json={"name": "t"}
    ).json()["token"]
    with api.as_token(token) as ci:
        assert ci.get("/api/v1/other/executions/search").status_code == 200
        refused = ci.get("/api/v1/main/executions/search")
        assert refused.status_code == 403
        assert "belongs to tenant 'other'" in refused.json()["message"]
        assert ci.get("/api/v1/executions/search").status_code == 403
