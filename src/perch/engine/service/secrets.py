"""Masking the SECRET values of an execution in whatever is shown of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perch.engine.executor import (
    context_for,
    reading,
)
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.errors import (
    PerchError,
)
from perch.inputs.parsing import MASK


def secret_texts(store: Store, execution: Execution) -> frozenset[str]:
    """The texts of the execution's SECRET values: its SECRET flow inputs and the SECRET
    ``onResume`` values given to its Pauses. Stored as plain text (the engine renders them),
    they must be masked in whatever is shown."""
    from perch.engine import find_task
    from perch.errors import FlowNotFound as _FlowNotFound

    ctx = context_for(store)
    try:
        with reading(store) as tx:
            flow = ctx.flow_for(tx, execution)
    except (_FlowNotFound, PerchError):
        return frozenset()
    found: set[str] = set()
    for declaration in flow.inputs or []:
        if declaration.is_secret:
            _collect(_dotted(execution.inputs, declaration.id), found)
    for run in execution.task_runs:
        try:
            task = find_task(flow, run.task_id)
        except (KeyError, PerchError):
            continue
        on_resume = getattr(task, "onResume", None) or []
        given = (run.outputs or {}).get("onResume")
        for declaration in on_resume:
            if declaration.is_secret and isinstance(given, Mapping):
                _collect(_dotted(given, declaration.id), found)
    return frozenset(found)


def mask_secrets(value: Any, secrets: frozenset[str]) -> Any:
    """``value`` (text, or JSON-like data) with every secret text replaced by ``******``."""
    if not secrets:
        return value
    if isinstance(value, str):
        # Longest first, so that a secret containing another one is masked whole.
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, Mapping):
        return {k: mask_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v, secrets) for v in value]
    return value


def _dotted(values: Mapping[str, Any], key: str) -> Any:
    if key in values:
        return values[key]
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _collect(value: Any, found: set[str]) -> None:
    # An empty secret would "mask" every gap between characters.
    if isinstance(value, str) and value:
        found.add(value)
