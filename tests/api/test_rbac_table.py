"""Every API route against the RBAC policy, table-driven.

Principals of three kinds (a user bound directly, a member of a bound group, a service
account) hold one role on the namespace ``company.team``; every route is called on that
namespace, on its child ``company.team.sub`` and on its sibling ``company.other``, and the
answer is compared with what the policy written here says: allowed, forbidden (403, naming
the permission) or hidden (404, as if nothing were there). The routes are enumerated from the
app, so a route without a case here — or without a row in the permission table — fails.

The policy is restated here on purpose, independently of ``perch.api.permissions``: the role
contents below are the README's table, not imported.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from tests.api.conftest import Api, state_is
from tests.api.hitl import bind, create, service_token

from perch import identity
from perch.api.authorize import rule_for
from perch.api.routes import INSTANCE_ROUTERS, ROUTERS

PASSWORD = "correct horse battery"
BOUND = "company.team"
NAMESPACES = ("company.team", "company.team.sub", "company.other")

C, R, U, D = "CREATE", "READ", "UPDATE", "DELETE"
ROLES: dict[str, dict[str, set[str]]] = {
    "Viewer": {"FLOW": {R}, "EXECUTION": {R}, "NAMESPACE": {R}, "KVSTORE": {R}},
    "Launcher": {"FLOW": {R}, "EXECUTION": {C, R, U}, "NAMESPACE": {R}, "KVSTORE": {R}},
    "Editor": {
        "FLOW": {C, R, U, D},
        "EXECUTION": {C, R, U, D},
        "NAMESPACE": {R},
        "KVSTORE": {C, R, U, D},
    },
    "Admin": {
        r: {C, R, U, D}
        for r in (
            *("FLOW", "EXECUTION", "NAMESPACE", "KVSTORE", "SECRET", "AUDITLOG"),
            *("USER", "GROUP", "ROLE", "BINDING", "SERVICE_ACCOUNT"),
        )
    },
}

QUICK = """\
id: quick
namespace: {ns}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
GATE = """\
id: gate
namespace: {ns}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


@dataclass(frozen=True)
class Target:
    namespace: str
    finished: str  # a SUCCESS execution: state checks come after permission checks
    paused: str  # a PAUSED one, for delete (refused as not finished once allowed)


Request = Callable[[httpx.Client, str, Target], httpx.Response]


@dataclass(frozen=True)
class Case:
    resource: str
    action: str
    kind: str
    """path: namespace in the path; exec: the execution's namespace; body: the flow's
    namespace in the body; anywhere: the permission in any namespace; tenant: on the whole
    tenant; signed_in: anything in the tenant; superadmin."""
    call: Request


def _p(target: Target) -> str:
    return target.namespace


def _get(route: str, **params: Any) -> Request:
    return lambda c, pre, t: c.get(pre + route.format(ns=_p(t), e=t.finished), params=params)


def _ex(method: str, path: str, *, paused: bool = False, **kw: Any) -> Request:
    def call(c: httpx.Client, pre: str, t: Target) -> httpx.Response:
        execution = t.paused if paused else t.finished
        return c.request(method, pre + path.format(ns=_p(t), e=execution), **kw)

    return call


def _yaml(method: str, path: str, source: Callable[[Target], str]) -> Request:
    def call(c: httpx.Client, pre: str, t: Target) -> httpx.Response:
        return c.request(
            method,
            pre + path.format(ns=_p(t)),
            content=source(t),
            headers={"Content-Type": "application/x-yaml"},
        )

    return call


def _new_flow(t: Target) -> str:
    return QUICK.format(ns=t.namespace).replace("id: quick", f"id: f{uuid.uuid4().hex[:10]}")


def _ids(method: str, path: str) -> Request:
    return lambda c, pre, t: c.request(method, pre + path, json=[t.finished])


def _trigger(method: str, path: str) -> Request:
    def call(c: httpx.Client, pre: str, t: Target) -> httpx.Response:
        named = {"namespace": t.namespace, "flowId": "quick", "triggerId": "none"}
        body = {"triggers": [named], "disabled": True} if "by-triggers" in path else named
        return c.request(method, pre + path, json=body)

    return call


EXECUTION, FLOW = "EXECUTION", "FLOW"
CASES: dict[tuple[str, str], Case] = {
    ("POST", "/users"): Case("USER", C, "superadmin", _ex("POST", "/users", json={})),
    ("GET", "/users/search"): Case("USER", R, "superadmin", _get("/users/search")),
    ("GET", "/users"): Case("USER", R, "superadmin", _get("/users")),
    ("GET", "/users/{id}"): Case("USER", R, "superadmin", _get("/users/x")),
    ("PUT", "/users/{id}"): Case("USER", U, "superadmin", _ex("PUT", "/users/x", json={})),
    ("DELETE", "/users/{id}"): Case("USER", D, "superadmin", _ex("DELETE", "/users/x")),
    ("POST", "/tenants"): Case("TENANT", C, "superadmin", _ex("POST", "/tenants", json={})),
    ("GET", "/tenants"): Case("TENANT", R, "superadmin", _get("/tenants")),
    ("GET", "/instance/services/search"): Case(
        "SERVICE", R, "superadmin", _get("/instance/services/search")
    ),
    ("GET", "/me"): Case("", "", "signed_in", _get("/me")),
    ("GET", "/approvals"): Case("", "", "signed_in", _get("/approvals")),
    ("POST", "/service-accounts"): Case(
        "SERVICE_ACCOUNT", C, "tenant", _ex("POST", "/service-accounts", json={})
    ),
    ("GET", "/service-accounts"): Case("SERVICE_ACCOUNT", R, "tenant", _get("/service-accounts")),
    ("GET", "/service-accounts/{id}"): Case(
        "SERVICE_ACCOUNT", R, "tenant", _get("/service-accounts/x")
    ),
    ("DELETE", "/service-accounts/{id}"): Case(
        "SERVICE_ACCOUNT", D, "tenant", _ex("DELETE", "/service-accounts/x")
    ),
    ("POST", "/service-accounts/{id}/api-tokens"): Case(
        "SERVICE_ACCOUNT", U, "tenant", _ex("POST", "/service-accounts/x/api-tokens", json={})
    ),
    ("GET", "/service-accounts/{id}/api-tokens"): Case(
        "SERVICE_ACCOUNT", R, "tenant", _get("/service-accounts/x/api-tokens")
    ),
    ("DELETE", "/service-accounts/{id}/api-tokens/{tokenId}"): Case(
        "SERVICE_ACCOUNT", U, "tenant", _ex("DELETE", "/service-accounts/x/api-tokens/y")
    ),
    ("POST", "/groups"): Case("GROUP", C, "tenant", _ex("POST", "/groups", json={})),
    ("GET", "/groups/search"): Case("GROUP", R, "tenant", _get("/groups/search")),
    ("GET", "/groups/{id}"): Case("GROUP", R, "tenant", _get("/groups/x")),
    ("PUT", "/groups/{id}"): Case("GROUP", U, "tenant", _ex("PUT", "/groups/x", json={})),
    ("DELETE", "/groups/{id}"): Case("GROUP", D, "tenant", _ex("DELETE", "/groups/x")),
    ("GET", "/groups/{id}/members"): Case("GROUP", R, "tenant", _get("/groups/x/members")),
    ("PUT", "/groups/{id}/members/{userId}"): Case(
        "GROUP", U, "tenant", _ex("PUT", "/groups/x/members/y")
    ),
    ("DELETE", "/groups/{id}/members/{userId}"): Case(
        "GROUP", U, "tenant", _ex("DELETE", "/groups/x/members/y")
    ),
    ("POST", "/roles"): Case("ROLE", C, "tenant", _ex("POST", "/roles", json={})),
    ("GET", "/roles/search"): Case("ROLE", R, "tenant", _get("/roles/search")),
    ("GET", "/roles"): Case("ROLE", R, "tenant", _get("/roles")),
    ("GET", "/roles/{id}"): Case("ROLE", R, "tenant", _get("/roles/x")),
    ("PUT", "/roles/{id}"): Case("ROLE", U, "tenant", _ex("PUT", "/roles/x", json={})),
    ("DELETE", "/roles/{id}"): Case("ROLE", D, "tenant", _ex("DELETE", "/roles/x")),
    ("POST", "/bindings"): Case("BINDING", C, "tenant", _ex("POST", "/bindings", json={})),
    ("GET", "/bindings/search"): Case("BINDING", R, "tenant", _get("/bindings/search")),
    ("GET", "/bindings"): Case("BINDING", R, "tenant", _get("/bindings")),
    ("GET", "/bindings/{id}"): Case("BINDING", R, "tenant", _get("/bindings/x")),
    ("DELETE", "/bindings/{id}"): Case("BINDING", D, "tenant", _ex("DELETE", "/bindings/x")),
    # triggers
    ("GET", "/triggers/search"): Case(FLOW, R, "anywhere", _get("/triggers/search")),
    ("GET", "/triggers/{namespace}/{flowId}"): Case(FLOW, R, "path", _get("/triggers/{ns}/quick")),
    ("PUT", "/triggers"): Case(FLOW, U, "body", _trigger("PUT", "/triggers")),
    ("PUT", "/triggers/backfill/pause"): Case(
        FLOW, U, "body", _trigger("PUT", "/triggers/backfill/pause")
    ),
    ("PUT", "/triggers/backfill/unpause"): Case(
        FLOW, U, "body", _trigger("PUT", "/triggers/backfill/unpause")
    ),
    ("POST", "/triggers/backfill/delete"): Case(
        FLOW, U, "body", _trigger("POST", "/triggers/backfill/delete")
    ),
    ("POST", "/triggers/set-disabled/by-triggers"): Case(
        FLOW, U, "body", _trigger("POST", "/triggers/set-disabled/by-triggers")
    ),
    ("POST", "/triggers/set-disabled/by-query"): Case(
        FLOW, U, "anywhere", _ex("POST", "/triggers/set-disabled/by-query")
    ),
    # flows
    ("POST", "/flows/validate"): Case(
        FLOW, R, "anywhere", _yaml("POST", "/flows/validate", _new_flow)
    ),
    ("GET", "/flows/search"): Case(FLOW, R, "anywhere", _get("/flows/search")),
    ("GET", "/flows/distinct-namespaces"): Case(
        FLOW, R, "anywhere", _get("/flows/distinct-namespaces")
    ),
    ("POST", "/flows"): Case(FLOW, C, "body", _yaml("POST", "/flows", _new_flow)),
    ("GET", "/flows/{namespace}"): Case(FLOW, R, "path", _get("/flows/{ns}")),
    ("GET", "/flows/{namespace}/{id}"): Case(FLOW, R, "path", _get("/flows/{ns}/quick")),
    ("PUT", "/flows/{namespace}/{id}"): Case(
        FLOW, U, "path", _yaml("PUT", "/flows/{ns}/quick", lambda t: QUICK.format(ns=t.namespace))
    ),
    ("DELETE", "/flows/{namespace}/{id}"): Case(
        FLOW, D, "path", _ex("DELETE", "/flows/{ns}/ghost")
    ),
    ("GET", "/flows/{namespace}/{id}/revisions"): Case(
        FLOW, R, "path", _get("/flows/{ns}/quick/revisions")
    ),
    ("POST", "/flows/{namespace}/{id}/revisions/{revision}/restore"): Case(
        FLOW, U, "path", _ex("POST", "/flows/{ns}/quick/revisions/1/restore")
    ),
    # logs and following
    ("GET", "/logs/{executionId}"): Case(EXECUTION, R, "exec", _get("/logs/{e}")),
    ("GET", "/logs/{executionId}/download"): Case(EXECUTION, R, "exec", _get("/logs/{e}/download")),
    ("GET", "/logs/{executionId}/follow"): Case(EXECUTION, R, "exec", _get("/logs/{e}/follow")),
    ("GET", "/executions/{executionId}/follow"): Case(
        EXECUTION, R, "exec", _get("/executions/{e}/follow")
    ),
    # decisions and actions (on a finished execution: the state is checked after the rights)
    ("POST", "/executions/resume/by-ids"): Case(
        EXECUTION, U, "anywhere", _ids("POST", "/executions/resume/by-ids")
    ),
    ("POST", "/executions/resume/by-query"): Case(
        EXECUTION, U, "anywhere", _ex("POST", "/executions/resume/by-query?namespace=nowhere")
    ),
    ("POST", "/executions/{executionId}/resume/validate"): Case(
        EXECUTION, U, "exec", _ex("POST", "/executions/{e}/resume/validate")
    ),
    ("POST", "/executions/{executionId}/resume"): Case(
        EXECUTION, U, "exec", _ex("POST", "/executions/{e}/resume")
    ),
    ("POST", "/executions/pause/by-ids"): Case(
        EXECUTION, U, "anywhere", _ids("POST", "/executions/pause/by-ids")
    ),
    ("POST", "/executions/pause/by-query"): Case(
        EXECUTION, U, "anywhere", _ex("POST", "/executions/pause/by-query?namespace=nowhere")
    ),
    ("POST", "/executions/{executionId}/pause"): Case(
        EXECUTION, U, "exec", _ex("POST", "/executions/{e}/pause")
    ),
    ("DELETE", "/executions/kill/by-ids"): Case(
        EXECUTION, U, "anywhere", _ids("DELETE", "/executions/kill/by-ids")
    ),
    ("DELETE", "/executions/kill/by-query"): Case(
        EXECUTION, U, "anywhere", _ex("DELETE", "/executions/kill/by-query?namespace=nowhere")
    ),
    ("DELETE", "/executions/{executionId}/kill"): Case(
        EXECUTION, U, "exec", _ex("DELETE", "/executions/{e}/kill")
    ),
    ("POST", "/executions/restart/by-ids"): Case(
        EXECUTION, U, "anywhere", _ids("POST", "/executions/restart/by-ids")
    ),
    ("POST", "/executions/restart/by-query"): Case(
        EXECUTION, U, "anywhere", _ex("POST", "/executions/restart/by-query?namespace=nowhere")
    ),
    ("POST", "/executions/{executionId}/restart"): Case(
        EXECUTION, U, "exec", _ex("POST", "/executions/{e}/restart")
    ),
    ("POST", "/executions/{executionId}/replay"): Case(
        EXECUTION, C, "exec", _ex("POST", "/executions/{e}/replay")
    ),
    ("POST", "/executions/{executionId}/actions/resume"): Case(
        EXECUTION, U, "exec", _ex("POST", "/executions/{e}/actions/resume")
    ),
    ("POST", "/executions/{executionId}/actions/pause"): Case(
        EXECUTION, U, "exec", _ex("POST", "/executions/{e}/actions/pause")
    ),
    ("DELETE", "/executions/{executionId}/actions/kill"): Case(
        EXECUTION, U, "exec", _ex("DELETE", "/executions/{e}/actions/kill")
    ),
    ("POST", "/executions/{executionId}/actions/restart"): Case(
        EXECUTION, U, "exec", _ex("POST", "/executions/{e}/actions/restart")
    ),
    ("GET", "/executions/{executionId}/graph"): Case(
        EXECUTION, R, "exec", _get("/executions/{e}/graph")
    ),
    ("POST", "/executions/{executionId}/eval/{taskRunId}"): Case(
        EXECUTION, R, "exec", _ex("POST", "/executions/{e}/eval/none", content="{{ 1 }}")
    ),
    ("POST", "/executions/{executionId}/eval"): Case(
        EXECUTION, R, "exec", _ex("POST", "/executions/{e}/eval", content="{{ 1 }}")
    ),
    ("POST", "/executions/{executionId}/actions/eval/{taskRunId}"): Case(
        EXECUTION, R, "exec", _ex("POST", "/executions/{e}/actions/eval/none", content="{{ 1 }}")
    ),
    ("POST", "/executions/{executionId}/actions/eval"): Case(
        EXECUTION, R, "exec", _ex("POST", "/executions/{e}/actions/eval", content="{{ 1 }}")
    ),
    ("GET", "/outputs/executions/{executionId}"): Case(
        EXECUTION, R, "exec", _get("/outputs/executions/{e}")
    ),
    ("GET", "/outputs/tasks/{executionId}"): Case(EXECUTION, R, "exec", _get("/outputs/tasks/{e}")),
    ("GET", "/outputs/tasks/{executionId}/{taskRunId}"): Case(
        EXECUTION, R, "exec", _get("/outputs/tasks/{e}/none")
    ),
    ("GET", "/auditlogs/search"): Case("AUDITLOG", R, "anywhere", _get("/auditlogs/search")),
    ("GET", "/auditlogs/export"): Case("AUDITLOG", R, "anywhere", _get("/auditlogs/export")),
    ("GET", "/executions/search"): Case(EXECUTION, R, "anywhere", _get("/executions/search")),
    ("GET", "/executions"): Case(
        EXECUTION, R, "anywhere", _get("/executions", namespace="x", flowId="y")
    ),
    ("DELETE", "/executions/by-ids"): Case(
        EXECUTION, D, "anywhere", _ex("DELETE", "/executions/by-ids", json=["missing"])
    ),
    ("GET", "/executions/{executionId}"): Case(EXECUTION, R, "exec", _get("/executions/{e}")),
    ("DELETE", "/executions/{executionId}"): Case(
        EXECUTION, D, "exec", _ex("DELETE", "/executions/{e}", paused=True)
    ),
    ("GET", "/executions/{executionId}/file"): Case(
        EXECUTION, R, "exec", _get("/executions/{e}/file", path="kestra:///nothing")
    ),
    ("POST", "/executions/{namespace}/{flowId}/validate"): Case(
        EXECUTION, C, "path", _ex("POST", "/executions/{ns}/quick/validate")
    ),
    ("POST", "/executions/{namespace}/{flowId}"): Case(
        EXECUTION, C, "path", _ex("POST", "/executions/{ns}/quick")
    ),
    ("GET", "/namespaces/{namespace}/secrets"): Case(
        "SECRET", R, "path", _get("/namespaces/{ns}/secrets")
    ),
    ("GET", "/namespaces/{namespace}/secrets/{key}"): Case(
        "SECRET", R, "path", _get("/namespaces/{ns}/secrets/K")
    ),
    ("PUT", "/namespaces/{namespace}/secrets"): Case(
        "SECRET", U, "path", _ex("PUT", "/namespaces/{ns}/secrets", json={"key": "K", "value": "v"})
    ),
    ("PUT", "/namespaces/{namespace}/secrets/{key}"): Case(
        "SECRET", U, "path", _ex("PUT", "/namespaces/{ns}/secrets/K", json={"value": "v"})
    ),
    ("DELETE", "/namespaces/{namespace}/secrets/{key}"): Case(
        "SECRET", D, "path", _ex("DELETE", "/namespaces/{ns}/secrets/Q")
    ),
    ("GET", "/namespaces/{namespace}/kv"): Case("KVSTORE", R, "path", _get("/namespaces/{ns}/kv")),
    ("DELETE", "/namespaces/{namespace}/kv"): Case(
        "KVSTORE", D, "path", _ex("DELETE", "/namespaces/{ns}/kv", json={"keys": ["gone"]})
    ),
    ("GET", "/namespaces/{namespace}/kv/{key}"): Case(
        "KVSTORE", R, "path", _get("/namespaces/{ns}/kv/nothing")
    ),
    ("PUT", "/namespaces/{namespace}/kv/{key}"): Case(
        "KVSTORE", U, "path", _ex("PUT", "/namespaces/{ns}/kv/k", json={"a": 1})
    ),
    ("DELETE", "/namespaces/{namespace}/kv/{key}"): Case(
        "KVSTORE", D, "path", _ex("DELETE", "/namespaces/{ns}/kv/gone")
    ),
}


def _app_routes() -> set[tuple[str, str]]:
    found = set()
    for router in [*INSTANCE_ROUTERS, *ROUTERS]:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                found.add((method, route.path))
    return found


def test_every_route_has_a_permission_and_a_case_here() -> None:
    routes = _app_routes()
    assert sorted(r for r in routes if rule_for(*r) is None) == []
    assert sorted(routes - CASES.keys()) == [], "add a case for each new route"
    assert sorted(CASES.keys() - routes) == [], "a case for a route that is gone"


def expected(case: Case, role: str, namespace: str) -> str:
    """What the policy says of ``case`` for someone with ``role`` on :data:`BOUND`."""
    perms = ROLES[role].get(case.resource, set())
    covered = namespace == BOUND or namespace.startswith(BOUND + ".")
    if case.kind in {"superadmin", "tenant"}:
        return "forbidden"  # a namespace binding never reaches tenant-level resources
    if case.kind == "signed_in":
        return "allowed"
    if case.kind == "anywhere":
        return "allowed" if case.action in perms else "forbidden"
    if case.kind == "body" and case.action not in perms:
        return "forbidden"  # not held anywhere: refused before any item is looked at
    if covered and case.action in perms:
        return "allowed"
    if case.kind == "body" or (covered and R in perms):
        return "forbidden"
    return "hidden"


def observed(response: httpx.Response) -> str:
    if response.status_code == 403:
        return "forbidden"
    if response.status_code == 404:
        message = response.json().get("message", "")
        if message == "Not Found: Not found" or message.startswith("Not Found: Execution '"):
            return "hidden"
    if response.status_code == 401:
        return "unauthenticated"
    return "allowed"


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Flows and executions in each namespace; per role, a user, a group member and a
    service account holding it on :data:`BOUND`."""
    api.add_tenant("other")
    targets = {}
    for ns in NAMESPACES:
        api.deploy(QUICK.format(ns=ns))
        api.deploy(GATE.format(ns=ns))
        finished = create(api, ns, "quick")
        paused = create(api, ns, "gate")
        api.wait(finished, state_is("SUCCESS"))
        api.wait(paused, state_is("PAUSED"))
        targets[ns] = Target(ns, finished, paused)
    clients: dict[tuple[str, str], httpx.Client] = {}
    for role in ROLES:
        user = identity.create_user(api.store, f"u-{role}", PASSWORD)
        bind(api, "USER", user.id, role, namespace=BOUND)
        member = identity.create_user(api.store, f"m-{role}", PASSWORD)
        group = api.client.post("/api/v1/groups", json={"name": f"g-{role}"}).json()
        api.client.put(f"/api/v1/groups/{group['id']}/members/{member.id}")
        bind(api, "GROUP", group["id"], role, namespace=BOUND)
        token = service_token(api, f"sa-{role}", role=None)
        account = api.client.get("/api/v1/service-accounts").json()
        (sa,) = [a for a in account if a["name"] == f"sa-{role}"]
        bind(api, "SERVICE_ACCOUNT", sa["id"], role, namespace=BOUND)
        clients[(role, "user")] = httpx.Client(
            base_url=api.url, auth=(f"u-{role}", PASSWORD), timeout=30
        )
        clients[(role, "member")] = httpx.Client(
            base_url=api.url, auth=(f"m-{role}", PASSWORD), timeout=30
        )
        clients[(role, "account")] = api.as_token(token)
    yield {"targets": targets, "clients": clients}
    for client in clients.values():
        client.close()


