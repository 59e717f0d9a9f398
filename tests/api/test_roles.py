"""Roles and bindings through the API and the CLI: CRUD, the built-in roles, bad input."""

from __future__ import annotations

import httpx
import pytest
from tests.api.conftest import Api
from tests.cli.test_remote import perch
from typer.testing import CliRunner

from perch import identity
from perch.cli import _register_subcommands, app

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "role" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


def test_roles_crud_and_built_in_ones(api: Api) -> None:
    listed = api.client.get("/api/v1/main/roles").json()
    assert [r["name"] for r in listed] == ["Admin", "Developer", "Editor", "Launcher", "Viewer"]
    made = api.client.post(
        "/api/v1/main/roles",
        json={"name": "auditor", "permissions": {"auditlog": ["read"], "EXECUTION": ["READ"]}},
    )
    assert made.status_code == 200, made.text
    role = made.json()
    assert role["permissions"] == {"EXECUTION": ["READ"], "AUDITLOG": ["READ"]}
    assert api.client.post("/api/v1/main/roles", json={"name": "auditor"}).status_code == 409
    changed = api.client.put(
        f"/api/v1/main/roles/{role['id']}", json={"permissions": {"FLOW": ["READ"]}}
    )
    assert changed.json()["permissions"] == {"FLOW": ["READ"]}
    found = api.client.get("/api/v1/main/roles/search", params={"q": "audit"}).json()
    assert [r["name"] for r in found["results"]] == ["auditor"]
    assert found["total"] == 1
    # Built-in roles are fixed; unknown permissions are named.
    fixed = api.client.put("/api/v1/main/roles/viewer", json={"name": "x"})
    assert fixed.status_code == 422
    assert "built-in role 'Viewer' cannot be changed" in fixed.text
    assert api.client.delete("/api/v1/main/roles/admin").status_code == 422
    unknown = api.client.post(
        "/api/v1/main/roles", json={"name": "b", "permissions": {"FLOWS": []}}
    )
    assert unknown.status_code == 422
    assert "unknown permission 'FLOWS'" in unknown.text
    action = api.client.post(
        "/api/v1/main/roles", json={"name": "c", "permissions": {"FLOW": ["RUN"]}}
    )
    assert action.status_code == 422
    assert "unknown action 'RUN' for FLOW" in action.text
    clash = api.client.post("/api/v1/main/roles", json={"name": "viewer"})
    assert "name of a built-in role" in clash.text
    # Deleting a role removes its bindings: the user loses what it gave.
    user = identity.create_user(api.store, "ana", PASSWORD)
    bound = api.client.post(
        "/api/v1/main/bindings",
        json={"type": "USER", "externalId": "ana", "roleId": role["id"]},
    )
    assert bound.status_code == 200, bound.text
    assert bound.json()["externalId"] == user.id
    with httpx.Client(base_url=api.url, auth=("ana", PASSWORD)) as ana:
        assert ana.get("/api/v1/main/flows/search").status_code == 200
        assert api.client.delete(f"/api/v1/main/roles/{role['id']}").status_code == 204
        assert api.client.get(f"/api/v1/main/bindings/{bound.json()['id']}").status_code == 404
        assert ana.get("/api/v1/main/flows/search").status_code == 403


def test_bindings_refuse_what_does_not_exist(api: Api) -> None:
    identity.create_user(api.store, "ana", PASSWORD)
    cases = [
        ({"type": "ROBOT", "externalId": "ana", "roleId": "Viewer"}, "unknown binding type"),
        ({"type": "USER", "externalId": "ghost", "roleId": "Viewer"}, "no user 'ghost'"),
        ({"type": "USER", "externalId": "ana", "roleId": "Boss"}, "Role 'Boss' not found"),
        (
            {"type": "USER", "externalId": "ana", "roleId": "Viewer", "namespace": "a b"},
            "'a b' is not a namespace",
        ),
        ({"type": "GROUP", "externalId": "nobody", "roleId": "Viewer"}, "no group 'nobody'"),
    ]
    for body, message in cases:
        answer = api.client.post("/api/v1/main/bindings", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert message in answer.text
    assert api.client.get("/api/v1/main/bindings").json() == []
    fine = api.client.post(
        "/api/v1/main/bindings",
        json={"type": "user", "externalId": "ana", "roleId": "viewer", "namespace": "company"},
    ).json()
    assert (fine["type"], fine["roleId"], fine["namespace"]) == ("USER", "viewer", "company")
    searched = api.client.get("/api/v1/main/bindings/search", params={"namespace": "company"})
    assert searched.json()["total"] == 1
    assert api.client.get("/api/v1/main/bindings/search", params={"type": "X"}).status_code == 422


def test_roles_and_bindings_from_the_cli(runner: CliRunner, api: Api) -> None:
    identity.create_user(api.store, "ana", PASSWORD)
    made = perch(runner, api, "role", "create", "auditor", "--allow", "AUDITLOG:READ")
    assert made.exit_code == 0, made.output
    bad = perch(runner, api, "role", "create", "broken", "--allow", "AUDITLOG")
    assert bad.exit_code == 1
    assert "is not RESOURCE:ACTION" in bad.stderr
    listed = perch(runner, api, "role", "list")
    assert "auditor" in listed.stdout
    assert "AUDITLOG: READ" in listed.stdout
    assert "Viewer (built-in)" in listed.stdout
    bound = perch(runner, api, "binding", "create", "--user", "ana", "--role", "auditor")
    assert bound.exit_code == 0, bound.output
    binding_id = bound.stdout.strip().rsplit("(", 1)[1].rstrip(")")
    both = perch(runner, api, "binding", "create", "--user", "ana", "--group", "g", "--role", "x")
    assert both.exit_code == 1
    assert "exactly one of --user, --group or --service-account" in both.stderr
    with httpx.Client(base_url=api.url, auth=("ana", PASSWORD)) as ana:
        assert ana.get("/api/v1/main/auditlogs/search").status_code == 200
        deleted = perch(runner, api, "binding", "delete", binding_id)
        assert deleted.exit_code == 0, deleted.output
        assert ana.get("/api/v1/main/auditlogs/search").status_code == 403
