"""Work items: worker jobs with leases, timers, and the event outbox.

Claims are one statement each: pick the oldest rows, skipping the ones another transaction has
locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has a single writer and ignores the
clause), and update or delete them, returning what was claimed. Events on PostgreSQL are
claimed by execution instead (:mod:`perch.store.eventclaim`): two executors must not take two
events of one execution.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    bindparam,
    func,
    or_,
    select,
)

from perch.engine.effects import ScheduleTimer
from perch.engine.jobfilter import JobFilter, like_pattern, like_prefix
from perch.engine.ports import HANDED_BACK_ATTEMPT, ClaimedEvents, Job, QueuedEvent, Timer
from perch.store.codec import decode_event, dumps, encode_event, loads
from perch.store.eventclaim import claim_locked
from perch.store.prepared import Prepared
from perch.store.schema import UtcDateTime, events, jobs, timers
from perch.store.sealing import Sealer

_JOB_COLUMNS = (
    jobs.c.id,
    jobs.c.execution_id,
    jobs.c.task_run_id,
    jobs.c.task_id,
    jobs.c.attempt,
    jobs.c.created,
    jobs.c.worker_id,
    jobs.c.lease_until,
    jobs.c.worker_group,
    jobs.c.task_type,
    jobs.c.namespace,
)
_NOW = bindparam("b_now", type_=UtcDateTime())
_LIMIT = bindparam("b_limit", type_=Integer())


def _filtered(job_filter: JobFilter | None) -> list[ColumnElement[bool]]:
    """The WHERE terms of a worker's filter (none for the recovery that takes every job)."""
    if job_filter is None:
        return []
    terms: list[ColumnElement[bool]] = [
        jobs.c.worker_group.is_(None)
        if job_filter.group is None
        else jobs.c.worker_group == job_filter.group
    ]
    if job_filter.task_types:
        terms.append(
            or_(
                *(
                    jobs.c.task_type.like(like_pattern(p), escape="\\")
                    if "*" in p
                    else jobs.c.task_type == p
                    for p in job_filter.task_types
                )
            )
        )
    if job_filter.namespaces:
        terms.append(
            or_(
                *(
                    or_(jobs.c.namespace == ns, jobs.c.namespace.like(like_prefix(ns), escape="\\"))
                    for ns in job_filter.namespaces
                )
            )
        )
    return terms


def _claim_statement(job_filter: JobFilter | None) -> Prepared:
    return Prepared(
        jobs.update()
        .where(
            jobs.c.id.in_(
                select(jobs.c.id)
                .where(
                    or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < _NOW),
                    *_filtered(job_filter),
                )
                .order_by(jobs.c.created)
                .limit(_LIMIT)
                .with_for_update(skip_locked=True)
            )
        )
        .values(worker_id=bindparam("b_worker"), lease_until=bindparam("b_lease"))
        .returning(*_JOB_COLUMNS)
    )


@functools.lru_cache(maxsize=64)
def _claim_for(job_filter: JobFilter | None) -> Prepared:
    """The claim statement of one filter, compiled once (a worker's filter never changes)."""
    return _claim_statement(job_filter)


@functools.lru_cache(maxsize=64)
def _peek_for(job_filter: JobFilter | None) -> Any:
    return (
        select(*_JOB_COLUMNS)
        .where(_CLAIMABLE, *_filtered(job_filter))
        .order_by(jobs.c.created)
        .limit(_LIMIT)
    )


