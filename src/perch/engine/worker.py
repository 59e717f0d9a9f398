"""Worker threads: claim jobs with a lease, run the task, report the result.

A job is one attempt of one runnable task run. A worker claims a few at a time with a lease that
a heartbeat keeps extending while they run; a worker that dies stops extending it, and once the
lease ends another worker claims the job again as a new attempt. The result of a run is applied
with the attempt it belongs to, so a late result of an abandoned attempt is rejected
(:class:`perch.errors.StaleResult`) and dropped.

The worker does not know how tasks run: ``perch.tasks`` sits above the engine, so the composition
root passes a :class:`TaskRunner` in. Starting, running and reporting an attempt go through
:mod:`perch.engine.running`, as for the tasks the executor runs inline.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from perch.engine.executor import MAX_RETRIES, Written, context_for, retryable, unit
from perch.engine.flowindex import find_task
from perch.engine.ids import new_id
from perch.engine.jobfilter import JobFilter
from perch.engine.model import Execution
from perch.engine.ports import HANDED_BACK_ATTEMPT, Job, Store, Transaction, WorkerInfo
from perch.engine.reservations import QUICK_SECONDS, Reservations
from perch.engine.running import (
    FailedOutcome,
    Outcome,
    RunRequest,
    Started,
    TaskRunner,
    report_in,
    run_started,
    start_in,
)
from perch.engine.states import StateType
from perch.engine.wakeup import JOBS
from perch.errors import ConcurrentUpdate, EngineError, PerchError, StaleResult
from perch.flows import Task
from perch.metrics import CLAIM_LATENCY, TASK_DURATION

log = logging.getLogger(__name__)

__all__ = ["FailedOutcome", "Outcome", "RunRequest", "TaskRunner", "WorkerPool"]


def _short_type(type_name: str) -> str:
    """``io.kestra.plugin.core.http.Request`` → ``core.http.Request`` (fewer, shorter series)."""
    for prefix in ("io.kestra.plugin.", "io.kestra."):
        if type_name.startswith(prefix):
            return type_name[len(prefix) :]
    return type_name


@dataclass
class _Started:
    job: Job
    run: Started

    @property
    def task(self) -> Task:
        return self.run.task


class WorkerPool:
    """``threads`` worker threads sharing one lease heartbeat, claiming the jobs
    ``job_filter`` accepts (by default: those without a worker group).

    The pool registers itself in the store's worker table while it runs (which tells the
    executor that its group has a live worker) and renews that row with its leases."""

    def __init__(
        self,
        store: Store,
        runner: TaskRunner,
        *,
        threads: int = 4,
        lease_seconds: float = 30.0,
        batch: int = 4,
        name: str | None = None,
        inline: Callable[[Task], bool] | None = None,
        inline_limit: int = 64,
        job_filter: JobFilter | None = None,
        quick_seconds: float = QUICK_SECONDS,
    ) -> None:
        """``inline(task)`` tells which tasks do no I/O and finish in microseconds (Log,
        Return, OutputValues): those run inside the transaction that claims them, so their
        start and result are one write, and the jobs they make are claimed in that same
        transaction, up to ``inline_limit`` tasks per transaction. Jobs of a task type whose
        runs here took under ``quick_seconds`` on average are kept when claimed behind another
        (:mod:`perch.engine.reservations`)."""
        self._store = store
        self._inline = inline
        self._inline_limit = inline_limit
        self._claimed = 0
        """Counts claims that found jobs: a worker that ran inline jobs claims again at once."""
        self._ctx = context_for(store)
        self._runner = runner
        self._threads_wanted = threads
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch
        self._reservations = Reservations(self._lease, max(batch - 1, 0), quick_seconds)
        self.job_filter = job_filter or JobFilter()
        prefix = self.job_filter.group or "worker"
        self.name = name or f"{prefix}-{new_id()[:8]}"
        self._stop = threading.Event()
        """Set when the pool stops claiming."""
        self._halt = threading.Event()
        """Set when the heartbeat stops too (after the grace period)."""
        self._handed_back: set[str] = set()
        self._started_at = self._ctx.clock.now()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._in_flight: dict[str, set[str]] = {}  # worker id -> job ids
        self._cancels: dict[str, list[threading.Event]] = {}  # execution id -> events
        self._ctx.hub.on_kill(self._cancel)

    def start(self) -> None:
        """Register the pool, start the worker threads and the heartbeat."""
        self._register()
        for index in range(self._threads_wanted):
            worker_id = f"{self.name}-{index}"
            thread = threading.Thread(
                target=self._run, args=(worker_id,), name=f"perch-{worker_id}", daemon=True
            )
            self._threads.append(thread)
        self._threads.append(
            threading.Thread(target=self._heartbeat, name=f"perch-{self.name}-lease", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def stop(self, grace: float = 0.0) -> None:
        """Stop claiming; let running jobs finish for up to ``grace`` seconds, then hand the
        ones still held back (their leases released: another worker claims them at once, as
        new attempts) and cancel their tasks; unregister the pool."""
        self._stop.set()
        self._ctx.hub.notify([JOBS])
        deadline = time.monotonic() + max(grace, 0.0)
        workers = self._threads[:-1]
        for thread in workers:
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))
        if any(thread.is_alive() for thread in workers):
            self.hand_back()
            for cancels in list(self._cancels.values()):
                for event in cancels:
                    event.set()
            # A task that ignores its cancellation keeps its thread (a daemon): its job is
            # handed back, and a result it reports later is dropped.
            for thread in workers:
                thread.join(timeout=max(deadline - time.monotonic(), 1.0))
        self._halt.set()
        if self._threads:
            self._threads[-1].join(timeout=10)
        kept = self._reservations.drop_all()
        try:
            with self._store.transaction() as tx:
                ended = self._ctx.clock.now() - self._lease
                for worker_id, jobs in kept.items():
                    # Never started: claimable at once, as the same attempt.
                    tx.extend_leases(worker_id, [job.id for job in jobs], ended)
                tx.remove_worker(self.name)
        except Exception:
            log.exception("could not unregister worker %s", self.name)

    def hand_back(self, job_ids: dict[str, list[str]] | None = None) -> int:
        """Release the leases of jobs this pool holds (all of them by default, else
        ``{worker id: job ids}``): their results, if they come, are dropped."""
        with self._lock:
            held = job_ids or {w: list(ids) for w, ids in self._in_flight.items() if ids}
            for ids in held.values():
                self._handed_back.update(ids)
        released = 0
        try:
            with self._store.transaction() as tx:
                for worker_id, ids in held.items():
                    released += tx.release_jobs(worker_id, ids)
        except Exception:
            log.exception("could not hand jobs back; their leases will expire")
            return 0
        if released:
            log.info("handed %d job(s) back to other workers", released)
            self._ctx.hub.notify([JOBS])
        return released

    def _info(self) -> WorkerInfo:
        now = self._ctx.clock.now()
        return WorkerInfo(
            id=self.name,
            filter=self.job_filter,
            concurrency=self._threads_wanted,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            started=self._started_at,
            heartbeat=now,
            expires=now + self._lease,
        )

    def _register(self) -> None:
        with self._store.transaction() as tx:
            tx.register_worker(self._info())

    def _cancel(self, execution_id: str) -> None:
        with self._lock:
            events = list(self._cancels.get(execution_id, ()))
        for event in events:
            event.set()

    def _heartbeat(self) -> None:
        # Runs until the grace period ends, not just until claiming stops: the jobs still
        # running meanwhile keep their leases.
        interval = self._lease.total_seconds() / 3
        while not self._halt.wait(interval):
            with self._lock:
                held = {w: list(ids) for w, ids in self._in_flight.items() if ids}
            try:
                with self._store.transaction() as tx:
                    now = self._ctx.clock.now()
                    until = now + self._lease
                    for worker_id, job_ids in held.items():
                        tx.extend_leases(worker_id, job_ids, until)
                    if not tx.heartbeat_worker(self.name, now, until):
                        tx.register_worker(self._info())
            except Exception:
                log.exception("could not extend job leases")

    def _run(self, worker_id: str) -> None:
        hub = self._ctx.hub
        idle = self._lease.total_seconds()
        while not self._stop.is_set():
            generation = hub.generation(JOBS)
            try:
                claimed = self._claimed
                started = self.claim_and_start(worker_id)
                if started:
                    while started:
                        started = self.process(worker_id, started)
                    continue
                if self._claimed != claimed:
                    # Inline jobs ran until their budget ran out: more may be waiting, and
                    # their notification may have come before this loop read the generation.
                    continue
            except Exception:
                log.exception("worker %s failed; continuing", worker_id)
                self._stop.wait(0.5)
                continue
            # Idle: sleep until new jobs are written; the timeout lets an abandoned lease be
            # noticed (the only thing that changes without a notification).
            hub.wait(JOBS, generation, idle)

    def claim_and_start(self, worker_id: str) -> list[_Started]:
        """Claim up to one batch of jobs and start their attempts, in one transaction.

        A job whose task run no longer accepts it (killed, finished) is removed.
        """
        for _ in range(MAX_RETRIES):
            started: list[_Started] = []
            kept = self._reservations.saved(worker_id)
            try:
                with unit(self._store) as (tx, written):
                    started = self._claim_in(tx, worker_id, written)
            except Exception as exc:
                self._reservations.restore(worker_id, kept)
                if not retryable(exc):
                    raise
                continue
            self._ctx.after_commit(written)
            self._hold(worker_id, started)
            return started
        return []

    def _claim_in(self, tx: Transaction, worker_id: str, written: Written) -> list[_Started]:
        """Claim and start jobs in ``tx``; inline tasks run here and now, the others are
        returned to run outside the transaction.

        The thread's kept jobs (:mod:`perch.engine.reservations`) come first, without a claim
        statement; of a claim, the jobs after the one started are kept when their task is
        quick, else given back."""
        started: list[_Started] = []
        budget = self._inline_limit if self._inline is not None else 0
        while True:
            now = self._ctx.clock.now()
            # A quick job this transaction wrote (the next task of the execution just reported)
            # first: its execution is read and written once for both.
            jobs = written.claim_own_jobs(
                worker_id, 1, now + self._lease, self.job_filter, self._quick
            )
            kept, give_back = ([], []) if jobs else self._reservations.take(worker_id, now)
            jobs = jobs or [k.job for k in kept] or self._claim_new(tx, worker_id, written, now)
            ran_inline = 0
            for index, job in enumerate(jobs):
                if started:
                    # A thread runs one job at a time: a job started behind the one it
                    # already holds would wait as a begun attempt (counted lost if this
                    # process dies, though it never ran) while other workers sit idle.
                    if kept:
                        self._reservations.put_back(worker_id, kept[index:])
                        break
                    if self._reservations.keep(worker_id, job, now):
                        continue
                    if not self._runs_inline(tx, job, written, budget):
                        give_back.append(job)
                        continue
                item = self._start_in(tx, worker_id, job, written)
                if item is None:
                    continue
                if budget > 0 and self._inline is not None and self._inline(item.task):
                    self._report_in(tx, worker_id, item, self._run_one(item), written)
                    budget -= 1
                    ran_inline += 1
                else:
                    started.append(item)
            # Given back unstarted: any worker may claim them at once.
            written.hand_back_jobs(tx, give_back, worker_id, now - self._lease)
            if not jobs or started or not ran_inline or budget <= 0:
                return started

    def _quick(self, job: Job) -> bool:
        return self._reservations.quick(job.task_type)

    def _claim_new(
        self, tx: Transaction, worker_id: str, written: Written, now: datetime
    ) -> list[Job]:
        """Lease up to one batch: older jobs of others first, then the ones this transaction
        wrote (claimed from memory: nothing is written before the unit ends)."""
        lease_until = now + self._lease
        jobs = tx.claim_jobs(worker_id, self._batch, now, lease_until, self.job_filter)
        jobs += written.claim_own_jobs(
            worker_id, self._batch - len(jobs), lease_until, self.job_filter
        )
        for job in jobs:
            CLAIM_LATENCY.observe(max((now - job.created).total_seconds(), 0.0))
        if jobs:
            self._claimed += 1  # only compared for change, so races between threads are fine
        return jobs

    def _runs_inline(self, tx: Transaction, job: Job, written: Written, budget: int) -> bool:
        """Whether claiming ``job`` would run it here and now (or drop it) rather than hold it
        for this thread to run later."""
        if budget <= 0 or self._inline is None:
            return False
        execution = written.load(tx, job.execution_id)
        if execution is None:
            return True  # dropped at its start
        try:
            task = find_task(self._ctx.flow_for(tx, execution), job.task_id)
        except (KeyError, PerchError):
            return True  # dropped at its start
        return self._inline(task)

    def _hold(self, worker_id: str, started: list[_Started]) -> None:
        if started:
            with self._lock:
                self._in_flight.setdefault(worker_id, set()).update(i.job.id for i in started)

    def _start_in(
        self, tx: Transaction, worker_id: str, job: Job, written: Written
    ) -> _Started | None:
        current = written.load(tx, job.execution_id)
        attempt = _attempt_for(job, current)
        try:
            started = start_in(tx, self._ctx, job, attempt, worker_id, written, loaded=current)
        except ConcurrentUpdate:
            raise
        except EngineError as exc:
            log.info("dropped job %s: %s", job.id, exc)
            written.remove_job(tx, job.id)
            return None
        if job.attempt == HANDED_BACK_ATTEMPT:
            # Continued: should this worker die now, the attempt counts as lost again.
            tx.set_job_attempt(job.id, attempt)
        return _Started(job, started)

    def process(self, worker_id: str, started: list[_Started]) -> list[_Started]:
        """Run started jobs, report their results and claim the next jobs, in one transaction
        (a sequential flow's next job is usually written by that very result)."""
        try:
            results: list[tuple[_Started, Outcome]] = []
            for index, item in enumerate(started):
                if self._stop.is_set():
                    # Stopping: the jobs of this batch not begun yet go back at once.
                    rest = [other.job.id for other in started[index:]]
                    self.hand_back({worker_id: rest})
                    break
                results.append((item, self._run_one(item)))
            with self._lock:
                results = [(i, o) for i, o in results if i.job.id not in self._handed_back]
            following = self._report_all(worker_id, results, claim=not self._stop.is_set())
        finally:
            with self._lock:
                self._in_flight.get(worker_id, set()).difference_update(
                    item.job.id for item in started
                )
        self._hold(worker_id, following)
        return following

    def _run_one(self, item: _Started) -> Outcome:
        cancelled = threading.Event()
        execution_id = item.job.execution_id
        with self._lock:
            self._cancels.setdefault(execution_id, []).append(cancelled)
        began = time.perf_counter()
        outcome: Outcome | None = None
        try:
            outcome = run_started(self._ctx, self._runner, item.run, cancelled)
            return outcome
        finally:
            state = outcome.state.value if outcome is not None else "ERROR"
            seconds = time.perf_counter() - began
            TASK_DURATION.labels(_short_type(item.task.type), state).observe(seconds)
            self._reservations.ran(item.job.task_type or item.task.type, seconds)
            with self._lock:
                events = self._cancels.get(execution_id, [])
                if cancelled in events:
                    events.remove(cancelled)
                if not events:
                    self._cancels.pop(execution_id, None)

    def _report_all(
        self, worker_id: str, results: list[tuple[_Started, Outcome]], *, claim: bool
    ) -> list[_Started]:
        for _ in range(MAX_RETRIES):
            following: list[_Started] = []
            kept = self._reservations.saved(worker_id)
            try:
                with unit(self._store) as (tx, written):
                    for item, outcome in results:
                        self._report_in(tx, worker_id, item, outcome, written)
                    if claim:
                        following = self._claim_in(tx, worker_id, written)
            except Exception as exc:
                self._reservations.restore(worker_id, kept)
                if not retryable(exc):
                    raise
                continue
            self._ctx.after_commit(written)
            return following
        log.error("gave up reporting %d results after conflicts; leases will expire", len(results))
        return []

    def _report_in(
        self, tx: Transaction, worker_id: str, item: _Started, outcome: Outcome, written: Written
    ) -> None:
        """Apply one result, write its log lines and remove its job."""
        job = item.job
        try:
            report_in(tx, self._ctx, item.run, outcome, worker_id, written)
        except ConcurrentUpdate:
            raise
        except StaleResult as exc:
            # Another worker holds a newer attempt; it will remove the job.
            log.warning("stale result of job %s dropped: %s", job.id, exc)
            return
        except EngineError as exc:
            log.info("result of job %s dropped: %s", job.id, exc)
        written.remove_job(tx, job.id)


def _attempt_for(job: Job, execution: Execution | None) -> int:
    """The attempt this claim runs: a new one when an earlier claim already started the run
    (its worker died or its lease ran out), the same one when that worker handed the job
    back, else the one the job was queued for."""
    if execution is None:
        return max(job.attempt, 1)
    try:
        run = execution.task_run(job.task_run_id)
    except KeyError:
        return max(job.attempt, 1)
    if job.attempt == HANDED_BACK_ATTEMPT:
        return max(len(run.attempts), 1)
    if run.state.current is StateType.RUNNING and len(run.attempts) >= job.attempt:
        return len(run.attempts) + 1
    return job.attempt
