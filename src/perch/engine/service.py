"""The service functions: what the CLI, the REST API and the UI call to act on flows and
executions. Each takes the acting :class:`Principal`, which the audit trail records.

Every change to an execution goes through :func:`perch.engine.executor.apply` (one transaction,
compare-and-set on the version, effects written with the state). Values typed by people are
validated here against their declarations before they reach the engine, and never rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from perch.engine.effects import Audit
from perch.engine.events import Kill, Pause, Restart, Resume
from perch.engine.executor import (
    MAX_RETRIES,
    EngineContext,
    Written,
    apply,
    apply_in,
    context_for,
    reading,
    resumed_by,
    retryable,
    start_in,
    unit,
)
from perch.engine.model import DEFAULT_TENANT, Execution, Label, LogEntry
from perch.engine.ports import ExecutionQuery, Page, Store, StoredFlow, Transaction
from perch.engine.principal import Principal
from perch.errors import (
    ConcurrentUpdate,
    EngineError,
    ExecutionNotFound,
    FlowNotFound,
    NotPaused,
    PerchError,
)
from perch.flows import Flow, parse_flow
from perch.inputs import resolve_inputs, serialize_input_value
from perch.inputs.parsing import MASK
from perch.templating import default_environment

BULK_BATCH = 100
"""Executions acted on per transaction by the bulk actions."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called after each execution of a bulk action."""


# --- flows -------------------------------------------------------------------------------------


def deploy_flow(
    store: Store, source: str, principal: Principal, *, tenant: str = DEFAULT_TENANT
) -> StoredFlow:
    """Validate and store a flow; a changed source becomes a new revision.

    Raises :class:`perch.errors.FlowValidationError` listing every problem.
    """
    flow = parse_flow(source)
    ctx = context_for(store)
    with store.transaction() as tx:
        stored = tx.save_flow(
            StoredFlow(
                tenant=tenant, namespace=flow.namespace, id=flow.id, revision=0, source=source
            )
        )
        tx.add_audit(
            None,
            Audit(
                "FLOW_DEPLOYED",
                principal,
                {"namespace": flow.namespace, "flowId": flow.id, "revision": stored.revision},
            ),
            ctx.clock.now(),
        )
    ctx.remember((tenant, flow.namespace, flow.id, stored.revision), flow)
    return stored


def list_flows(
    store: Store, *, tenant: str = DEFAULT_TENANT, namespace_prefix: str | None = None
) -> list[StoredFlow]:
    """The latest revision of every flow (under a namespace prefix)."""
    with reading(store) as tx:
        return tx.list_flows(tenant, namespace_prefix)


def get_flow(
    store: Store, namespace: str, flow_id: str, *, tenant: str = DEFAULT_TENANT
) -> tuple[StoredFlow, Flow]:
    """The latest revision of a flow, stored and parsed; :class:`FlowNotFound` if there is none."""
    ctx = context_for(store)
    with reading(store) as tx:
        stored = tx.get_flow(tenant, namespace, flow_id)
        if stored is None or stored.deleted:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' not found")
        return stored, ctx.flow(tx, tenant, namespace, flow_id, stored.revision)


# --- executions --------------------------------------------------------------------------------


def create_execution(  # noqa: PLR0917 - the agreed signature
    store: Store,
    tenant: str,
    namespace: str,
    flow_id: str,
    inputs: Mapping[str, Any],
    principal: Principal,
    labels: Sequence[Label] = (),
    *,
    correlation_id: str | None = None,
    trigger: Mapping[str, Any] | None = None,
) -> Execution:
    """Create an execution of the latest flow revision and start it (or queue it).

    Inputs are validated first: an invalid create raises
    :class:`perch.errors.InputValidationError` naming every bad input and creates nothing.
    Over the flow's ``concurrency`` limit the execution is QUEUED, CANCELLED or FAILED.
    """
    from perch.engine import new_execution

    ctx = context_for(store)
    # One transaction: reading the latest revision inside it costs less than a separate one.
    with unit(store) as (tx, written):
        stored = tx.get_flow(tenant, namespace, flow_id)
        if stored is None or stored.deleted:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' not found")
        flow = ctx.flow(tx, tenant, namespace, flow_id, stored.revision)
        resolved = resolve_inputs(
            flow.inputs or [], inputs, environment=default_environment(), variables=_flow_vars(flow)
        )
        execution = new_execution(
            flow,
            revision=stored.revision,
            inputs=resolved,
            now=ctx.clock.now(),
            principal=principal,
            labels=labels,
            correlation_id=correlation_id,
            trigger=trigger,
        )
        if execution.tenant != tenant:
            execution = replace(execution, tenant=tenant)
        written.insert(execution)
        started = start_in(tx, ctx, execution, written, principal)
    ctx.after_commit(written)
    return started


