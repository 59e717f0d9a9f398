"""Checks of a principal's permissions on one namespace, for the services.

The API attaches to every principal its :class:`~perch.permissions.Grants` in the request's
tenant; a principal without grants (Perch itself, the local CLI) is not checked. A refused
action raises :class:`PermissionDenied` naming what was missing, except where that would tell
a caller who cannot read the namespace that something exists there: then it is the same
not-found error as for nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable

from perch.engine.model import Execution
from perch.engine.principal import Principal
from perch.errors import ExecutionNotFound, Forbidden, PerchError
from perch.permissions import Action, Resource, missing


class PermissionDenied(Forbidden):
    """Access denied: a permission is missing."""


def allowed(principal: Principal, resource: Resource, action: Action, namespace: str) -> bool:
    grants = principal.grants
    return grants is None or grants.allows(resource, action, namespace)


def readable(principal: Principal, resource: Resource, namespace: str) -> bool:
    return allowed(principal, resource, Action.READ, namespace)


def denial(resource: Resource, action: Action, namespace: str | None) -> PermissionDenied:
    return PermissionDenied(f"Access denied: {missing(resource, action, namespace)}")


def denial_text(action: Action, namespace: str) -> str:
    """Why a bulk action skipped an execution the caller may read but not change."""
    return str(denial(Resource.EXECUTION, action, namespace))


def require(
    principal: Principal,
    resource: Resource,
    action: Action,
    namespace: str,
    not_found: Callable[[], PerchError],
) -> None:
    """Nothing when allowed; ``not_found()`` when the principal cannot even read the namespace;
    else :class:`PermissionDenied` naming the permission."""
    if allowed(principal, resource, action, namespace):
        return
    if not readable(principal, resource, namespace):
        raise not_found()
    raise denial(resource, action, namespace)


def scope(principal: Principal, resource: Resource, action: Action) -> tuple[str, ...] | None:
    """The namespaces (with their children) where ``principal`` may do ``action``; None for all."""
    grants = principal.grants
    return None if grants is None else grants.scope(resource, action)


def require_on(principal: Principal, execution: Execution, action: Action) -> None:
    """:func:`require` on the execution's namespace: an execution one cannot read is not
    found, as if it did not exist."""
    require(
        principal,
        Resource.EXECUTION,
        action,
        execution.namespace,
        lambda: ExecutionNotFound(f"Execution '{execution.id}' not found."),
    )
