"""The KV tasks: kv.Set, kv.Get and kv.Delete, on the namespace KV store.

They reach the store through the execution's hooks (:mod:`perch.engine.kvhooks`), so a task
writes only in its own tenant; ``namespace`` defaults to the flow's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perch.engine.kvhooks import DELETE, GET, SET
from perch.engine.states import StateType
from perch.errors import KvError
from perch.flows.tasks.kv import KvDelete, KvGet, KvSet
from perch.tasks.context import RunContext, TaskOutcome
from perch.templating.values import truthy


def _hook(context: RunContext, name: str) -> Callable[..., Any]:
    hook = context.hooks.get(name)
    if hook is None:
        raise KvError("The KV store is not available to this task")
    return hook


def _text(context: RunContext, value: Any) -> str | None:
    return None if value is None else context.render_text(value)


def _flag(context: RunContext, value: bool | str) -> bool:
    return truthy(context.render(value))


def _missing(key: str, namespace: str | None) -> TaskOutcome:
    where = f" in namespace {namespace}" if namespace else ""
    return TaskOutcome(
        StateType.FAILED,
        error=f"No value found for key '{key}'{where} and errorOnMissing is true",
    )


def run_kv_set(task: KvSet, context: RunContext) -> TaskOutcome:
    """Store ``value`` (rendered, typed) under ``key``; no outputs, as Kestra's."""
    key = context.render_text(task.key)
    _hook(context, SET)(
        key,
        context.render(task.value),
        ns=_text(context, task.namespace),
        kv_type=_text(context, task.kvType),
        ttl=_text(context, task.ttl),
        description=_text(context, task.kvDescription),
        overwrite=_flag(context, task.overwrite),
    )
    return TaskOutcome(StateType.SUCCESS, outputs={})


def run_kv_get(task: KvGet, context: RunContext) -> TaskOutcome:
    """The value of ``key`` as the output ``value`` (null when missing, unless
    ``errorOnMissing``)."""
    key = context.render_text(task.key)
    namespace = _text(context, task.namespace)
    found, value = _hook(context, GET)(key, ns=namespace)
    if not found and _flag(context, task.errorOnMissing):
        return _missing(key, namespace)
    return TaskOutcome(StateType.SUCCESS, outputs={"value": value})


def run_kv_delete(task: KvDelete, context: RunContext) -> TaskOutcome:
    """Delete ``key``; the output ``deleted`` says whether it existed."""
    key = context.render_text(task.key)
    namespace = _text(context, task.namespace)
    deleted = bool(_hook(context, DELETE)(key, ns=namespace))
    if not deleted and _flag(context, task.errorOnMissing):
        return _missing(key, namespace)
    return TaskOutcome(StateType.SUCCESS, outputs={"deleted": deleted})
