"""Resuming paused executions: one, by ids, by query. Values typed by people are validated
against the Pause's ``onResume`` declarations here, and never rendered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from perch.engine.events import Resume
from perch.engine.executor import (
    MAX_RETRIES,
    EngineContext,
    Written,
    apply_in,
    context_for,
    resumed_by,
    retryable,
    unit,
)
from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery, Store, Transaction
from perch.engine.principal import Principal
from perch.engine.service.bulk import (
    BULK_BATCH,
    BulkResult,
    Progress,
    each,
    matching_ids,
    not_paused_reason,
)
from perch.errors import (
    ConcurrentUpdate,
    EngineError,
    ExecutionNotFound,
    NotPaused,
    PerchError,
)
from perch.inputs import resolve_inputs, serialize_input_value
from perch.templating import default_environment


def resume(
    store: Store,
    execution_id: str,
    inputs: Mapping[str, Any],
    principal: Principal,
    *,
    task_run_id: str | None = None,
) -> Execution:
    """Resume a PAUSED execution with values for its Pause's ``onResume`` inputs.

    Bad values raise :class:`perch.errors.InputValidationError` (one problem per input) and the
    execution stays PAUSED; an execution that is not paused raises
    :class:`perch.errors.NotPaused` (naming who resumed it, when someone did).
    """
    ctx = context_for(store)
    for _ in range(MAX_RETRIES):
        try:
            with unit(store) as (tx, written):
                saved = _resume_in(tx, ctx, execution_id, inputs, principal, task_run_id, written)
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return saved
    raise ConcurrentUpdate(f"execution '{execution_id}' kept changing; gave up after retries")


def _resume_in(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    execution_id: str,
    inputs: Mapping[str, Any],
    principal: Principal,
    task_run_id: str | None,
    written: Written,
) -> Execution:
    """Validate and apply a resume inside ``tx``, against the execution as locked there."""
    from perch.engine import resume_declarations, run_variables

    execution = written.load(tx, execution_id)
    if execution is None:
        raise ExecutionNotFound(f"Execution '{execution_id}' not found")
    if not execution.state.current.is_paused:
        raise NotPaused(execution_id, resumed_by(execution))
    flow = ctx.flow_for(tx, execution)
    declarations = resume_declarations(flow, execution, task_run_id)
    values: Mapping[str, Any] = {}
    if declarations:
        resolved = resolve_inputs(
            declarations,
            inputs,
            variables=run_variables(flow, execution),
            environment=default_environment(),
        )
        values = serialize_input_value(resolved)
    event = Resume(principal=principal, inputs=values, task_run_id=task_run_id)
    return apply_in(tx, ctx, execution_id, event, principal, written=written, loaded=execution)


def resume_by_ids(
    store: Store,
    ids: Iterable[str],
    principal: Principal,
    inputs: Mapping[str, Any] | None = None,
    *,
    progress: Progress | None = None,
    batch: int = BULK_BATCH,
) -> BulkResult:
    """Resume each execution; those not paused (or with bad inputs) are reported, not raised.

    Executions are resumed ``batch`` per transaction; each is still checked, validated and
    compare-and-set on its own, and one that cannot be resumed does not hold back the others.
    """
    ctx = context_for(store)
    pending = list(ids)
    result = BulkResult()
    for first in range(0, len(pending), batch):
        chunk = pending[first : first + batch]
        for _ in range(MAX_RETRIES):
            part = BulkResult()
            try:
                with unit(store) as (tx, written):
                    for execution_id in chunk:
                        try:
                            _resume_in(
                                tx, ctx, execution_id, inputs or {}, principal, None, written
                            )
                        except ConcurrentUpdate:
                            raise
                        except NotPaused as exc:
                            part.skipped.append((execution_id, not_paused_reason(exc)))
                        except (EngineError, PerchError, ValueError) as exc:
                            part.skipped.append((execution_id, str(exc)))
                        else:
                            part.done.append(execution_id)
            except Exception as exc:
                if not retryable(exc):
                    raise
                continue
            ctx.after_commit(written)
            break
        else:
            part = each(chunk, lambda i: resume(store, i, inputs or {}, principal), None)
        result.done.extend(part.done)
        result.skipped.extend(part.skipped)
        if progress is not None:
            progress(min(first + batch, len(pending)), len(pending))
    return result


def resume_by_query(
    store: Store,
    query: ExecutionQuery,
    principal: Principal,
    inputs: Mapping[str, Any] | None = None,
    *,
    progress: Progress | None = None,
) -> BulkResult:
    """Resume every PAUSED execution matching ``query``; other matches are reported."""
    return resume_by_ids(store, matching_ids(store, query), principal, inputs, progress=progress)