def test_every_route_answers_as_the_policy_says(world: dict[str, Any]) -> None:
    mismatches = []
    for (role, kind), client in world["clients"].items():
        for ns in NAMESPACES:
            target = world["targets"][ns]
            for route, case in CASES.items():
                prefix = "/api/v1" if case.kind == "superadmin" else "/api/v1/main"
                answer = case.call(client, prefix, target)
                want, got = expected(case, role, ns), observed(answer)
                if want != got:
                    mismatches.append((role, kind, ns, route, want, got, answer.text[:120]))
                elif got == "forbidden" and case.resource and case.kind != "superadmin":
                    assert f"{case.resource}:{case.action}" in answer.text or (
                        case.kind == "body"
                    ), answer.text
    summary = sorted({(m[3], m[4], m[5], m[0], m[2], m[6][:60]) for m in mismatches})
    assert summary == []


def test_nothing_in_another_tenant(api: Api, world: dict[str, Any]) -> None:
    for (_, kind), client in world["clients"].items():
        for path in (
            "/api/v1/other/executions/search",
            "/api/v1/other/me",
            "/api/v1/other/flows/search",
        ):
            answer = client.get(path)
            assert answer.status_code == 403, (kind, path, answer.text)


def test_searches_show_only_readable_namespaces(world: dict[str, Any]) -> None:
    for (role, kind), client in world["clients"].items():
        found = client.get("/api/v1/main/executions/search", params={"size": 100}).json()
        namespaces = {e["namespace"] for e in found["results"]}
        assert namespaces <= {"company.team", "company.team.sub"}, (role, kind, namespaces)
        assert found["total"] == len(found["results"])
        flows = client.get("/api/v1/main/flows/search", params={"size": 100}).json()
        assert {f["namespace"] for f in flows["results"]} == {"company.team", "company.team.sub"}
        assert flows["total"] == len(flows["results"])
        listed = client.get("/api/v1/main/flows/distinct-namespaces").json()
        assert listed == ["company.team", "company.team.sub"]


