"""What the web UI's overviews show: executions counted by day and state, how long people took
to decide, the namespaces that hold something, and a namespace's KV pairs with their values.

Time to decision is measured from the audit trail and the task-run histories: each ``RESUME``
record of the period is one decision (when it was made); the task run it resumed (its
``taskRunId``) tells when that pause began — its last PAUSED entry before the decision — and a
manual pause, without a task run, the execution's own. Pauses that ended by their timer, a kill
or a refusal are not decisions and do not count. The executions are read in batches by id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Protocol, cast

from perch.engine.auditlog import AuditQuery, AuditRecord, export_audit
from perch.engine.context import context_for, reading
from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery, Store, Transaction
from perch.engine.service.flowsearch import distinct_namespaces
from perch.engine.service.kv import KvEntry
from perch.engine.states import State, StateType
from perch.permissions import in_scope

MAX_DECISIONS = 5000
"""The most recent decisions a time-to-decision figure is computed from."""
_BATCH = 500
STATE_ORDER = tuple(s.value for s in StateType)


class OverviewTransaction(Transaction, Protocol):
    """The store's reads for overviews (see :mod:`perch.store.overviewrepo`)."""

    def count_executions_by_day(
        self, tenant: str, since: datetime, scope: tuple[str, ...] | None
    ) -> list[tuple[date, str, int]]: ...

    def namespaces_with_data(self, tenant: str) -> list[tuple[str, str]]: ...

    def list_kv_values(self, tenant: str, namespace: str, limit: int) -> list[KvEntry]: ...


def _tx(raw: Transaction) -> OverviewTransaction:
    return cast(OverviewTransaction, raw)


@dataclass(frozen=True, slots=True)
class DayCounts:
    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class ExecutionsByDay:
    """Executions started on each of the last days (UTC), counted by their current state."""

    days: list[DayCounts]
    states: tuple[str, ...]
    """The states that occur, in the engine's order."""
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def executions_by_day(
    store: Store,
    tenant: str,
    *,
    days: int = 7,
    scope: tuple[str, ...] | None = None,
    now: datetime | None = None,
) -> ExecutionsByDay:
    """Today and the ``days - 1`` days before it, each with its executions by state, in the
    namespaces of ``scope`` (None: all). One ``GROUP BY`` in the database."""
    moment = now or context_for(store).clock.now()
    today = moment.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time(0), tzinfo=UTC)
    with reading(store) as raw:
        rows = _tx(raw).count_executions_by_day(tenant, since, scope)
    by_day: dict[date, dict[str, int]] = {first + timedelta(days=i): {} for i in range(days)}
    totals: dict[str, int] = {}
    for day, state, count in rows:
        if day in by_day:
            by_day[day][state] = by_day[day].get(state, 0) + count
            totals[state] = totals.get(state, 0) + count
    states = tuple(s for s in STATE_ORDER if s in totals)
    ordered = {s: totals[s] for s in states}
    return ExecutionsByDay([DayCounts(d, c) for d, c in by_day.items()], states, ordered)


@dataclass(frozen=True, slots=True)
class DecisionTimes:
    """How long paused executions waited for the decisions made in a period."""

    count: int
    median: timedelta | None
    p90: timedelta | None


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (sorted or not): the smallest value at or
    below which ``share`` of them lie."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _paused_since(state: State, before: datetime) -> datetime | None:
    found = None
    for entry in state.histories:
        if entry.date > before:
            break
        if entry.state is StateType.PAUSED:
            found = entry.date
    return found


def _waited(record: AuditRecord, execution: Execution | None) -> timedelta | None:
    if execution is None:
        return None
    detail = record.detail if isinstance(record.detail, dict) else {}
    run_id = detail.get("taskRunId")
    state = execution.state
    if isinstance(run_id, str):
        try:
            state = execution.task_run(run_id).state
        except KeyError:
            return None
    began = _paused_since(state, record.at)
    return None if began is None else record.at - began


def _executions(store: Store, tenant: str, ids: Iterable[str]) -> dict[str, Execution]:
    wanted = sorted(set(ids))
    found: dict[str, Execution] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = tuple(wanted[start : start + _BATCH])
        query = ExecutionQuery(tenant=tenant, ids=batch, size=len(batch))
        with reading(store) as tx:
            found.update((e.id, e) for e in tx.search_executions(query).results)
    return found


def decision_times(
    store: Store,
    tenant: str,
    *,
    since: datetime,
    scope: tuple[str, ...] | None = None,
) -> DecisionTimes:
    """Median and 90th percentile of the waits of the decisions (``RESUME`` records) made
    since ``since`` on executions of the namespaces of ``scope`` (None: all); at most the
    :data:`MAX_DECISIONS` most recent."""
    records: list[AuditRecord] = []
    query = AuditQuery(tenant=tenant, action="RESUME", start=since)
    for record in export_audit(store, query, namespaces=scope):
        if record.execution_id is not None:
            records.append(record)
        if len(records) >= MAX_DECISIONS:
            break
    executions = _executions(store, tenant, (r.execution_id or "" for r in records))
    waits = [
        w.total_seconds()
        for r in records
        if (w := _waited(r, executions.get(r.execution_id or ""))) is not None
    ]
    if not waits:
        return DecisionTimes(0, None, None)
    return DecisionTimes(
        len(waits),
        timedelta(seconds=median(waits)),
        timedelta(seconds=percentile(waits, 0.9)),
    )


@dataclass(frozen=True, slots=True)
class NamespaceSummary:
    name: str
    flows: bool
    kv: bool
    secrets: bool


def namespaces(
    store: Store,
    tenant: str,
    *,
    flow_scope: tuple[str, ...] | None,
    kv_scope: tuple[str, ...] | None,
    secret_scope: tuple[str, ...] | None,
) -> list[NamespaceSummary]:
    """The namespaces holding flows, KV pairs or secrets, by name; each kind counted only in
    the namespaces of its scope (what the caller may read of it; None: all)."""
    with_flows = set(distinct_namespaces(store, tenant=tenant, scope=flow_scope))
    with reading(store) as raw:
        held = _tx(raw).namespaces_with_data(tenant)
    with_kv = {n for n, kind in held if kind == "KV" and in_scope(kv_scope, n)}
    with_secrets = {n for n, kind in held if kind == "SECRET" and in_scope(secret_scope, n)}
    return [
        NamespaceSummary(n, n in with_flows, n in with_kv, n in with_secrets)
        for n in sorted(with_flows | with_kv | with_secrets)
    ]


def kv_values(store: Store, tenant: str, namespace: str, *, limit: int = 500) -> list[KvEntry]:
    """The namespace's unexpired pairs by key, with their values (the first ``limit``)."""
    now = context_for(store).clock.now()
    with reading(store) as raw:
        found = _tx(raw).list_kv_values(tenant, namespace, limit)
    return [e for e in found if not e.expired(now)]
