"""Adding labels to an execution while it runs (the ``execution.Labels`` task calls this).

A label given replaces the one of the same key and the others are added after the existing
ones. ``system.`` labels are Perch's own (the user who started the execution, the correlation
id…): no caller sets them here. The change is one compare-and-set write of the execution with
its audit record (``SET_LABELS``, naming the keys and values given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from perch.engine.access import require_on
from perch.engine.creation import merge_labels
from perch.engine.effects import Audit
from perch.engine.executor import MAX_RETRIES, context_for, retryable, unit
from perch.engine.model import Execution, Label
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.engine.service.actions import load_in
from perch.errors import ActingTaskError, ConcurrentUpdate, SystemLabelRefused
from perch.permissions import Action

SYSTEM_PREFIX = "system."
MAX_LABELS = 100
"""The most labels one execution carries (its own, the flow's and those added)."""
MAX_KEY_LENGTH = 255
MAX_VALUE_LENGTH = 1000


def check_labels(labels: Mapping[str, str]) -> None:
    """Raise :class:`perch.errors.ActingTaskError` naming the first label that cannot be set:
    a ``system.`` key (:class:`perch.errors.SystemLabelRefused`), an empty or too long key, a
    too long value, a NUL character."""
    for key, value in labels.items():
        if key.startswith(SYSTEM_PREFIX):
            raise SystemLabelRefused(
                f"System labels can only be set by Perch itself; refused label: {key}={value}"
            )
        if not key.strip():
            raise ActingTaskError("A label key cannot be empty")
        if len(key) > MAX_KEY_LENGTH:
            raise ActingTaskError(
                f"The label key '{key[:40]}…' is over {MAX_KEY_LENGTH} characters"
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise ActingTaskError(
                f"The value of label '{key}' is over {MAX_VALUE_LENGTH} characters"
            )
        if "\x00" in key or "\x00" in value:
            raise ActingTaskError(f"The label '{key}' contains a NUL character")


def set_labels(
    store: Store,
    execution_id: str,
    labels: Mapping[str, str],
    principal: Principal,
    *,
    tenant: str | None = None,
) -> Execution:
    """Add ``labels`` to the execution (replacing those of the same keys); the execution as
    written. Needs EXECUTION:UPDATE on its namespace; refuses ``system.`` labels and more than
    :data:`MAX_LABELS` labels in all."""
    check_labels(labels)
    ctx = context_for(store)
    given = [Label(key, value) for key, value in labels.items()]
    for _ in range(MAX_RETRIES):
        try:
            with unit(store) as (tx, written):
                execution = load_in(tx, written, execution_id, tenant)
                require_on(principal, execution, Action.UPDATE)
                merged = merge_labels(execution.labels, given)
                if len(merged) > MAX_LABELS:
                    raise ActingTaskError(
                        f"Execution '{execution_id}' would have {len(merged)} labels; "
                        f"at most {MAX_LABELS} are allowed"
                    )
                saved = written.stage(execution, replace(execution, labels=merged))
                detail = {"executionId": execution.id, "labels": dict(labels)}
                tx.add_audit(execution.id, Audit("SET_LABELS", principal, detail), ctx.clock.now())
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return saved
    raise ConcurrentUpdate(f"execution '{execution_id}' kept changing; gave up after retries")
