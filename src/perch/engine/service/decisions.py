"""Resuming paused executions: one, by ids, by query. Values typed by people are validated
against the Pause's ``onResume`` declarations here, and never rendered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from perch.engine.access import require_on, scope
from perch.engine.assignment import (
    Assignees,
    Decider,
    assignees_of,
    check_may_decide,
    may_decide,
    paused_run,
)
from perch.engine.durability import durable_commits
from perch.engine.events import Resume
from perch.engine.executor import (
    MAX_RETRIES,
    EngineContext,
    Written,
    apply_in,
    context_for,
    reading,
    retryable,
    unit,
)
from perch.engine.model import Execution, TaskRun
from perch.engine.ports import ExecutionQuery, Store, Transaction
from perch.engine.principal import Principal
from perch.engine.service.actions import (
    RESUME,
    act_in_batches,
    counting_refused,
    load_in,
    partition,
    record_refusal,
    refusal_recorder,
)
from perch.engine.service.bulk import BULK_BATCH, BulkResult, Progress
from perch.engine.service.files import Upload, resume_uris
from perch.engine.states import StateType
from perch.errors import ConcurrentUpdate, ExecutionNotFound, NotAssigned
from perch.flows import Flow
from perch.inputs import InputBase, InputCheck, check_inputs, resolve_inputs, serialize_input_value
from perch.metrics import TIME_TO_DECISION
from perch.permissions import Action, Resource
from perch.templating import default_environment


@durable_commits
def resume(
    store: Store,
    execution_id: str,
    inputs: Mapping[str, Any],
    principal: Principal,
    *,
    task_run_id: str | None = None,
    tenant: str | None = None,
    uploads: Mapping[str, Upload] | None = None,
) -> Execution:
    """Resume a PAUSED execution with values for its Pause's ``onResume`` inputs; ``uploads``
    are files sent for its FILE inputs, stored in the resume's transaction (each value is the
    file's ``kestra:///`` URI, see :mod:`perch.engine.service.files`).

    Bad values raise :class:`perch.errors.InputValidationError` (one problem per input) and the
    execution stays PAUSED; an execution that is not paused raises
    :class:`perch.errors.NotPaused` (naming who resumed it, when someone did). With ``tenant``,
    an execution of another tenant is :class:`perch.errors.ExecutionNotFound` (checked in the
    same transaction, so the latency-critical path reads the execution once).
    """
    ctx = context_for(store)
    for _ in range(MAX_RETRIES):
        try:
            with unit(store) as (tx, written):
                execution = load_in(tx, written, execution_id, tenant)
                saved = _resume_in(
                    tx, ctx, execution, inputs, principal, task_run_id, written, uploads or {}
                )
        except NotAssigned:
            # The resume rolled back; the refusal is recorded on its own.
            with store.transaction() as tx:
                record_refusal(tx, ctx, execution, principal, "RESUME")
            raise
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        _decided(execution, ctx.clock.now())
        return saved
    raise ConcurrentUpdate(f"execution '{execution_id}' kept changing; gave up after retries")


def _decided(paused: Execution, now: datetime) -> None:
    """Time to decision, for the metrics: from the pause to this resume."""
    if paused.state.current is StateType.PAUSED:
        TIME_TO_DECISION.observe(max((now - paused.state.histories[-1].date).total_seconds(), 0))


def _resume_in(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    execution: Execution,
    inputs: Mapping[str, Any],
    principal: Principal,
    task_run_id: str | None,
    written: Written,
    uploads: Mapping[str, Upload] | None = None,
) -> Execution:
    """Validate and apply a resume inside ``tx``, against the execution as locked there."""
    from perch.engine import resume_declarations, run_variables

    require_on(principal, execution, Action.UPDATE)

    flow = ctx.flow_for(tx, execution)
    # Raises NotPaused (with who resumed it) before anything is validated, then NotAssigned
    # for anyone a HumanTask does not wait for: the same check on every path to a resume.
    declarations = resume_declarations(flow, execution, task_run_id)
    check_may_decide(tx, principal, execution, task_run_id)
    values: Mapping[str, Any] = {}
    uris: dict[str, str] = {}
    files = uploads or {}
    if declarations:
        if files:
            uris = resume_uris(declarations, files, execution, _paused_run(execution, task_run_id))
        resolved = resolve_inputs(
            declarations,
            {**inputs, **uris},
            variables=run_variables(flow, execution),
            environment=default_environment(),
        )
        values = serialize_input_value(resolved)
        for input_id, uri in uris.items():
            tx.put_file(uri, execution.id, files[input_id].content, ctx.clock.now())
    event = Resume(principal=principal, inputs=values, task_run_id=task_run_id)
    return apply_in(tx, ctx, execution.id, event, principal, written=written, loaded=execution)


def _paused_run(execution: Execution, task_run_id: str | None) -> str:
    """The id of the task run a resume applies to (``resume_declarations`` found it paused)."""
    if task_run_id is not None:
        return task_run_id
    return next(run.id for run in execution.task_runs if run.state.current is StateType.PAUSED)


@dataclass(frozen=True, slots=True)
class ResumeValidation:
    """What a resume with some values would make of them, without resuming."""

    execution: Execution
    flow: Flow
    declarations: list[InputBase]
    checks: list[InputCheck]


def validate_resume(
    store: Store,
    execution_id: str,
    inputs: Mapping[str, Any],
    principal: Principal,
    *,
    task_run_id: str | None = None,
    tenant: str | None = None,
    uploads: Mapping[str, Upload] | None = None,
) -> ResumeValidation:
    """Check ``inputs`` against the paused task run's ``onResume`` declarations, one
    :class:`perch.inputs.InputCheck` per input; nothing changes. Raises
    :class:`perch.errors.NotPaused` when the execution is not paused, and
    :class:`perch.errors.NotAssigned` to someone who may not resume it."""
    from perch.engine import resume_declarations, run_variables

    ctx = context_for(store)
    with reading(store) as tx:
        execution = tx.get_execution(execution_id)
        if execution is None or (tenant is not None and execution.tenant != tenant):
            raise ExecutionNotFound(f"Execution '{execution_id}' not found.")
        require_on(principal, execution, Action.UPDATE)
        flow = ctx.flow_for(tx, execution)
        declarations = resume_declarations(flow, execution, task_run_id)
        check_may_decide(tx, principal, execution, task_run_id)
    uris: dict[str, str] = {}
    if declarations and uploads:
        uris = resume_uris(declarations, uploads, execution, _paused_run(execution, task_run_id))
    checks = check_inputs(
        declarations,
        {**inputs, **uris},
        variables=run_variables(flow, execution),
        environment=default_environment(),
    )
    return ResumeValidation(execution, flow, declarations, checks)


@durable_commits
def resume_by_ids(
    store: Store,
    ids: Iterable[str],
    principal: Principal,
    inputs: Mapping[str, Any] | None = None,
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
    batch: int = BULK_BATCH,
) -> BulkResult:
    """Resume each execution; those not paused (or with bad inputs) are reported, not raised.

    Executions are resumed ``batch`` per transaction; each is still checked, validated and
    compare-and-set on its own, under a savepoint, and one that cannot be resumed does not
    hold back the others. Returns once every batch has committed (durably, on SQLite too).
    """
    return _resume_ids(store, ids, principal, inputs, tenant, progress, batch)


def _resume_ids(  # noqa: PLR0917 - internal
    store: Store,
    ids: Iterable[str],
    principal: Principal,
    inputs: Mapping[str, Any] | None,
    tenant: str | None,
    progress: Progress | None,
    batch: int = BULK_BATCH,
) -> BulkResult:
    values = inputs or {}

    def act(tx: Transaction, ctx: EngineContext, execution: Execution, written: Written) -> object:
        return _resume_in(tx, ctx, execution, values, principal, None, written)

    refused = refusal_recorder(principal, "RESUME")
    return act_in_batches(
        store, ids, act, tenant=tenant, progress=progress, batch=batch, refused=refused
    )


@durable_commits
def resume_by_query(
    store: Store,
    query: ExecutionQuery,
    principal: Principal,
    inputs: Mapping[str, Any] | None = None,
    *,
    progress: Progress | None = None,
) -> BulkResult:
    """Resume every PAUSED execution matching ``query``; the other matches are reported."""
    accepted, result = partition(store, query, RESUME)
    inner = counting_refused(progress, len(result.skipped), len(accepted))
    done = _resume_ids(store, accepted, principal, inputs, query.tenant, inner)
    result.done.extend(done.done)
    result.skipped.extend(done.skipped)
    return result


@dataclass(frozen=True, slots=True)
class Approval:
    """A paused execution someone may resume, and the task run waiting for them (None for a
    manual pause)."""

    execution: Execution
    task_run: TaskRun | None
    assignees: Assignees | None


def approvals(
    store: Store,
    tenant: str,
    principal: Principal,
    *,
    namespace_prefix: str | None = None,
    page: int = 1,
    size: int = 25,
) -> tuple[list[Approval], int]:
    """The paused executions of ``tenant`` that ``principal`` may resume, oldest first: one
    page of them and how many there are. A HumanTask counts for its assignees only (the same
    :func:`perch.engine.assignment.may_decide` a resume calls)."""
    found: list[Approval] = []
    batch, number = 500, 1
    with reading(store) as raw:
        tx = _RememberingDeciders(raw)
        while True:
            query = ExecutionQuery(
                tenant=tenant,
                states=(StateType.PAUSED,),
                namespace_prefix=namespace_prefix,
                page=number,
                size=batch,
                sort_desc=False,
                namespace_scope=scope(principal, Resource.EXECUTION, Action.UPDATE),
            )
            results = raw.search_executions(query).results
            for execution in results:
                run = paused_run(execution)
                if may_decide(tx, principal, execution, run):
                    found.append(
                        Approval(execution, run, None if run is None else assignees_of(run))
                    )
            if len(results) < batch:
                break
            number += 1
    first = (page - 1) * size
    return found[first : first + size], len(found)


class _RememberingDeciders:
    """A transaction's :meth:`decider`, each user read once (a list asks for the same one)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._known: dict[tuple[str, str], Decider | None] = {}

    def decider(self, username: str, tenant: str) -> Decider | None:
        key = (username, tenant)
        if key not in self._known:
            self._known[key] = self._tx.decider(username, tenant)
        return self._known[key]
