"""What a role allows: permissions over resources, granted on a namespace or on a whole tenant.

A :class:`Role` maps resources (FLOW, EXECUTION, …) to actions (CREATE, READ, UPDATE, DELETE).
A binding gives a role to a user, a group or a service account, on one namespace (and every
namespace below it: ``company`` covers ``company.team``) or, without a namespace, on the whole
tenant. :class:`Grants` is what one principal holds in one tenant, gathered from all of its
bindings; every check asks it.

A leaf module: it knows nothing of the engine, the store or HTTP, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from perch.errors import IdentityError


class Resource(StrEnum):
    FLOW = "FLOW"
    EXECUTION = "EXECUTION"
    NAMESPACE = "NAMESPACE"
    KVSTORE = "KVSTORE"
    SECRET = "SECRET"
    AUDITLOG = "AUDITLOG"
    USER = "USER"
    GROUP = "GROUP"
    ROLE = "ROLE"
    BINDING = "BINDING"
    SERVICE_ACCOUNT = "SERVICE_ACCOUNT"


class Action(StrEnum):
    CREATE = "CREATE"
    READ = "READ"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


Permissions = Mapping[Resource, frozenset[Action]]

ALL_ACTIONS = frozenset(Action)


def parse_permissions(raw: object) -> dict[Resource, frozenset[Action]]:
    """``{"FLOW": ["READ", …], …}`` as typed permissions; :class:`IdentityError` naming the
    first unknown resource or action."""
    if not isinstance(raw, Mapping):
        raise IdentityError("permissions must be an object mapping resources to lists of actions")
    parsed: dict[Resource, frozenset[Action]] = {}
    for name, actions in raw.items():
        try:
            resource = Resource(str(name).upper())
        except ValueError:
            known = ", ".join(r.value for r in Resource)
            raise IdentityError(f"unknown permission '{name}'; expected one of {known}") from None
        if not isinstance(actions, list | tuple):
            raise IdentityError(f"the actions of {resource} must be a list")
        chosen: set[Action] = set()
        for action in actions:
            try:
                chosen.add(Action(str(action).upper()))
            except ValueError:
                known = ", ".join(a.value for a in Action)
                raise IdentityError(
                    f"unknown action '{action}' for {resource}; expected one of {known}"
                ) from None
        if chosen:
            parsed[resource] = frozenset(chosen)
    return parsed


def permissions_json(permissions: Permissions) -> dict[str, list[str]]:
    """Permissions as JSON, resources and actions in their declared order."""
    return {
        r.value: [a.value for a in Action if a in permissions[r]]
        for r in Resource
        if permissions.get(r)
    }


@dataclass(frozen=True, slots=True)
class Role:
    """A named set of permissions in one tenant. Built-in roles have fixed ids and are the
    same in every tenant; they are never stored."""

    id: str
    tenant: str
    name: str
    permissions: Permissions
    created: datetime | None = None
    description: str | None = None
    builtin: bool = False


class BindingType(StrEnum):
    USER = "USER"
    GROUP = "GROUP"
    SERVICE_ACCOUNT = "SERVICE_ACCOUNT"


@dataclass(frozen=True, slots=True)
class Binding:
    """A role given to a user, group or service account (``external_id`` is its id), on a
    namespace and its children, or on the whole tenant when ``namespace`` is None."""

    id: str
    tenant: str
    type: BindingType
    external_id: str
    role_id: str
    created: datetime
    namespace: str | None = None


def _all(*resources: Resource) -> dict[Resource, frozenset[Action]]:
    return dict.fromkeys(resources, ALL_ACTIONS)


_READ = frozenset({Action.READ})
_LAUNCH = frozenset({Action.CREATE, Action.READ, Action.UPDATE})

BUILTIN_ROLES: tuple[tuple[str, str, str, dict[Resource, frozenset[Action]]], ...] = (
    ("admin", "Admin", "Everything in the tenant.", _all(*Resource)),
    (
        "developer",
        "Developer",
        "Flows, executions, namespaces, KV and secrets; reads the audit trail.",
        {
            **_all(
                Resource.FLOW,
                Resource.EXECUTION,
                Resource.NAMESPACE,
                Resource.KVSTORE,
                Resource.SECRET,
            ),
            Resource.AUDITLOG: _READ,
        },
    ),
    (
        "editor",
        "Editor",
        "Flows, executions and KV; reads namespaces.",
        {**_all(Resource.FLOW, Resource.EXECUTION, Resource.KVSTORE), Resource.NAMESPACE: _READ},
    ),
    (
        "launcher",
        "Launcher",
        "Starts, resumes, pauses and kills executions; reads flows, namespaces and KV.",
        {
            Resource.FLOW: _READ,
            Resource.EXECUTION: _LAUNCH,
            Resource.NAMESPACE: _READ,
            Resource.KVSTORE: _READ,
        },
    ),
    (
        "viewer",
        "Viewer",
        "Reads flows, executions, namespaces and KV.",
        {
            Resource.FLOW: _READ,
            Resource.EXECUTION: _READ,
            Resource.NAMESPACE: _READ,
            Resource.KVSTORE: _READ,
        },
    ),
)


def builtin_roles(tenant: str) -> list[Role]:
    """The built-in roles as they are in ``tenant``."""
    return [
        Role(id, tenant, name, perms, description=text, builtin=True)
        for id, name, text, perms in BUILTIN_ROLES
    ]


def builtin_role(tenant: str, role_id: str) -> Role | None:
    """The built-in role of that id (or name, in any case), or None."""
    wanted = role_id.lower()
    for role in builtin_roles(tenant):
        if wanted in (role.id, role.name.lower()):
            return role
    return None


def covers(scope: str | None, namespace: str) -> bool:
    """Whether a binding on ``scope`` (None: the whole tenant) reaches ``namespace``."""
    return scope is None or namespace == scope or namespace.startswith(scope + ".")


@dataclass(frozen=True, slots=True)
class Grant:
    """One role's permissions on one namespace (None: everywhere in the tenant)."""

    namespace: str | None
    permissions: Permissions


