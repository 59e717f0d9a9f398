"""The permission every API route needs, in one table, and the one dependency that checks it.

Each route of :mod:`perch.api.routes` has a row in :data:`ROUTE_RULES`, keyed by its method and
its path under the tenant (``/executions/{executionId}/resume``). A route without a row is
refused (and ``tests/api/test_rbac_table.py`` fails), so a new route cannot forget its check.

What the route-level check decides, by rule:

- :class:`Needs` with ``namespace`` naming a path parameter: the permission on that namespace
  (reading a namespace one cannot read is 404, as if it held nothing; any other refusal is 403
  naming what was missing);
- :class:`Needs` without: the permission on at least one namespace. The service then checks
  each item on its own namespace (an execution's, a flow's) and filters what it lists. On a
  route of one execution (``{executionId}``) only the service checks, on that execution's
  namespace, so that its refusal can name the namespace;
- :class:`TenantWide`: the permission on the whole tenant (users, groups, roles, bindings);
- :data:`SIGNED_IN`: anything at all in the tenant (``/me``, the approvals inbox, filtered);
- :data:`SUPERADMIN`: instance-level routes, which check for a superadmin themselves.

Every call under a tenant first needs *something* in it: a principal with no binding there is
refused with 403, whatever the route.
"""

from __future__ import annotations

from dataclasses import dataclass

from perch.permissions import Action, Resource

C, R, U, D = Action.CREATE, Action.READ, Action.UPDATE, Action.DELETE


@dataclass(frozen=True, slots=True)
class Needs:
    resource: Resource
    action: Action
    namespace: str | None = None
    """The path parameter holding the namespace, when the path names one."""


@dataclass(frozen=True, slots=True)
class TenantWide:
    resource: Resource
    action: Action


@dataclass(frozen=True, slots=True)
class Special:
    name: str


SIGNED_IN = Special("signed in")
SUPERADMIN = Special("superadmin")

Rule = Needs | TenantWide | Special

FLOW, EXECUTION = Resource.FLOW, Resource.EXECUTION

