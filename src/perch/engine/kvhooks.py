"""``kv()`` for templates, and the KV reads and writes of the kv tasks, scoped to where an
execution runs.

The engine asks for these per execution (:meth:`perch.engine.context.EngineContext.hooks_for`):
the tenant is always the execution's, the namespace the flow's unless a template or a task names
another one of the same tenant. Each call is one short transaction of its own: a read for
``kv()``, never held across a rendering. The task hooks are named ``kv:set``, ``kv:get`` and
``kv:delete``, names no template function can call.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

from perch.engine.kvtypes import parse_ttl
from perch.engine.ports import Store
from perch.errors import KvError, KvExpired, KvNotFound, KvUnavailable

SET: str = "kv:set"
GET: str = "kv:get"
DELETE: str = "kv:delete"


def kv_hooks(store: Store) -> Callable[[str, str], Mapping[str, Callable[..., Any]]]:
    """The KV hooks of executions of ``(tenant, namespace)`` on ``store``."""
    held = weakref.ref(store)

    def current() -> Store:
        found = held()
        if found is None:
            raise KvUnavailable("The KV store is closed")
        return found

    def scoped(tenant: str, namespace: str) -> Mapping[str, Callable[..., Any]]:
        from perch.engine.service import kv as service

        def kv(key: str, ns: str | None = None, *, error_on_missing: bool = True) -> Any:
            where = ns or namespace
            try:
                return service.get_entry(current(), tenant, where, key).value
            except KvNotFound as exc:
                if not error_on_missing:
                    return None
                gone = "has expired" if isinstance(exc, KvExpired) else "does not exist"
                raise KvUnavailable(f"The KV pair '{key}' of namespace {where} {gone}") from exc
            except KvError as exc:
                raise KvUnavailable(str(exc)) from exc

        def set_(
            key: str,
            value: Any,
            *,
            ns: str | None = None,
            kv_type: str | None = None,
            ttl: str | None = None,
            description: str | None = None,
            overwrite: bool = True,
        ) -> None:
            service.put_value(
                current(),
                tenant,
                ns or namespace,
                key,
                value,
                kv_type=kv_type,
                ttl=parse_ttl(ttl),
                description=description,
                overwrite=overwrite,
            )

        def get(key: str, *, ns: str | None = None) -> tuple[bool, Any]:
            entry = service.find_entry(current(), tenant, ns or namespace, key)
            return (False, None) if entry is None else (True, entry.value)

        def delete(key: str, *, ns: str | None = None) -> bool:
            return service.delete_key(current(), tenant, ns or namespace, key)

        return {"kv": kv, SET: set_, GET: get, DELETE: delete}

    return scoped
