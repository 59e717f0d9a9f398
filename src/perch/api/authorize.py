"""The one check every API route passes: its row of :data:`perch.api.permissions.ROUTE_RULES`.

:func:`authorize` runs after the principal and the tenant are known. It reads what the
principal holds in the tenant (:func:`perch.identity.roles.grants_of`, remembered for
:data:`GrantsCache.TTL` seconds and forgotten at once when this process changes a role, a
binding or a group), refuses a principal with nothing in the tenant, applies the route's rule,
and hands the principal on with its grants, so the services can check each item.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace

import anyio.to_thread
from fastapi import Request

from perch.api.permissions import ROUTE_RULES, SIGNED_IN, SUPERADMIN, Needs, Rule, TenantWide
from perch.engine.access import denial
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.errors import Forbidden, InvalidRequest, NotFound
from perch.identity.roles import grants_of
from perch.identity.users import is_superadmin
from perch.permissions import Action, Grants

_MOUNT = re.compile(r"^/api/v1(?:/\{tenant\})?")


def rule_for(method: str, route_path: str) -> Rule | None:
    """The rule of a mounted route, by its method and path (mount prefix removed)."""
    return ROUTE_RULES.get((method, _MOUNT.sub("", route_path, count=1)))


class GrantsCache:
    """What principals hold in tenants, remembered briefly (bindings change rarely and are
    read on every request)."""

    TTL = 1.0
    _MAX = 10_000

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str, str], tuple[float, Grants]] = {}

    def known(self, principal: Principal, tenant: str) -> Grants | None:
        """The remembered grants, if still fresh, without reading the database (for the event
        loop: a hit needs no worker thread)."""
        key = (principal.kind.value, principal.name, tenant)
        with self._lock:
            hit = self._known.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.TTL:
            return hit[1]
        return None

    def get(self, principal: Principal, tenant: str) -> Grants:
        key = (principal.kind.value, principal.name, tenant)
        now = time.monotonic()
        known = self.known(principal, tenant)
        if known is not None:
            return known
        grants = grants_of(self._store, principal, tenant)
        with self._lock:
            if len(self._known) >= self._MAX:
                self._known.clear()
            self._known[key] = (now, grants)
        return grants

    def forget(self) -> None:
        with self._lock:
            self._known.clear()


async def authorize(request: Request) -> None:
    """Apply the route's rule; attach the principal's grants to it."""
    principal: Principal | None = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    rule = rule_for(request.method, getattr(route, "path", ""))
    if principal is None or rule is None:
        raise Forbidden("this route declares no permission")
    if rule is SUPERADMIN:
        store: Store = request.app.state.perch.store
        if not await anyio.to_thread.run_sync(is_superadmin, store, principal):
            raise Forbidden("only a superadmin may do this")
        return
    tenant: str | None = getattr(request.state, "tenant", None)
    if tenant is None:
        # The tenant segment failed its own validation; refuse here too (fail closed: a
        # principal without grants would not be checked further down).
        raise InvalidRequest("the tenant in the path is not a valid tenant id")
    cache: GrantsCache = request.app.state.perch.grants
    grants = cache.known(principal, tenant)
    if grants is None:
        grants = await anyio.to_thread.run_sync(cache.get, principal, tenant)
    if grants.empty:
        raise Forbidden(f"'{principal.name}' has no access to tenant '{tenant}'")
    request.state.principal = replace(principal, grants=grants)
    if rule is SIGNED_IN:
        return
    if isinstance(rule, TenantWide):
        if not grants.tenant_wide(rule.resource, rule.action):
            raise denial(rule.resource, rule.action, None)
        return
    assert isinstance(rule, Needs)
    if rule.namespace is None:
        # A route on one execution is checked on that execution's namespace by the service,
        # whose refusal can name it (or say nothing exists, to whom cannot read it).
        on_one = "{executionId}" in getattr(route, "path", "")
        if not on_one and not grants.anywhere(rule.resource, rule.action):
            raise denial(rule.resource, rule.action, None)
        return
    namespace = str(request.path_params.get(rule.namespace, ""))
    if grants.allows(rule.resource, rule.action, namespace):
        return
    if not grants.allows(rule.resource, Action.READ, namespace):
        raise NotFound("Not found")
    raise denial(rule.resource, rule.action, namespace)