def _flow_vars(flow: Flow) -> dict[str, Any]:
    return {"flow": {"id": flow.id, "namespace": flow.namespace}}


def get_execution(store: Store, execution_id: str) -> Execution:
    """The execution; :class:`perch.errors.ExecutionNotFound` when there is none."""
    with reading(store) as tx:
        execution = tx.get_execution(execution_id)
    if execution is None:
        raise ExecutionNotFound(f"Execution '{execution_id}' not found")
    return execution


def search_executions(store: Store, query: ExecutionQuery) -> Page:
    """One page of executions matching ``query``."""
    with reading(store) as tx:
        return tx.search_executions(query)


def logs(
    store: Store,
    execution_id: str,
    *,
    min_level: str | None = None,
    task_id: str | None = None,
) -> list[LogEntry]:
    """The execution's log lines, oldest first, with its SECRET values masked."""
    with reading(store) as tx:
        entries = tx.get_logs(execution_id, min_level=min_level, task_id=task_id)
        execution = tx.get_execution(execution_id)
    if execution is None or not entries:
        return entries
    secrets = secret_texts(store, execution)
    if not secrets:
        return entries
    return [replace(entry, message=mask_secrets(entry.message, secrets)) for entry in entries]


# --- secrets -------------------------------------------------------------------------------------


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


# --- resume ------------------------------------------------------------------------------------


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


@dataclass
class BulkResult:
    """The outcome of a bulk action: which executions it changed, and why it skipped others."""

    done: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.done)


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
                            part.skipped.append((execution_id, _not_paused_reason(exc)))
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
            part = _bulk(chunk, lambda i: _ignore(resume(store, i, inputs or {}, principal)), None)
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


def matching_ids(store: Store, query: ExecutionQuery, *, page_size: int = 1000) -> list[str]:
    """The ids of every execution matching ``query`` (all pages), collected before acting so
    that executions leaving the filter while a bulk action runs do not shift the pages."""
    ids: list[str] = []
    page = 1
    while True:
        found = search_executions(store, replace(query, page=page, size=page_size))
        ids.extend(e.id for e in found.results)
        if len(found.results) < page_size or len(ids) >= found.total:
            return ids
        page += 1


def _bulk(ids: list[str], action: Callable[[str], None], progress: Progress | None) -> BulkResult:
    result = BulkResult()
    for index, execution_id in enumerate(ids, start=1):
        try:
            action(execution_id)
        except NotPaused as exc:
            result.skipped.append((execution_id, _not_paused_reason(exc)))
        except (EngineError, ValueError) as exc:
            result.skipped.append((execution_id, str(exc)))
        else:
            result.done.append(execution_id)
        if progress is not None:
            progress(index, len(ids))
    return result


def _not_paused_reason(exc: NotPaused) -> str:
    if exc.resumed_by:
        return f"not paused (resumed by {exc.resumed_by})"
    return "not paused"


# --- pause, kill, restart, replay -----------------------------------------------------------------


def pause(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Pause a RUNNING execution: running task runs finish, nothing new starts until resumed."""
    return apply(store, execution_id, Pause(principal), principal)


def kill(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Kill an execution (and, through its effects, cancel its running tasks)."""
    return apply(store, execution_id, Kill(principal), principal)


def kill_by_ids(
    store: Store, ids: Iterable[str], principal: Principal, *, progress: Progress | None = None
) -> BulkResult:
    """Kill each execution; finished ones are reported, not raised."""
    return _bulk(list(ids), lambda i: _ignore(kill(store, i, principal)), progress)


def kill_by_query(
    store: Store, query: ExecutionQuery, principal: Principal, *, progress: Progress | None = None
) -> BulkResult:
    """Kill every execution matching ``query`` that has not finished."""
    return kill_by_ids(store, matching_ids(store, query), principal, progress=progress)


def restart(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Restart a FAILED execution from its failed task runs, keeping its id."""
    return apply(store, execution_id, Restart(principal), principal)


def replay(
    store: Store, execution_id: str, principal: Principal, *, task_run_id: str | None = None
) -> Execution:
    """Replay an execution as a new one, from ``task_run_id`` (or from the start)."""
    from perch.engine import replay_execution

    ctx = context_for(store)
    for _ in range(5):
        try:
            with unit(store) as (tx, written):
                original = written.load(tx, execution_id)
                if original is None:
                    raise ExecutionNotFound(f"Execution '{execution_id}' not found")
                flow = ctx.flow_for(tx, original)
                now = ctx.clock.now()
                new = replay_execution(
                    flow, original, now=now, principal=principal, task_run_id=task_run_id
                )
                written.insert(new)  # the engine audits the replay when it starts
                started = start_in(tx, ctx, new, written, principal)
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return started
    raise ConcurrentUpdate(f"could not replay '{execution_id}'")


def _ignore(_: object) -> None:
    return None
