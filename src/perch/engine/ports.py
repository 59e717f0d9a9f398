"""What the engine needs from storage, as Protocols; ``perch.store`` implements them.

One :class:`Transaction` is one database transaction: a transition's new execution state and
all of its effects are written through the same transaction and commit together or not at all.
Rows never leave the store: it converts them to the engine values in :mod:`perch.engine.model`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from perch.engine.assignment import Decider
from perch.engine.effects import Audit, ScheduleTimer
from perch.engine.events import Event
from perch.engine.jobfilter import JobFilter
from perch.engine.model import JSON, Execution, LogEntry
from perch.engine.states import StateType


@dataclass(frozen=True, slots=True)
class StoredFlow:
    """One revision of a flow as stored: the YAML source byte for byte."""

    tenant: str
    namespace: str
    id: str
    revision: int
    source: str
    deleted: bool = False
    updated: datetime | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A worker job: run one attempt of one runnable task run."""

    id: str
    execution_id: str
    task_run_id: str
    task_id: str
    attempt: int
    created: datetime
    worker_id: str | None = None
    lease_until: datetime | None = None
    worker_group: str | None = None
    """The task's ``workerGroup.key``: only a worker of that group claims the job."""
    task_type: str | None = None
    """The task's type (its Kestra class name), for workers that take some types only."""
    namespace: str | None = None
    """The execution's namespace, for workers that take some namespaces only."""


HANDED_BACK_ATTEMPT = 0
"""The ``attempt`` a released job carries: its worker gave it back (a graceful stop) while the
attempt ran. The next claim continues that attempt instead of counting it lost."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process as it registers itself: what it claims and when it was last seen."""

    id: str
    filter: JobFilter
    concurrency: int
    hostname: str
    pid: int
    started: datetime
    heartbeat: datetime
    expires: datetime
    """Past this moment without a heartbeat the worker counts as gone."""


@dataclass(frozen=True, slots=True)
class Timer:
    """A due time written by a transition (pause duration, sleep, retry delay, timeout)."""

    id: str
    execution_id: str
    due: datetime
    action: str
    task_run_id: str | None = None
    payload: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """An event for an execution, delivered through the outbox (see ``SendEvent``)."""

    id: str
    execution_id: str
    event: Event


class ClaimedEvents(list[QueuedEvent]):
    """The events one claim removed from the outbox, oldest first, and how many it saw but
    ``left`` to the executor that is applying events to the same executions at that moment."""

    left: int

    def __init__(self, events: Iterable[QueuedEvent] = (), *, left: int = 0) -> None:
        super().__init__(events)
        self.left = left


@dataclass(frozen=True, slots=True)
class TriggerRow:
    """The stored state of one trigger of a flow's latest revision."""

    tenant: str
    namespace: str
    flow_id: str
    trigger_id: str
    type: str
    flow_revision: int
    disabled: bool = False
    next_date: datetime | None = None
    last_date: datetime | None = None
    last_execution_id: str | None = None
    backfill: dict[str, JSON] | None = None
    state: dict[str, JSON] | None = None
    updated: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.tenant, self.namespace, self.flow_id, self.trigger_id)


DEFAULT_COUNT_LIMIT = 10_000
"""Up to how many matches the API and the UI count a search's total exactly (then estimate)."""

SORT_FIELDS = ("start_date", "end_date", "id", "namespace", "flow_id", "state")
"""What a search can be sorted by (:attr:`ExecutionQuery.sort_field`)."""


@dataclass(frozen=True, slots=True)
class ExecutionQuery:
    """Filters of an execution search; every field is optional and all of them must hold.
    Pages are 1-based.

    ``namespace_prefix`` matches the namespace and its children (``a.b`` matches ``a.b`` and
    ``a.b.c``, not ``a.bc``); ``namespace_starts_with`` and ``namespace_contains`` compare the
    text. Date bounds are inclusive below (``*_after``) and exclusive above (``*_before``).
    ``text`` matches, ignoring case, part of the id, the namespace or the flow id.
    """

    tenant: str = "main"
    states: tuple[StateType, ...] = ()
    namespace_prefix: str | None = None
    flow_id: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    start_after: datetime | None = None
    start_before: datetime | None = None
    ids: tuple[str, ...] = ()
    page: int = 1
    size: int = 25
    sort_desc: bool = True
    not_states: tuple[StateType, ...] = ()
    namespace: str | None = None
    not_namespace: str | None = None
    namespace_starts_with: str | None = None
    namespace_contains: str | None = None
    not_flow_id: str | None = None
    end_after: datetime | None = None
    end_before: datetime | None = None
    text: str | None = None
    sort_field: str = "start_date"
    namespace_scope: tuple[str, ...] | None = None
    """Only these namespaces and their children (what the caller may read); None: all."""
    count_limit: int | None = None
    """Count the matches exactly up to this many; beyond it the total may be an estimate
    (:attr:`Page.estimated`), so that counting never reads every match. None: always exact."""