_RELEASE_JOBS = (
    jobs.update()
    .where(
        jobs.c.id.in_(bindparam("b_ids", expanding=True)),
        jobs.c.worker_id == bindparam("b_worker"),
    )
    .values(worker_id=None, lease_until=None, attempt=HANDED_BACK_ATTEMPT)
)
_SET_JOB_ATTEMPT = (
    jobs.update().where(jobs.c.id == bindparam("b_id")).values(attempt=bindparam("b_attempt"))
)
_CLAIM_TIMERS = (
    timers.delete()
    .where(
        timers.c.id.in_(
            select(timers.c.id)
            .where(timers.c.due <= _NOW)
            .order_by(timers.c.due)
            .limit(_LIMIT)
            .with_for_update(skip_locked=True)
        )
    )
    .returning(
        timers.c.id,
        timers.c.execution_id,
        timers.c.due,
        timers.c.action,
        timers.c.task_run_id,
        timers.c.payload,
    )
)
_NEXT_DUE = select(func.min(timers.c.due))
_PEEK_TIMERS = (
    select(
        timers.c.id,
        timers.c.execution_id,
        timers.c.due,
        timers.c.action,
        timers.c.task_run_id,
        timers.c.payload,
    )
    .where(timers.c.due <= _NOW)
    .order_by(timers.c.due)
    .limit(_LIMIT)
)
_PEEK_EVENTS = (
    select(events.c.seq, events.c.id, events.c.execution_id, events.c.payload)
    .order_by(events.c.seq)
    .limit(_LIMIT)
)
_IDS: BindParameter[str] = bindparam("b_ids", expanding=True)
_DELETE_TIMER_IDS = timers.delete().where(timers.c.id.in_(_IDS))
_DELETE_EVENT_IDS = events.delete().where(events.c.id.in_(_IDS))
_CLAIMABLE = or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < _NOW)
_LEASE_JOB_IDS = (
    jobs.update()
    .where(jobs.c.id.in_(_IDS), _CLAIMABLE)
    .values(worker_id=bindparam("b_worker"), lease_until=bindparam("b_lease"))
)
_CLAIM_EVENTS = (
    events.delete()
    .where(
        events.c.seq.in_(
            select(events.c.seq)
            .order_by(events.c.seq)
            .limit(_LIMIT)
            .with_for_update(skip_locked=True)
        )
    )
    .returning(events.c.seq, events.c.id, events.c.execution_id, events.c.payload)
)
_INSERT_JOB = jobs.insert()
_EXTEND_LEASES = (
    jobs.update()
    .where(
        jobs.c.id.in_(bindparam("b_ids", expanding=True)),
        jobs.c.worker_id == bindparam("b_worker"),
    )
    .values(lease_until=bindparam("b_lease", type_=UtcDateTime()))
)
_DELETE_JOB = jobs.delete().where(jobs.c.id == bindparam("b_id"))
_INSERT_TIMER = timers.insert()
_PREPARED_INSERT_JOB = Prepared(_INSERT_JOB, [c.name for c in jobs.c])
_PREPARED_DELETE_JOB = Prepared(_DELETE_JOB)
_DELETE_TIMERS = timers.delete().where(timers.c.execution_id == bindparam("b_execution"))
_DELETE_RUN_TIMERS = _DELETE_TIMERS.where(
    timers.c.task_run_id.in_(bindparam("b_runs", expanding=True))
)
_INSERT_EVENT = events.insert()