ROUTE_RULES: dict[tuple[str, str], Rule] = {
    # instance level: the handlers require a superadmin
    ("POST", "/users"): SUPERADMIN,
    ("GET", "/users/search"): SUPERADMIN,
    ("GET", "/users"): SUPERADMIN,
    ("GET", "/users/{id}"): SUPERADMIN,
    ("PUT", "/users/{id}"): SUPERADMIN,
    ("DELETE", "/users/{id}"): SUPERADMIN,
    ("POST", "/tenants"): SUPERADMIN,
    ("GET", "/tenants"): SUPERADMIN,
    ("GET", "/instance/services/search"): SUPERADMIN,
    # who am I
    ("GET", "/me"): SIGNED_IN,
    # service accounts and their tokens
    ("POST", "/service-accounts"): TenantWide(Resource.SERVICE_ACCOUNT, C),
    ("GET", "/service-accounts"): TenantWide(Resource.SERVICE_ACCOUNT, R),
    ("GET", "/service-accounts/{id}"): TenantWide(Resource.SERVICE_ACCOUNT, R),
    ("DELETE", "/service-accounts/{id}"): TenantWide(Resource.SERVICE_ACCOUNT, D),
    ("POST", "/service-accounts/{id}/api-tokens"): TenantWide(Resource.SERVICE_ACCOUNT, U),
    ("GET", "/service-accounts/{id}/api-tokens"): TenantWide(Resource.SERVICE_ACCOUNT, R),
    ("DELETE", "/service-accounts/{id}/api-tokens/{tokenId}"): TenantWide(
        Resource.SERVICE_ACCOUNT, U
    ),
    # groups
    ("POST", "/groups"): TenantWide(Resource.GROUP, C),
    ("GET", "/groups/search"): TenantWide(Resource.GROUP, R),
    ("GET", "/groups/{id}"): TenantWide(Resource.GROUP, R),
    ("PUT", "/groups/{id}"): TenantWide(Resource.GROUP, U),
    ("DELETE", "/groups/{id}"): TenantWide(Resource.GROUP, D),
    ("GET", "/groups/{id}/members"): TenantWide(Resource.GROUP, R),
    ("PUT", "/groups/{id}/members/{userId}"): TenantWide(Resource.GROUP, U),
    ("DELETE", "/groups/{id}/members/{userId}"): TenantWide(Resource.GROUP, U),
    # roles and bindings
    ("POST", "/roles"): TenantWide(Resource.ROLE, C),
    ("GET", "/roles/search"): TenantWide(Resource.ROLE, R),
    ("GET", "/roles"): TenantWide(Resource.ROLE, R),
    ("GET", "/roles/{id}"): TenantWide(Resource.ROLE, R),
    ("PUT", "/roles/{id}"): TenantWide(Resource.ROLE, U),
    ("DELETE", "/roles/{id}"): TenantWide(Resource.ROLE, D),
    ("POST", "/bindings"): TenantWide(Resource.BINDING, C),
    ("GET", "/bindings/search"): TenantWide(Resource.BINDING, R),
    ("GET", "/bindings"): TenantWide(Resource.BINDING, R),
    ("GET", "/bindings/{id}"): TenantWide(Resource.BINDING, R),
    ("DELETE", "/bindings/{id}"): TenantWide(Resource.BINDING, D),
    # the approvals inbox: filtered by assignment and EXECUTION:UPDATE
    ("GET", "/approvals"): SIGNED_IN,
    # flows
    ("POST", "/flows/validate"): Needs(FLOW, R),
    ("GET", "/flows/search"): Needs(FLOW, R),
    ("GET", "/triggers/search"): Needs(FLOW, R),
    ("GET", "/triggers/{namespace}/{flowId}"): Needs(FLOW, R, "namespace"),
    ("PUT", "/triggers"): Needs(FLOW, U),
    ("PUT", "/triggers/backfill/pause"): Needs(FLOW, U),
    ("PUT", "/triggers/backfill/unpause"): Needs(FLOW, U),
    ("POST", "/triggers/backfill/delete"): Needs(FLOW, U),
    ("POST", "/triggers/set-disabled/by-triggers"): Needs(FLOW, U),
    ("POST", "/triggers/set-disabled/by-query"): Needs(FLOW, U),
    ("GET", "/flows/distinct-namespaces"): Needs(FLOW, R),
    ("POST", "/flows"): Needs(FLOW, C),
    ("GET", "/flows/{namespace}"): Needs(FLOW, R, "namespace"),
    ("GET", "/flows/{namespace}/{id}"): Needs(FLOW, R, "namespace"),
    ("PUT", "/flows/{namespace}/{id}"): Needs(FLOW, U, "namespace"),
    ("DELETE", "/flows/{namespace}/{id}"): Needs(FLOW, D, "namespace"),
    ("GET", "/flows/{namespace}/{id}/revisions"): Needs(FLOW, R, "namespace"),
    ("POST", "/flows/{namespace}/{id}/revisions/{revision}/restore"): Needs(FLOW, U, "namespace"),
    # logs and following
    ("GET", "/logs/{executionId}"): Needs(EXECUTION, R),
    ("GET", "/logs/{executionId}/download"): Needs(EXECUTION, R),
    ("GET", "/logs/{executionId}/follow"): Needs(EXECUTION, R),
    ("GET", "/executions/{executionId}/follow"): Needs(EXECUTION, R),
    # decisions and actions: checked again on each execution's namespace
    ("POST", "/executions/resume/by-ids"): Needs(EXECUTION, U),
    ("POST", "/executions/resume/by-query"): Needs(EXECUTION, U),
    ("POST", "/executions/{executionId}/resume/validate"): Needs(EXECUTION, U),
    ("POST", "/executions/{executionId}/resume"): Needs(EXECUTION, U),
    ("POST", "/executions/pause/by-ids"): Needs(EXECUTION, U),
    ("POST", "/executions/pause/by-query"): Needs(EXECUTION, U),
    ("POST", "/executions/{executionId}/pause"): Needs(EXECUTION, U),
    ("DELETE", "/executions/kill/by-ids"): Needs(EXECUTION, U),
    ("DELETE", "/executions/kill/by-query"): Needs(EXECUTION, U),
    ("DELETE", "/executions/{executionId}/kill"): Needs(EXECUTION, U),
    ("POST", "/executions/restart/by-ids"): Needs(EXECUTION, U),
    ("POST", "/executions/restart/by-query"): Needs(EXECUTION, U),
    ("POST", "/executions/{executionId}/restart"): Needs(EXECUTION, U),
    ("POST", "/executions/{executionId}/replay"): Needs(EXECUTION, C),
    # Kestra 2.x's paths for the same actions
    ("POST", "/executions/{executionId}/actions/resume"): Needs(EXECUTION, U),
    ("POST", "/executions/{executionId}/actions/pause"): Needs(EXECUTION, U),
    ("DELETE", "/executions/{executionId}/actions/kill"): Needs(EXECUTION, U),
    ("POST", "/executions/{executionId}/actions/restart"): Needs(EXECUTION, U),
    # looking into one execution: its graph, an expression evaluated in its context
    ("GET", "/executions/{executionId}/graph"): Needs(EXECUTION, R),
    ("POST", "/executions/{executionId}/eval/{taskRunId}"): Needs(EXECUTION, R),
    ("POST", "/executions/{executionId}/eval"): Needs(EXECUTION, R),
    ("POST", "/executions/{executionId}/actions/eval/{taskRunId}"): Needs(EXECUTION, R),
    ("POST", "/executions/{executionId}/actions/eval"): Needs(EXECUTION, R),
    ("GET", "/outputs/executions/{executionId}"): Needs(EXECUTION, R),
    ("GET", "/outputs/tasks/{executionId}"): Needs(EXECUTION, R),
    ("GET", "/outputs/tasks/{executionId}/{taskRunId}"): Needs(EXECUTION, R),
    # the audit trail: filtered to the namespaces the caller may read
    ("GET", "/auditlogs/search"): Needs(Resource.AUDITLOG, R),
    ("GET", "/auditlogs/export"): Needs(Resource.AUDITLOG, R),
    # executions
    ("GET", "/executions/search"): Needs(EXECUTION, R),
    ("GET", "/executions"): Needs(EXECUTION, R),
    ("DELETE", "/executions/by-ids"): Needs(EXECUTION, D),
    ("GET", "/executions/{executionId}"): Needs(EXECUTION, R),
    ("DELETE", "/executions/{executionId}"): Needs(EXECUTION, D),
    ("GET", "/executions/{executionId}/file"): Needs(EXECUTION, R),
    ("POST", "/executions/{namespace}/{flowId}/validate"): Needs(EXECUTION, C, "namespace"),
    ("POST", "/executions/{namespace}/{flowId}"): Needs(EXECUTION, C, "namespace"),
    # namespace secrets: names only on every read
    ("GET", "/namespaces/{namespace}/secrets"): Needs(Resource.SECRET, R, "namespace"),
    ("GET", "/namespaces/{namespace}/secrets/{key}"): Needs(Resource.SECRET, R, "namespace"),
    ("PUT", "/namespaces/{namespace}/secrets"): Needs(Resource.SECRET, U, "namespace"),
    ("PUT", "/namespaces/{namespace}/secrets/{key}"): Needs(Resource.SECRET, U, "namespace"),
    ("DELETE", "/namespaces/{namespace}/secrets/{key}"): Needs(Resource.SECRET, D, "namespace"),
    ("GET", "/namespaces/{namespace}/kv"): Needs(Resource.KVSTORE, R, "namespace"),
    ("DELETE", "/namespaces/{namespace}/kv"): Needs(Resource.KVSTORE, D, "namespace"),
    ("GET", "/namespaces/{namespace}/kv/{key}"): Needs(Resource.KVSTORE, R, "namespace"),
    ("PUT", "/namespaces/{namespace}/kv/{key}"): Needs(Resource.KVSTORE, U, "namespace"),
    ("DELETE", "/namespaces/{namespace}/kv/{key}"): Needs(Resource.KVSTORE, D, "namespace"),
}
"""Method and path under the tenant → the rule. Add a row with every new route."""
