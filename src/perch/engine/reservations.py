"""Jobs a worker thread claimed ahead for quick tasks: leased to it and not started.

A worker thread runs one job at a time, and used to give back, unstarted, the other jobs its
claim brought: one claim statement per task, and a lease written twice for each job given back.
For tasks that this worker has seen end quickly (a Log rendering a message), the thread keeps
the other jobs of its claim leased but unstarted, and starts the next one in the transaction that
reports the last one, without claiming again.

An unstarted job is no lost attempt: should the worker die, its lease ends and another worker
runs it as the same attempt. A kept job is started only while well inside the lease it was
claimed with (a third of it: no other worker can hold it yet, heartbeats or not); one kept
longer goes back to the queue, as do the kept jobs of a pool that stops. Jobs of a task type not
known to be quick go back at once: a slow task must not hold other jobs behind it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from perch.engine.ports import Job

QUICK_SECONDS = 0.002
"""A task type whose recent runs on this worker took less than this on average is quick."""
_WEIGHT = 0.2
"""Weight of the newest run in the moving average of a task type's run time."""


@dataclass(frozen=True, slots=True)
class Kept:
    job: Job
    until: datetime
    """Start it before this (a third of the lease it was claimed with), else give it back."""


class Reservations:
    """The jobs each worker thread keeps, and how long each task type's runs take here."""

    def __init__(self, lease: timedelta, limit: int, quick_seconds: float = QUICK_SECONDS) -> None:
        self._window = lease / 3
        self._quick_seconds = quick_seconds
        self._limit = limit
        self._lock = threading.Lock()
        self._kept: dict[str, list[Kept]] = {}
        self._seconds: dict[str, float] = {}

    def ran(self, task_type: str, seconds: float) -> None:
        """Record how long a run of ``task_type`` took."""
        previous = self._seconds.get(task_type)
        self._seconds[task_type] = (
            seconds if previous is None else previous + _WEIGHT * (seconds - previous)
        )

    def quick(self, task_type: str | None) -> bool:
        """Whether runs of this type ended quickly here (unknown types are not quick)."""
        if task_type is None:
            return False
        average = self._seconds.get(task_type)
        return average is not None and average < self._quick_seconds

    def keep(self, worker_id: str, job: Job, claimed: datetime) -> bool:
        """Keep ``job`` for this thread if its task type is quick and there is room."""
        if not self.quick(job.task_type):
            return False
        with self._lock:
            kept = self._kept.setdefault(worker_id, [])
            if len(kept) >= self._limit:
                return False
            kept.append(Kept(job, claimed + self._window))
            return True

    def take(self, worker_id: str, now: datetime) -> tuple[list[Kept], list[Job]]:
        """The thread's kept jobs, oldest first: those still to start, and those kept too long
        (to give back)."""
        with self._lock:
            kept = self._kept.pop(worker_id, [])
        fresh = [k for k in kept if now < k.until]
        stale = [k.job for k in kept if now >= k.until]
        return fresh, stale

    def put_back(self, worker_id: str, kept: list[Kept]) -> None:
        """Keep again jobs taken and not started, ahead of those kept since (same deadlines:
        their leases did not grow meanwhile)."""
        if kept:
            with self._lock:
                self._kept[worker_id] = [*kept, *self._kept.get(worker_id, [])]

    def saved(self, worker_id: str) -> list[Kept]:
        """The thread's kept jobs as they are, for :meth:`restore`."""
        with self._lock:
            return list(self._kept.get(worker_id, ()))

    def restore(self, worker_id: str, kept: list[Kept]) -> None:
        """Undo what a transaction that rolled back did to the thread's kept jobs (the jobs it
        claimed are not leased after all; those it started or gave back are kept still)."""
        with self._lock:
            self._kept[worker_id] = list(kept)

    def drop_all(self) -> dict[str, list[Job]]:
        """Forget every kept job (the pool stops); returned to give them back."""
        with self._lock:
            taken, self._kept = self._kept, {}
        return {w: [k.job for k in kept] for w, kept in taken.items() if kept}
