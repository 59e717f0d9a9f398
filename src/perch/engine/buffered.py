"""Units of work that read first and write last, on a store with a single writer (SQLite).

SQLite has one write lock for the whole database. A unit of work that held it while rendering
templates (an ``If`` condition, a ``runIf``, a ``Log`` message run inline) made every other
execution's create, resume and deploy wait for that rendering. A :class:`BufferedTransaction`
instead runs the unit against a reading transaction (readers never wait for the writer, nor
it for them) and keeps every write it asks for; when the unit ends it takes the write lock,
replays the writes in their order and writes the executions with their compare-and-set, which
fails, and the unit is retried from a fresh read, if anyone changed them in between. Work items
the unit consumed (queued events, due timers) are removed by id in that same write, and a
missing one is a conflict too, so nothing is delivered twice.

A unit that writes something not kept here takes the write lock at that point
(:meth:`BufferedTransaction.upgrade`) and goes on directly in the writing transaction. What a
unit reads that others' writes could change under it is read again under the write lock, and
another answer there is a conflict: the concurrency slots a start counts (the unit adds its own
unwritten changes), the oldest queued execution an ended one wakes (leaving out those the unit
has moved on). A worker's claim reads jobs and leases them by id when it writes (jobs the unit
wrote itself it claims from memory); the units of one process skip the jobs another has read.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, cast

from perch.engine.assignment import Decider
from perch.engine.effects import Audit, ScheduleTimer
from perch.engine.jobfilter import JobFilter
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import (
    ClaimedEvents,
    ExecutionQuery,
    Job,
    Page,
    Peeking,
    QueuedEvent,
    Store,
    StoredFlow,
    Timer,
    Transaction,
    TriggerRow,
    WorkerInfo,
)
from perch.engine.states import StateType
from perch.errors import ConcurrentUpdate

Write = Callable[[Transaction], None]

OPTIMISTIC_CONFLICTS = 2
"""Conflicts in a row after which a thread's next unit takes the write lock at once (so a unit
that keeps losing to others still finishes: it then waits for the lock like any writer)."""

_conflicts = threading.local()

_reserving = threading.Lock()
_reserved: dict[int, set[str]] = {}
"""Per store (by id), the jobs that buffered units of this process have read to claim and not
yet written: another unit reads past them instead of losing the claim to a conflict. The
write checks the lease anyway; a single-writer store has a single process writing it."""


def buffers(store: Store) -> bool:
    """Whether units on ``store`` read first and write last (a single-writer store whose
    reading transactions can peek at work items), given this thread's recent conflicts."""
    if not getattr(store, "single_writer", False):
        return False
    return int(getattr(_conflicts, "count", 0)) < OPTIMISTIC_CONFLICTS


def buffering(tx: object) -> bool:
    """Whether ``tx`` is a unit's transaction that has not written yet."""
    return isinstance(tx, BufferedTransaction) and not tx.direct


def record_outcome(*, conflicted: bool) -> None:
    """Count a buffered unit's compare-and-set conflict (or reset the count after a success)."""
    _conflicts.count = int(getattr(_conflicts, "count", 0)) + 1 if conflicted else 0