@dataclass(frozen=True, slots=True)
class Page:
    """A page of search results and the total number of matches."""

    results: list[Execution]
    total: int
    estimated: bool = False
    """``total`` is an estimate: more than :attr:`ExecutionQuery.count_limit` executions match."""


class Transaction(Protocol):
    """Reads and writes inside one database transaction."""

    # flows
    def save_flow(self, flow: StoredFlow) -> StoredFlow:
        """Store a new revision when the source changed; return the current revision."""
        ...

    def get_flow(
        self, tenant: str, namespace: str, flow_id: str, revision: int | None = None
    ) -> StoredFlow | None:
        """A given revision (deleted ones too), or the latest non-deleted one."""
        ...

    def list_flows(self, tenant: str, namespace_prefix: str | None = None) -> list[StoredFlow]: ...

    def list_flow_revisions(self, tenant: str, namespace: str, flow_id: str) -> list[StoredFlow]:
        """Every revision of a flow, deletion markers included, oldest first."""
        ...

    def delete_flow(self, tenant: str, namespace: str, flow_id: str) -> bool: ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A block of this transaction whose writes are undone when it raises, the rest of the
        transaction kept (a bulk action skips one execution and commits the others)."""
        ...

    # executions
    def insert_execution(self, execution: Execution) -> None: ...

    def get_execution(self, execution_id: str, *, for_update: bool = False) -> Execution | None:
        """``for_update`` locks the row on PostgreSQL until the transaction ends."""
        ...

    def get_executions(
        self, execution_ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Execution]:
        """The executions of ``execution_ids`` that exist, by id, read together (a bulk
        action's batch); ``for_update`` locks them, in id order, as :meth:`get_execution`."""
        ...

    def update_execution(self, execution: Execution) -> Execution:
        """Compare-and-set: write ``execution`` if the stored version still equals
        ``execution.version``; return it with ``version + 1``. Raises
        :class:`perch.errors.ConcurrentUpdate` when someone else wrote first."""
        ...

    def update_executions(self, executions: Sequence[Execution]) -> list[Execution]:
        """:meth:`update_execution` of each, together (a batch written at its commit);
        :class:`perch.errors.ConcurrentUpdate` when any of them changed meanwhile."""
        ...

    def search_executions(self, query: ExecutionQuery) -> Page: ...

    def execution_states(self, query: ExecutionQuery) -> list[tuple[str, StateType]]:
        """The id and state of every execution matching ``query``'s filters (every page, in
        its order)."""
        ...

    def delete_execution(self, execution_id: str) -> bool:
        """Remove the execution with its logs, files and pending work items (never its audit
        records); whether it existed."""
        ...

    # files (uploaded FILE inputs)
    def put_file(self, key: str, execution_id: str, content: bytes, created: datetime) -> None: ...

    def get_file(self, key: str) -> bytes | None: ...

    def file_execution(self, key: str) -> str | None:
        """The id of the execution the file ``key`` belongs to, or None."""
        ...

    def delete_file(self, key: str) -> bool:
        """Remove one file; whether it existed."""
        ...

    def count_active_executions(self, tenant: str, namespace: str, flow_id: str) -> int:
        """Executions of the flow that hold a concurrency slot (not terminated, not QUEUED)."""
        ...

    def oldest_queued_execution(
        self, tenant: str, namespace: str, flow_id: str, excluding: Collection[str] = ()
    ) -> str | None:
        """The flow's QUEUED execution that started first, leaving out ``excluding``."""
        ...

    def lock_flow_slots(self, tenant: str, namespace: str, flow_id: str) -> None:
        """Hold the flow's concurrency slots until the transaction ends, so that two
        transactions never both count the last free slot as theirs."""
        ...

    # work items
    def add_jobs(self, jobs: Sequence[Job]) -> None: ...

    def claim_jobs(
        self,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
        job_filter: JobFilter | None = None,
    ) -> list[Job]:
        """Claim up to ``limit`` jobs that are unclaimed or whose lease ended (SKIP LOCKED),
        of those ``job_filter`` accepts (all of them without it)."""
        ...

    def set_job_attempt(self, job_id: str, attempt: int) -> None:
        """Record which attempt a claimed job runs (a handed-back one, once continued)."""
        ...

    def release_jobs(self, worker_id: str, job_ids: Sequence[str]) -> int:
        """Hand jobs this worker holds back: claimable at once by any worker, their attempt
        marked :data:`HANDED_BACK_ATTEMPT` (the next claim continues it)."""
        ...

    # workers
    def register_worker(self, worker: WorkerInfo) -> None:
        """Write (or rewrite) the worker's row."""
        ...

    def heartbeat_worker(self, worker_id: str, now: datetime, expires: datetime) -> bool:
        """Push back the worker's expiry; False when its row is gone (it registers again)."""
        ...

    def remove_worker(self, worker_id: str) -> None:
        """Delete the worker's row (it stops)."""
        ...

    def live_worker_groups(self, now: datetime) -> frozenset[str]:
        """The worker groups with at least one worker that has not expired."""
        ...

    def list_workers(self, now: datetime) -> list[WorkerInfo]:
        """Workers that have not expired, oldest first (expired rows are removed)."""
        ...

    def extend_leases(
        self, worker_id: str, job_ids: Sequence[str], lease_until: datetime
    ) -> None: ...

    def delete_job(self, job_id: str) -> None: ...

    def add_timers(self, execution_id: str, timers: Sequence[ScheduleTimer]) -> None: ...

    def delete_timers(
        self, execution_id: str, task_run_ids: Sequence[str] | None = None
    ) -> None: ...

    def claim_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        """Remove and return up to ``limit`` timers due at or before ``now`` (SKIP LOCKED)."""
        ...

    def next_timer_due(self) -> datetime | None: ...

    def add_events(self, events: Sequence[QueuedEvent]) -> None: ...

    def claim_events(self, limit: int) -> ClaimedEvents:
        """Remove and return up to ``limit`` queued events, from the oldest on, oldest first.
        On PostgreSQL they are the events of the executions the transaction could lock (each
        execution's events together, executions in the order of their oldest event), and the
        events of executions another transaction holds are left to it (counted in ``left``)."""
        ...

    # logs and audit
    def add_logs(self, entries: Sequence[LogEntry]) -> None: ...

    def get_logs(
        self,
        execution_id: str,
        *,
        min_level: str | None = None,
        task_id: str | None = None,
    ) -> list[LogEntry]: ...

    def add_audit(self, execution_id: str | None, record: Audit, at: datetime) -> None: ...

    # triggers (see perch.engine.triggers)
    def sync_triggers(
        self, tenant: str, namespace: str, flow_id: str, rows: Sequence[TriggerRow]
    ) -> None:
        """Make the flow's trigger rows ``rows``: new ones inserted, gone ones removed, the
        others given the new revision and type (their state is kept)."""
        ...

    def flow_listeners(self, tenant: str, trigger_type: str) -> list[TriggerRow]:
        """The enabled triggers of ``trigger_type`` in ``tenant`` (the Flow triggers to
        evaluate)."""
        ...

    def get_trigger(
        self, key: tuple[str, str, str, str], *, for_update: bool = False
    ) -> TriggerRow | None: ...

    def update_trigger(self, row: TriggerRow) -> None:
        """Write the row's state, dates, backfill and ``disabled``."""
        ...

    def list_triggers(
        self, tenant: str, namespace: str | None = None, flow_id: str | None = None
    ) -> list[TriggerRow]: ...

    def due_triggers(self, types: Sequence[str], now: datetime, limit: int) -> list[TriggerRow]:
        """Enabled triggers of ``types`` whose ``next_date`` is at or before ``now``, locked
        (SKIP LOCKED: two schedulers never take the same one)."""
        ...

    def next_trigger_due(self, types: Sequence[str]) -> datetime | None: ...

    def deployment_counts(self) -> dict[str, dict[str, int]]:
        """Executions by state and work items waiting (for the metrics)."""
        ...

    # who may decide (see perch.engine.assignment)
    def decider(self, username: str, tenant: str) -> Decider | None:
        """The enabled user ``username``, with the names of their groups in ``tenant``."""
        ...


class Peeking(Protocol):
    """What a single-writer store's reading transaction offers the engine's units that read
        first and write last (:mod:`perch.engine.buffered`): work items read without claiming
        them, and removed (events, timers) or leased (jobs) by id in the writing transaction that
    follows."""

    def peek_events(self, limit: int) -> list[QueuedEvent]: ...

    def delete_event_ids(self, ids: Sequence[str]) -> int: ...

    def peek_due_timers(self, now: datetime, limit: int) -> list[Timer]: ...

    def delete_timer_ids(self, ids: Sequence[str]) -> int: ...

    def peek_jobs(
        self, now: datetime, limit: int, job_filter: JobFilter | None = None
    ) -> list[Job]: ...

    def lease_job_ids(
        self, worker_id: str, ids: Sequence[str], now: datetime, lease_until: datetime
    ) -> int: ...


class Store(Protocol):
    """A database: hands out transactions."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Begin a transaction; commit when the block ends normally, roll back on error."""
        ...
