"""The hooks of the deprecated ``state.Set``, ``state.Get`` and ``state.Delete`` tasks: a map of
values per flow (or per namespace) and name, kept in the namespace's KV store.

Kestra keeps these states in the KV store too. Each state is one JSON pair of the flow's
namespace whose key starts with ``_state.`` (:data:`perch.engine.kvtypes.STATE_KEY_PREFIX`), a
prefix no key written by a person, the API or a kv task can have, so a state and a user's pair
never meet:

    _state.flow.<flowId>.<name>.<digest>     the state of one flow (the default)
    _state.ns.<name>.<digest>                a state shared by the flows of the namespace

``digest`` is the start of a SHA-256 over the scope, the flow id, the name and the ForEach value
the state is isolated by (``taskrunValue``): two different states never share a key. Writes and
deletes are audited like every KV change, as the flow (:mod:`perch.engine.flowactor`). A Set
reads the state, merges and writes it back: two runs setting the same state at the same moment
may lose one's change, as in Kestra (isolate them with ``taskrunValue`` or distinct names).

The hooks are named ``state:get``, ``state:set`` and ``state:delete``; the composition root
wires them (:func:`perch.server.worker_hooks`).
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from perch.engine.flowactor import acting, flow_principal
from perch.engine.kvtypes import STATE_KEY_PREFIX
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.engine.service import kv
from perch.errors import ActingTaskError

GET = "state:get"
SET = "state:set"
DELETE = "state:delete"

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def state_key(flow_id: str | None, name: str, value: str | None) -> str:
    """The KV key of the state ``name`` of ``flow_id`` (None: shared by the namespace), for
    the ForEach value ``value`` (None: every iteration shares it)."""
    if not NAME_PATTERN.match(name):
        shown = name if len(name) <= 120 else name[:120] + "…"
        raise ActingTaskError(
            f"Invalid state name '{shown}': use letters, digits, '.', '_' and '-', starting "
            "with a letter or a digit (at most 100 characters)"
        )
    identity = json.dumps([flow_id, name, value], ensure_ascii=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    scope = "ns" if flow_id is None else f"flow.{flow_id}"
    return f"{STATE_KEY_PREFIX}{scope}.{name}.{digest}"


def merge(current: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over ``current``, as Kestra merges states: maps merge key by key, lists are
    appended to, a null keeps what was there, anything else replaces it."""
    merged = dict(current)
    for key, value in given.items():
        before = merged.get(key)
        if value is None:
            merged[key] = before
        elif isinstance(value, Mapping) and isinstance(before, Mapping):
            merged[key] = merge(before, value)
        elif isinstance(value, list) and isinstance(before, list):
            merged[key] = [*before, *value]
        else:
            merged[key] = value
    return merged


def state_hooks(store: Store) -> Callable[[Execution], Mapping[str, Callable[..., Any]]]:
    """The state hooks of each execution on ``store`` (held weakly)."""
    held = weakref.ref(store)

    def current() -> Store:
        found = held()
        if found is None:
            raise ActingTaskError("The state store is closed")
        return found

    def hooks(execution: Execution) -> Mapping[str, Callable[..., Any]]:
        tenant, namespace = execution.tenant, execution.namespace

        def key_of(name: str, flow_scoped: bool, value: str | None) -> str:
            return state_key(execution.flow_id if flow_scoped else None, name, value)

        def get(name: str, *, flow_scoped: bool, value: str | None) -> dict[str, Any] | None:
            key = key_of(name, flow_scoped, value)
            entry = kv.find_entry(current(), tenant, namespace, key)
            if entry is None:
                return None
            data = entry.value
            if not isinstance(data, dict):
                raise ActingTaskError(f"The state '{name}' ({key}) does not hold a map")
            return data

        def set_(
            name: str,
            data: Mapping[str, Any],
            *,
            flow_scoped: bool,
            value: str | None,
            task_id: str | None = None,
        ) -> tuple[str, dict[str, Any]]:
            key = key_of(name, flow_scoped, value)
            before = get(name, flow_scoped=flow_scoped, value=value) or {}
            merged = merge(before, data)
            with acting(execution, task_id):
                kv.put_value(
                    current(),
                    tenant,
                    namespace,
                    key,
                    merged,
                    kv_type="JSON",
                    description=f"state '{name}' of the state tasks",
                    principal=flow_principal(execution),
                    state=True,
                )
            return key, merged

        def delete(
            name: str, *, flow_scoped: bool, value: str | None, task_id: str | None = None
        ) -> bool:
            key = key_of(name, flow_scoped, value)
            with acting(execution, task_id):
                return kv.delete_key(
                    current(), tenant, namespace, key, principal=flow_principal(execution)
                )

        return {GET: get, SET: set_, DELETE: delete}

    return hooks
