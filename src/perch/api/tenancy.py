"""Which tenant a path names.

While a Perch has only its default tenant, any tenant in a path means it, as Kestra's
open-source edition answers ``main`` whatever the path says: a script written for
``/api/v1/demo/executions/…`` works unchanged. Once another tenant exists, paths are strict and
an unknown tenant is 404.

The created tenants are read again at most every :data:`TenantDirectory.REFRESH` seconds, and at
once when a path names one not known yet; a tenant created by another process is thus strict
here within that second.
"""

from __future__ import annotations

import threading
import time

import anyio.to_thread

from perch import identity
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store
from perch.errors import NotFound


class TenantNotFound(NotFound):
    """The tenant does not exist."""


class TenantDirectory:
    """The created tenants, remembered for a second."""

    REFRESH = 1.0

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._known: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    def _fresh(self, tenant: str) -> bool:
        age = time.monotonic() - self._read_at
        return age < self.REFRESH and (not self._known or tenant in self._known)

    def reload(self) -> None:
        """Read the created tenants now."""
        known = frozenset(t.id for t in identity.list_tenants(self._store))
        with self._lock:
            self._known, self._read_at = known, time.monotonic()

    def resolve_known(self, tenant: str) -> str | None:
        """:meth:`resolve` without reading the database; None when it would have to."""
        if not self._fresh(tenant):
            return None
        return self._answer(tenant)

    def resolve(self, tenant: str) -> str:
        """The tenant a path's ``tenant`` segment stands for; :class:`TenantNotFound` for an
        unknown one once tenants besides the default exist."""
        if not self._fresh(tenant):
            self.reload()
        return self._answer(tenant)

    async def resolve_async(self, tenant: str) -> str:
        """:meth:`resolve` for the event loop: the database is read on a thread, if at all."""
        known = self.resolve_known(tenant)
        if known is not None:
            return known
        await anyio.to_thread.run_sync(self.reload)
        return self._answer(tenant)

    def _answer(self, tenant: str) -> str:
        if not self._known:
            return DEFAULT_TENANT
        if tenant == DEFAULT_TENANT or tenant in self._known:
            return tenant
        raise TenantNotFound(f"Tenant '{tenant}' not found")