def test_bulk_actions_by_ids_report_each_refusal(api: Api, world: dict[str, Any]) -> None:
    """A Viewer of the whole tenant who launches in ``company.team``: a bulk kill over three
    namespaces kills what it may, and says of the others why not, without stopping."""
    viewer = identity.find_user(api.store, "u-Launcher")
    assert viewer is not None
    bind(api, "USER", viewer.id, "Viewer")
    paused = {ns: create(api, ns, "gate") for ns in NAMESPACES}
    for execution_id in paused.values():
        api.wait(execution_id, state_is("PAUSED"))
    client = world["clients"][("Launcher", "user")]
    answer = client.request(
        "DELETE", "/api/v1/main/executions/kill/by-ids", json=list(paused.values())
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 2
    refused = {i["invalidValue"]: i["message"] for i in body["invalids"]}
    assert refused == {
        paused["company.other"]: "Access denied: requires EXECUTION:UPDATE on namespace"
        " company.other"
    }
    api.wait(paused["company.team.sub"], state_is("KILLED"))
    still = api.client.get(f"/api/v1/main/executions/{paused['company.other']}").json()
    assert still["state"]["current"] == "PAUSED"


def test_bulk_delete_leaves_what_the_caller_may_not_delete(api: Api, world: dict[str, Any]) -> None:
    """An Editor of ``company.team`` who only reads ``company.other``: a bulk delete removes
    the finished execution it may delete and names the other."""
    editor = identity.find_user(api.store, "u-Editor")
    assert editor is not None
    bind(api, "USER", editor.id, "Viewer", namespace="company.other")
    mine, theirs = world["targets"]["company.team"], world["targets"]["company.other"]
    client = world["clients"][("Editor", "user")]
    answer = client.request(
        "DELETE", "/api/v1/main/executions/by-ids", json=[mine.finished, theirs.finished]
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "count": 1,
        "invalids": [
            {
                "invalidValue": theirs.finished,
                "message": "Access denied: requires EXECUTION:DELETE on namespace company.other",
            }
        ],
    }
    assert api.client.get(f"/api/v1/main/executions/{mine.finished}").status_code == 404
    assert api.client.get(f"/api/v1/main/executions/{theirs.finished}").status_code == 200