class BufferedTransaction:
    """A :class:`perch.engine.ports.Transaction` that reads from a reading transaction and
    keeps its writes until :meth:`upgrade`, which opens the writing transaction and replays
    them; from then on everything goes to the writing transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        reader = store.transaction(readonly=True)  # type: ignore[call-arg]
        self._open: AbstractContextManager[Transaction] = reader
        self._tx: Transaction = reader.__enter__()
        self._writes: list[Write] = []
        self._reserved: list[str] = []
        self._deleted_jobs: set[str] = set()
        """Jobs this unit removed (a result reported): never claimed again by it."""
        self.direct = False
        """Whether the writing transaction is open (and everything now goes to it)."""
        self._marks: list[_Mark] = []
        """The savepoints open while the writes are kept, innermost last."""

    # --- the transaction's life ------------------------------------------------------------

    def upgrade(self) -> None:
        """Open the writing transaction (taking the write lock) and replay the kept writes."""
        if self.direct:
            return
        self._open.__exit__(None, None, None)
        writer = self._store.transaction()
        self._tx = writer.__enter__()
        self._open = writer
        self.direct = True
        writes, self._writes = self._writes, []
        done = 0
        for mark in self._marks:
            # The writes kept before each open savepoint, then that savepoint in the database.
            for write in writes[done : mark.writes]:
                write(self._tx)
            done = mark.writes
            mark.opened = self._tx.savepoint()
            mark.opened.__enter__()
        for write in writes[done:]:
            write(self._tx)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A block whose writes are dropped when it raises: the kept ones are cut back, and
        once the writing transaction is open (before the block or in it) a savepoint of the
        database undoes the rest."""
        if self.direct:
            with self._tx.savepoint():
                yield
            return
        mark = _Mark(len(self._writes))
        self._marks.append(mark)
        try:
            yield
        except BaseException as exc:
            if mark.opened is not None:
                mark.opened.__exit__(type(exc), exc, exc.__traceback__)
            else:
                del self._writes[mark.writes :]
            raise
        else:
            if mark.opened is not None:
                mark.opened.__exit__(None, None, None)
        finally:
            self._marks.remove(mark)

    def close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit (no exception) or roll back the transaction open now."""
        try:
            self._open.__exit__(exc_type, exc, tb)
        finally:
            if self._reserved:
                with _reserving:
                    held = _reserved.get(id(self._store), set())
                    held.difference_update(self._reserved)
                    if not held:
                        _reserved.pop(id(self._store), None)
                self._reserved = []

    def _keep(self, write: Write) -> None:
        if self.direct:
            write(self._tx)
        else:
            self._writes.append(write)

    def _peeking(self) -> Peeking:
        return cast(Peeking, self._tx)

    def __getattr__(self, name: str) -> Any:
        # Anything not listed below may write: it goes to the writing transaction.
        if name.startswith("_"):
            raise AttributeError(name)
        self.upgrade()
        return getattr(self._tx, name)

    # --- reads -----------------------------------------------------------------------------

    def get_flow(
        self, tenant: str, namespace: str, flow_id: str, revision: int | None = None
    ) -> StoredFlow | None:
        return self._tx.get_flow(tenant, namespace, flow_id, revision)

    def list_flows(self, tenant: str, namespace_prefix: str | None = None) -> list[StoredFlow]:
        return self._tx.list_flows(tenant, namespace_prefix)

    def list_flow_revisions(self, tenant: str, namespace: str, flow_id: str) -> list[StoredFlow]:
        return self._tx.list_flow_revisions(tenant, namespace, flow_id)

    def deployment_counts(self) -> dict[str, dict[str, int]]:
        return self._tx.deployment_counts()

    def flow_listeners(self, tenant: str, trigger_type: str) -> list[TriggerRow]:
        return self._tx.flow_listeners(tenant, trigger_type)

    def list_triggers(
        self, tenant: str, namespace: str | None = None, flow_id: str | None = None
    ) -> list[TriggerRow]:
        return self._tx.list_triggers(tenant, namespace, flow_id)

    def get_execution(self, execution_id: str, *, for_update: bool = False) -> Execution | None:
        return self._tx.get_execution(execution_id, for_update=for_update)

    def get_executions(
        self, execution_ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Execution]:
        return self._tx.get_executions(execution_ids, for_update=for_update)

    def search_executions(self, query: ExecutionQuery) -> Page:
        return self._tx.search_executions(query)

    def execution_states(self, query: ExecutionQuery) -> list[tuple[str, StateType]]:
        return self._tx.execution_states(query)

    def get_file(self, key: str) -> bytes | None:
        return self._tx.get_file(key)

    def file_execution(self, key: str) -> str | None:
        return self._tx.file_execution(key)

    def delete_file(self, key: str) -> bool:
        return self._tx.delete_file(key)

    def decider(self, username: str, tenant: str) -> Decider | None:
        return self._tx.decider(username, tenant)

    def live_worker_groups(self, now: datetime) -> frozenset[str]:
        return self._tx.live_worker_groups(now)

    def list_workers(self, now: datetime) -> list[WorkerInfo]:
        return self._tx.list_workers(now)

    def next_timer_due(self) -> datetime | None:
        return self._tx.next_timer_due()

    def get_logs(
        self, execution_id: str, *, min_level: str | None = None, task_id: str | None = None
    ) -> list[LogEntry]:
        return self._tx.get_logs(execution_id, min_level=min_level, task_id=task_id)

    # --- writes kept until the end ---------------------------------------------------------

    def add_audit(self, execution_id: str | None, record: Audit, at: datetime) -> None:
        self._keep(lambda tx: tx.add_audit(execution_id, record, at))

    def add_logs(self, entries: Sequence[LogEntry]) -> None:
        self._keep(lambda tx: tx.add_logs(entries))

    def add_events(self, events: Sequence[QueuedEvent]) -> None:
        self._keep(lambda tx: tx.add_events(events))

    def add_timers(self, execution_id: str, timers: Sequence[ScheduleTimer]) -> None:
        self._keep(lambda tx: tx.add_timers(execution_id, timers))

    def delete_timers(self, execution_id: str, task_run_ids: Sequence[str] | None = None) -> None:
        self._keep(lambda tx: tx.delete_timers(execution_id, task_run_ids))

    def delete_job(self, job_id: str) -> None:
        self._deleted_jobs.add(job_id)
        self._keep(lambda tx: tx.delete_job(job_id))

    def add_jobs(self, jobs: Sequence[Job]) -> None:
        # A unit claims the jobs it writes itself from memory (Written.claim_own_jobs).
        self._keep(lambda tx: tx.add_jobs(jobs))

    def put_file(self, key: str, execution_id: str, content: bytes, created: datetime) -> None:
        # Uploads are read back by later requests only, never by the unit that stores them.
        self._keep(lambda tx: tx.put_file(key, execution_id, content, created))

    def claim_events(self, limit: int) -> ClaimedEvents:
        if self.direct:
            return self._tx.claim_events(limit)
        events = self._peeking().peek_events(limit)
        self._keep(_removing(lambda tx, ids: cast(Peeking, tx).delete_event_ids(ids), events))
        return ClaimedEvents(events)

    def claim_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        if self.direct:
            return self._tx.claim_due_timers(now, limit)
        timers = self._peeking().peek_due_timers(now, limit)
        self._keep(_removing(lambda tx, ids: cast(Peeking, tx).delete_timer_ids(ids), timers))
        return timers

    # --- writes that need the writing transaction now --------------------------------------

    def _now(self) -> Transaction:
        self.upgrade()
        return self._tx

    def save_flow(self, flow: StoredFlow) -> StoredFlow:
        return self._now().save_flow(flow)

    def delete_flow(self, tenant: str, namespace: str, flow_id: str) -> bool:
        return self._now().delete_flow(tenant, namespace, flow_id)

    def sync_triggers(
        self, tenant: str, namespace: str, flow_id: str, rows: Sequence[TriggerRow]
    ) -> None:
        self._now().sync_triggers(tenant, namespace, flow_id, rows)

    def get_trigger(
        self, key: tuple[str, str, str, str], *, for_update: bool = False
    ) -> TriggerRow | None:
        # Read under the write lock: what it says is about to be updated.
        return self._now().get_trigger(key, for_update=for_update)

    def update_trigger(self, row: TriggerRow) -> None:
        self._now().update_trigger(row)

    def due_triggers(self, types: Sequence[str], now: datetime, limit: int) -> list[TriggerRow]:
        return self._now().due_triggers(types, now, limit)

    def next_trigger_due(self, types: Sequence[str]) -> datetime | None:
        return self._tx.next_trigger_due(types)

    def insert_execution(self, execution: Execution) -> None:
        self._now().insert_execution(execution)

    def update_execution(self, execution: Execution) -> Execution:
        return self._now().update_execution(execution)

    def update_executions(self, executions: Sequence[Execution]) -> list[Execution]:
        return self._now().update_executions(executions)

    def delete_execution(self, execution_id: str) -> bool:
        return self._now().delete_execution(execution_id)

    def count_active_executions(self, tenant: str, namespace: str, flow_id: str) -> int:
        """Counted in the reading transaction (without this unit's own changes, which the
        caller adds: :meth:`perch.engine.written.Written.slot_change`) and counted again under
        the write lock: a different count there is a conflict, and the unit is retried."""
        if self.direct:
            return self._tx.count_active_executions(tenant, namespace, flow_id)
        counted = self._tx.count_active_executions(tenant, namespace, flow_id)

        def recount(tx: Transaction) -> None:
            if tx.count_active_executions(tenant, namespace, flow_id) != counted:
                raise ConcurrentUpdate(f"the slots of flow '{namespace}.{flow_id}' changed")

        self._keep(recount)
        return counted

    def oldest_queued_execution(
        self, tenant: str, namespace: str, flow_id: str, excluding: Collection[str] = ()
    ) -> str | None:
        """Read in the reading transaction (``excluding`` what the unit has moved on but not
        written) and read again under the write lock: another answer there is a conflict (a
        wake-up sent to an execution someone else started meanwhile would be lost)."""
        if self.direct:
            return self._tx.oldest_queued_execution(tenant, namespace, flow_id, excluding)
        found = self._tx.oldest_queued_execution(tenant, namespace, flow_id, excluding)
        kept = frozenset(excluding)

        def again(tx: Transaction) -> None:
            if tx.oldest_queued_execution(tenant, namespace, flow_id, kept) != found:
                raise ConcurrentUpdate(f"the queue of flow '{namespace}.{flow_id}' changed")

        self._keep(again)
        return found

    def lock_flow_slots(self, tenant: str, namespace: str, flow_id: str) -> None:
        if self.direct:
            self._tx.lock_flow_slots(tenant, namespace, flow_id)
        # Buffering: the write lock serialises the writes, and the count is checked again there.

    def claim_jobs(
        self,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
        job_filter: JobFilter | None = None,
    ) -> list[Job]:
        """Read the oldest claimable jobs no other unit of this process has read, and lease
        them when the unit writes; one leased by someone else meanwhile is a conflict."""
        if self.direct:
            return self._tx.claim_jobs(worker_id, limit, now, lease_until, job_filter)
        if limit <= 0:
            return []
        key = id(self._store)
        with _reserving:
            skipped = len(_reserved.get(key, ()))
        peeked = self._peeking().peek_jobs(
            now, limit + skipped + len(self._deleted_jobs), job_filter
        )
        with _reserving:
            held = _reserved.setdefault(key, set())
            chosen = [
                job for job in peeked if job.id not in held and job.id not in self._deleted_jobs
            ][:limit]
            held.update(job.id for job in chosen)
        self._reserved.extend(job.id for job in chosen)
        ids = [job.id for job in chosen]

        def lease(tx: Transaction) -> None:
            if cast(Peeking, tx).lease_job_ids(worker_id, ids, now, lease_until) != len(ids):
                raise ConcurrentUpdate("a job read by this unit was claimed by another")

        if ids:
            self._keep(lease)
        return [
            dataclasses.replace(job, worker_id=worker_id, lease_until=lease_until) for job in chosen
        ]

    def extend_leases(self, worker_id: str, job_ids: Sequence[str], lease_until: datetime) -> None:
        self._now().extend_leases(worker_id, job_ids, lease_until)


@dataclasses.dataclass
class _Mark:
    """A savepoint of a buffered unit: how many writes were kept when it began, and the
    database's savepoint once the writing transaction opened inside it."""

    writes: int
    opened: AbstractContextManager[None] | None = None


def _removing(
    delete: Callable[[Transaction, list[str]], int], items: Sequence[QueuedEvent | Timer]
) -> Write:
    """The write that removes work items read (not claimed) by a buffered unit: if any is gone,
    someone else consumed it after the read, and the unit is retried."""
    ids = [item.id for item in items]

    def remove(tx: Transaction) -> None:
        if delete(tx, ids) != len(ids):
            raise ConcurrentUpdate("a work item read by this unit was consumed by another")

    return remove