@dataclass(frozen=True, slots=True)
class Grants:
    """What one principal may do in one tenant. ``everything`` for a superadmin."""

    tenant: str
    grants: tuple[Grant, ...] = ()
    everything: bool = False
    origin: str = field(default="", compare=False)

    @classmethod
    def of(cls, tenant: str, grants: Iterable[Grant]) -> Grants:
        return cls(tenant, tuple(grants))

    @property
    def empty(self) -> bool:
        """Nothing at all in this tenant: every call under it is refused."""
        return not self.everything and not any(g.permissions for g in self.grants)

    def allows(self, resource: Resource, action: Action, namespace: str) -> bool:
        """Whether ``action`` on ``resource`` is allowed in ``namespace``."""
        if self.everything:
            return True
        return any(
            action in g.permissions.get(resource, ()) and covers(g.namespace, namespace)
            for g in self.grants
        )

    def anywhere(self, resource: Resource, action: Action) -> bool:
        """Whether ``action`` on ``resource`` is allowed in at least one namespace."""
        if self.everything:
            return True
        return any(action in g.permissions.get(resource, ()) for g in self.grants)

    def tenant_wide(self, resource: Resource, action: Action) -> bool:
        """Whether ``action`` on ``resource`` is allowed in every namespace of the tenant (what
        tenant-level resources such as users, groups and roles need)."""
        if self.everything:
            return True
        return any(
            g.namespace is None and action in g.permissions.get(resource, ()) for g in self.grants
        )

    def scope(self, resource: Resource, action: Action) -> tuple[str, ...] | None:
        """The namespaces (each with its children) where the action is allowed: None for
        every namespace, an empty tuple for none. What searches filter on."""
        if self.tenant_wide(resource, action):
            return None
        found = {
            g.namespace
            for g in self.grants
            if g.namespace is not None and action in g.permissions.get(resource, ())
        }
        return tuple(sorted(found))


def in_scope(scope: tuple[str, ...] | None, namespace: str) -> bool:
    """Whether ``namespace`` is inside a :meth:`Grants.scope`."""
    return scope is None or any(covers(s, namespace) for s in scope)


def missing(resource: Resource, action: Action, namespace: str | None) -> str:
    """The words of a 403 naming what was missing."""
    where = f"namespace {namespace}" if namespace else "the tenant"
    return f"requires {resource.value}:{action.value} on {where}"
