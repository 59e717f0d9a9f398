"""One unit of work inside a transaction: the executions it changed and the rows to insert,
written once before the commit (:class:`Written`, :func:`unit`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from perch.engine.buffered import BufferedTransaction, buffers, record_outcome
from perch.engine.jobfilter import JobFilter
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Job, Store, Transaction
from perch.engine.states import StateType
from perch.errors import ConcurrentUpdate


@dataclass
class Written:
    """One unit of work inside a transaction: executions changed and rows to insert, written
    by :meth:`flush` before the commit, and what to wake after it.

    Executions are written once per transaction however many transitions they went through
    (a worker reporting one task and starting the next, a batch of events), each with one
    compare-and-set on the version it was read at; jobs and log lines are inserted in one
    statement each.
    """

    channels: set[str] = field(default_factory=set)
    killed: list[str] = field(default_factory=list)
    jobs: int = 0
    """Jobs written and not claimed by the writer itself (how many workers to wake)."""
    seen: dict[str, Execution] = field(default_factory=dict)
    """Executions as they are now in this transaction (flushed or not)."""
    touched: set[str] = field(default_factory=set)
    """Executions written (state or log lines) in this transaction, for the change listeners."""
    _base: dict[str, int] = field(default_factory=dict)
    _originals: dict[str, Execution] = field(default_factory=dict)
    """Executions as read before this unit first staged them."""
    _dirty: set[str] = field(default_factory=set)
    _inserts: dict[str, Execution] = field(default_factory=dict)
    _jobs: list[Job] = field(default_factory=list)
    _logs: list[LogEntry] = field(default_factory=list)
    _dispatched: list[Job] = field(default_factory=list)
    """Dispatches the inline runner has yet to run or turn into jobs."""
    _applying: bool = False
    """An :func:`apply_in` with an inline runner is under way (its nested applies add to
    ``_dispatched``, the outermost one runs them)."""
    _outer: Written | None = None
    """The unit of the whole transaction, for the unit of one execution of a batch
    (:meth:`part`): what that one loads, it sees as the whole unit has staged it."""

    def part(self) -> Written:
        """A unit for one execution of a batch, taken over by :meth:`absorb` when that
        execution's changes are kept (dropped with its savepoint otherwise)."""
        return Written(_outer=self)

    def load(self, tx: Transaction, execution_id: str) -> Execution | None:
        """The execution as this transaction sees it (read and locked on first use)."""
        execution = self.seen.get(execution_id)
        if execution is None and self._outer is not None:
            execution = self._outer.seen.get(execution_id)
        if execution is None:
            execution = tx.get_execution(execution_id, for_update=True)
            if execution is not None:
                self.seen[execution_id] = execution
        return execution

    def preload(self, executions: dict[str, Execution]) -> None:
        """Executions already read and locked in this transaction (a batch read at once)."""
        for execution_id, execution in executions.items():
            self.seen.setdefault(execution_id, execution)

    def absorb(self, other: Written) -> None:
        """Take over what ``other``, the unit of one execution of a batch (kept only if that
        execution's savepoint held), staged in the same transaction."""
        self.channels |= other.channels
        self.killed.extend(other.killed)
        self.jobs += other.jobs
        self.seen.update(other.seen)
        self.touched |= other.touched
        for execution_id, version in other._base.items():
            self._base.setdefault(execution_id, version)
        for execution_id, original in other._originals.items():
            self._originals.setdefault(execution_id, original)
        self._dirty |= other._dirty
        self._inserts.update(other._inserts)
        self._jobs.extend(other._jobs)
        self._logs.extend(other._logs)
        self._dispatched.extend(other._dispatched)

    def insert(self, execution: Execution) -> None:
        """A new execution: inserted at the flush, in its latest staged state (one write)."""
        self._inserts[execution.id] = execution
        self.seen[execution.id] = execution
        self.touched.add(execution.id)

    def stage(self, before: Execution, after: Execution) -> Execution:
        """Record ``after`` as the new state of ``before``; it is returned with the version it
        will have once flushed."""
        base = self._base.setdefault(before.id, before.version)
        if before.id not in self._inserts:
            self._originals.setdefault(before.id, before)
        staged = after.with_version(base + 1)
        self.seen[before.id] = staged
        self.touched.add(before.id)
        if before.id in self._inserts:
            self._inserts[before.id] = staged
        else:
            self._dirty.add(before.id)
        return staged

    def slot_change(self, tenant: str, namespace: str, flow_id: str) -> int:
        """How many concurrency slots of the flow this unit's unwritten changes take (or free,
        when negative): what a count read before them must add."""
        change = 0
        for execution_id, execution in self._of_flow(tenant, namespace, flow_id):
            if execution_id in self._inserts:
                change += _holds_slot(execution)
            elif execution_id in self._dirty:
                change += _holds_slot(execution) - _holds_slot(self._originals[execution_id])
        return change

    def _of_flow(
        self, tenant: str, namespace: str, flow_id: str
    ) -> Iterator[tuple[str, Execution]]:
        key = (tenant, namespace, flow_id)
        for execution_id, execution in self.seen.items():
            if (execution.tenant, execution.namespace, execution.flow_id) == key:
                yield execution_id, execution

    def moved_from_queue(self) -> set[str]:
        """Executions this unit changed that are not QUEUED now (some may still be QUEUED in
        the database, until the flush)."""
        return {
            execution_id
            for execution_id, execution in self.seen.items()
            if execution.state.current is not StateType.QUEUED
        }

    def add_jobs(self, jobs: list[Job]) -> None:
        self._jobs.extend(jobs)
        self.jobs += len(jobs)

    def claim_own_jobs(
        self,
        worker_id: str,
        limit: int,
        lease_until: datetime,
        job_filter: JobFilter | None = None,
        accept: Callable[[Job], bool] | None = None,
    ) -> list[Job]:
        """Lease up to ``limit`` of the jobs this unit wrote that nobody holds and
        ``job_filter`` (and ``accept``, when given) accepts: they are written leased at the
        flush (no other transaction can see them before)."""
        claimed: list[Job] = []
        for index, job in enumerate(self._jobs):
            if len(claimed) >= limit:
                break
            if job_filter is not None and not job_filter.matches(
                job.worker_group, job.task_type, job.namespace
            ):
                continue
            if accept is not None and not accept(job):
                continue
            if job.worker_id is None:
                leased = replace(job, worker_id=worker_id, lease_until=lease_until)
                self._jobs[index] = leased
                claimed.append(leased)
        self.jobs = max(0, self.jobs - len(claimed))
        return claimed

    def hand_back_job(self, tx: Transaction, job: Job, worker_id: str, ended: datetime) -> None:
        """Give back a job ``worker_id`` claimed but did not start: its lease ends at
        ``ended`` (a time already past), and the commit wakes the workers to claim it."""
        self.hand_back_jobs(tx, [job], worker_id, ended)

    def hand_back_jobs(
        self, tx: Transaction, jobs: list[Job], worker_id: str, ended: datetime
    ) -> None:
        """:meth:`hand_back_job` for several jobs, in one statement."""
        if not jobs:
            return
        ids = {job.id for job in jobs}
        own: set[str] = set()
        for index, job in enumerate(self._jobs):
            if job.id in ids:
                self._jobs[index] = replace(job, worker_id=None, lease_until=None)
                own.add(job.id)
        others = [job.id for job in jobs if job.id not in own]
        if others:
            tx.extend_leases(worker_id, others, ended)
        self.jobs += len(jobs)

    def remove_job(self, tx: Transaction, job_id: str) -> None:
        """Remove a finished (or dropped) job: one this unit wrote is simply not written."""
        kept = [job for job in self._jobs if job.id != job_id]
        if len(kept) == len(self._jobs):
            tx.delete_job(job_id)
        self._jobs = kept

    def queues_unwritten(self, tenant: str, namespace: str, flow_id: str) -> bool:
        """Whether this unit put an execution of the flow in QUEUED that the database does not
        show QUEUED yet (a new one, or one it moved there)."""
        for execution_id, execution in self._of_flow(tenant, namespace, flow_id):
            if execution.state.current is not StateType.QUEUED:
                continue
            if execution_id in self._inserts:
                return True
            original = self._originals.get(execution_id)
            if original is not None and original.state.current is not StateType.QUEUED:
                return True
        return False

    def dispatch(self, jobs: list[Job]) -> None:
        """Dispatches for the inline runner to run, or to write as jobs."""
        self._dispatched.extend(jobs)

    def take_dispatched(self) -> list[Job]:
        taken, self._dispatched = self._dispatched, []
        return taken

    def add_logs(self, entries: list[LogEntry]) -> None:
        self._logs.extend(entries)
        self.touched.update(entry.execution_id for entry in entries)

    def flush(self, tx: Transaction) -> None:
        """Write the staged executions (compare-and-set) and the pending rows."""
        for execution_id, execution in self._inserts.items():
            tx.insert_execution(execution)
            self._base[execution_id] = execution.version
        self._inserts.clear()
        staged = [
            self.seen[execution_id].with_version(self._base[execution_id])
            for execution_id in sorted(self._dirty)
        ]
        for saved in tx.update_executions(staged) if staged else ():
            self.seen[saved.id] = saved
            self._base[saved.id] = saved.version
        self._dirty.clear()
        if self._dispatched:
            # Left over by an apply that failed after dispatching: jobs, as without a runner.
            self.add_jobs(self.take_dispatched())
        if self._jobs:
            tx.add_jobs(self._jobs)
            self._jobs = []
        if self._logs:
            tx.add_logs(self._logs)
            self._logs = []


def _holds_slot(execution: Execution) -> int:
    current = execution.state.current
    return int(not current.is_terminated and current is not StateType.QUEUED)


@contextmanager
def unit(store: Store) -> Iterator[tuple[Transaction, Written]]:
    """A transaction and its :class:`Written`, flushed before the commit.

    On a single-writer store the unit reads first and writes last
    (:mod:`perch.engine.buffered`): what it renders on the way holds no lock anyone waits on.
    """
    written = Written()
    if not buffers(store):
        with store.transaction() as tx:
            yield tx, written
            written.flush(tx)
        record_outcome(conflicted=False)
        return
    tx = BufferedTransaction(store)
    as_transaction: Transaction = tx  # checked: it offers every method of the port
    try:
        try:
            yield as_transaction, written
            tx.upgrade()
            written.flush(tx)
        except BaseException as exc:
            tx.close(type(exc), exc, exc.__traceback__)
            raise
        tx.close(None, None, None)
    except ConcurrentUpdate:
        record_outcome(conflicted=True)
        raise
    record_outcome(conflicted=False)