class WorkQueue:
    """The job, timer and event methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection
    _sealer: Sealer | None
    dialect: str

    # --- jobs -------------------------------------------------------------------------------

    def add_jobs(self, jobs_: Sequence[Job]) -> None:
        """Queue jobs (one batched INSERT)."""
        if not jobs_:
            return
        _PREPARED_INSERT_JOB.many(
            self._conn,
            [
                {
                    "id": j.id,
                    "execution_id": j.execution_id,
                    "task_run_id": j.task_run_id,
                    "task_id": j.task_id,
                    "attempt": j.attempt,
                    "created": j.created,
                    "worker_id": j.worker_id,
                    "lease_until": j.lease_until,
                    "worker_group": j.worker_group,
                    "task_type": j.task_type,
                    "namespace": j.namespace,
                }
                for j in jobs_
            ],
        )

    def claim_jobs(
        self,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
        job_filter: JobFilter | None = None,
    ) -> list[Job]:
        """Lease up to ``limit`` of the oldest jobs that are unclaimed or whose lease ended,
        of those ``job_filter`` accepts (every job without it)."""
        if limit <= 0:
            return []
        params = {"b_now": now, "b_limit": limit, "b_worker": worker_id, "b_lease": lease_until}
        claimed = [Job(*row) for row in _claim_for(job_filter).rows(self._conn, params)]
        claimed.sort(key=lambda job: job.created)
        return claimed

    def set_job_attempt(self, job_id: str, attempt: int) -> None:
        """Record which attempt a claimed job runs."""
        self._conn.execute(_SET_JOB_ATTEMPT, {"b_id": job_id, "b_attempt": attempt})

    def release_jobs(self, worker_id: str, job_ids: Sequence[str]) -> int:
        """Hand back jobs this worker holds: claimable by any worker at once, marked so the
        next claim continues their attempt (a hand-back is not a lost worker)."""
        if not job_ids:
            return 0
        params = {"b_ids": list(job_ids), "b_worker": worker_id}
        return int(self._conn.execute(_RELEASE_JOBS, params).rowcount)

    def peek_jobs(
        self, now: datetime, limit: int, job_filter: JobFilter | None = None
    ) -> list[Job]:
        """Up to ``limit`` of the oldest claimable jobs ``job_filter`` accepts, left as they
        are (a reading transaction leases them later with :meth:`lease_job_ids`)."""
        if limit <= 0:
            return []
        rows = self._conn.execute(_peek_for(job_filter), {"b_now": now, "b_limit": limit})
        return [Job(*row) for row in rows]

    def lease_job_ids(
        self, worker_id: str, ids: Sequence[str], now: datetime, lease_until: datetime
    ) -> int:
        """Lease these jobs to ``worker_id``; how many were still claimable."""
        if not ids:
            return 0
        params = {"b_ids": list(ids), "b_now": now, "b_worker": worker_id, "b_lease": lease_until}
        return int(self._conn.execute(_LEASE_JOB_IDS, params).rowcount)

    def extend_leases(self, worker_id: str, job_ids: Sequence[str], lease_until: datetime) -> None:
        """Push back the lease of jobs this worker still holds."""
        if not job_ids:
            return
        self._conn.execute(
            _EXTEND_LEASES, {"b_ids": list(job_ids), "b_worker": worker_id, "b_lease": lease_until}
        )

    def delete_job(self, job_id: str) -> None:
        """Remove a finished (or abandoned) job."""
        _PREPARED_DELETE_JOB.rowcount(self._conn, {"b_id": job_id})

    # --- timers -----------------------------------------------------------------------------

    def add_timers(self, execution_id: str, timers_: Sequence[ScheduleTimer]) -> None:
        """Write timer rows for an execution."""
        if not timers_:
            return
        self._conn.execute(
            _INSERT_TIMER,
            [
                {
                    "id": t.timer_id,
                    "execution_id": execution_id,
                    "task_run_id": t.task_run_id,
                    "due": t.due,
                    "action": t.action,
                    "payload": dumps(t.payload),
                }
                for t in timers_
            ],
        )

    def delete_timers(self, execution_id: str, task_run_ids: Sequence[str] | None = None) -> None:
        """Cancel the execution's timers (only those of ``task_run_ids`` when given)."""
        if task_run_ids is None:
            self._conn.execute(_DELETE_TIMERS, {"b_execution": execution_id})
        elif task_run_ids:
            self._conn.execute(
                _DELETE_RUN_TIMERS, {"b_execution": execution_id, "b_runs": list(task_run_ids)}
            )

    def claim_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        """Remove and return up to ``limit`` timers due at or before ``now``, earliest first."""
        if limit <= 0:
            return []
        rows = self._conn.execute(_CLAIM_TIMERS, {"b_now": now, "b_limit": limit})
        claimed = [_timer(row) for row in rows]
        claimed.sort(key=lambda timer: timer.due)
        return claimed

    def peek_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        """Up to ``limit`` timers due at or before ``now``, earliest first, left in place (a
        reading transaction removes them later with :meth:`delete_timer_ids`)."""
        if limit <= 0:
            return []
        rows = self._conn.execute(_PEEK_TIMERS, {"b_now": now, "b_limit": limit})
        return [_timer(row) for row in rows]

    def delete_timer_ids(self, ids: Sequence[str]) -> int:
        """Remove these timers; how many were still there."""
        if not ids:
            return 0
        return int(self._conn.execute(_DELETE_TIMER_IDS, {"b_ids": list(ids)}).rowcount)

    def next_timer_due(self) -> datetime | None:
        """When the earliest timer is due (None when there is none)."""
        due: datetime | None = self._conn.execute(_NEXT_DUE).scalar()
        return due

    # --- events -----------------------------------------------------------------------------

    def add_events(self, events_: Sequence[QueuedEvent]) -> None:
        """Append events to the outbox."""
        if not events_:
            return
        self._conn.execute(
            _INSERT_EVENT,
            [
                {
                    "id": e.id,
                    "execution_id": e.execution_id,
                    "payload": encode_event(e.event, self._sealer),
                }
                for e in events_
            ],
        )

    def peek_events(self, limit: int) -> list[QueuedEvent]:
        """Up to ``limit`` queued events, oldest first, left in place (removed later with
        :meth:`delete_event_ids`)."""
        if limit <= 0:
            return []
        rows = self._conn.execute(_PEEK_EVENTS, {"b_limit": limit})
        return [self._event(row) for row in rows]

    def delete_event_ids(self, ids: Sequence[str]) -> int:
        """Remove these events; how many were still there."""
        if not ids:
            return 0
        return int(self._conn.execute(_DELETE_EVENT_IDS, {"b_ids": list(ids)}).rowcount)

    def claim_events(self, limit: int) -> ClaimedEvents:
        """Remove and return up to ``limit`` queued events, from the oldest on, oldest first;
        on PostgreSQL those of the executions this transaction could lock, each execution's
        together (:mod:`perch.store.eventclaim`)."""
        if limit <= 0:
            return ClaimedEvents()
        if self.dialect == "postgresql":
            locked, left = claim_locked(self._conn, limit)
            return ClaimedEvents((self._event(row) for row in locked), left=left)
        rows = sorted(
            self._conn.execute(_CLAIM_EVENTS, {"b_limit": limit}), key=lambda row: row.seq
        )
        return ClaimedEvents(self._event(row) for row in rows)

    def _event(self, row: Any) -> QueuedEvent:
        return QueuedEvent(row.id, row.execution_id, decode_event(row.payload, self._sealer))


def _timer(row: Any) -> Timer:
    return Timer(
        id=row.id,
        execution_id=row.execution_id,
        due=row.due,
        action=row.action,
        task_run_id=row.task_run_id,
        payload=loads(row.payload),
    )
