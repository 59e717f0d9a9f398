"""One attempt of a task run inside a transaction: start it, run it, report its result.

The worker goes through these functions for the jobs it claims; the executor goes through them
for the tasks that only render templates (Log, Return, OutputValues), which an
:class:`InlineRunner` runs where they are dispatched, in the transaction of the transition that
dispatched them: no job row is written, claimed and deleted for them. A crash before the commit
rolls back the whole transaction (the dispatch never happened); after it, the run is done.

The engine does not know how tasks run: ``perch.tasks`` sits above it, so the composition root
passes the runner in (:func:`perch.engine.executor.bind` takes the :class:`InlineRunner`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from perch.engine.context import EngineContext
from perch.engine.events import TaskResult, TaskStarted
from perch.engine.executor import apply_in
from perch.engine.flowindex import find_task
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Job, Transaction
from perch.engine.principal import SYSTEM
from perch.engine.states import StateType
from perch.engine.variables import run_variables
from perch.engine.workingdir import shared_archive
from perch.engine.written import Written
from perch.errors import ConcurrentUpdate, EngineError, StaleResult
from perch.flows import Flow, Task

log = logging.getLogger(__name__)

INLINE_WORKER = "executor"
"""The worker id of the attempts the executor runs itself."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything a task runner gets besides the task itself."""

    variables: Mapping[str, Any]
    hooks: Mapping[str, Callable[..., Any]]
    execution_id: str
    task_run_id: str
    attempt: int
    cancelled: threading.Event
    shared_dir: str | None = None
    """The archive URI of the WorkingDirectory the task runs in (see perch.engine.workingdir)."""


class Outcome(Protocol):
    """What a runner returns (``perch.tasks.TaskOutcome`` has this shape)."""

    @property
    def state(self) -> StateType: ...
    @property
    def outputs(self) -> Mapping[str, Any] | None: ...
    @property
    def logs(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FailedOutcome:
    """The outcome of a runner that raised instead of returning (a bug, reported as FAILED)."""

    error: str
    state: StateType = StateType.FAILED
    outputs: Mapping[str, Any] | None = None
    logs: tuple[tuple[str, str], ...] = ()


TaskRunner = Callable[[Task, RunRequest], Outcome]


@dataclass(frozen=True, slots=True)
class Started:
    """An attempt begun in a transaction, with what running it needs."""

    execution: Execution
    """The execution right after the start."""
    flow: Flow
    task: Task
    task_run_id: str
    attempt: int


def start_in(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    job: Job,
    attempt: int,
    worker_id: str,
    written: Written,
    loaded: Execution | None = None,
) -> Started:
    """Apply ``TaskStarted`` for attempt ``attempt`` of the job's task run; raises
    :class:`perch.errors.EngineError` when the task run no longer accepts it."""
    event = TaskStarted(job.task_run_id, attempt, worker_id)
    execution = apply_in(tx, ctx, job.execution_id, event, SYSTEM, written=written, loaded=loaded)
    if execution.task_run(job.task_run_id).state.current.is_terminated:
        # The start ended the task run (it lost its worker too often): nothing to run.
        raise StaleResult(f"task run {job.task_run_id} ended when attempt {attempt} started")
    flow = ctx.flow_for(tx, execution)
    return Started(execution, flow, find_task(flow, job.task_id), job.task_run_id, attempt)


def run_started(
    ctx: EngineContext, runner: TaskRunner, started: Started, cancelled: threading.Event
) -> Outcome:
    """Run a started attempt; a runner that raises is a FAILED outcome."""
    execution = started.execution
    try:
        task_run = execution.task_run(started.task_run_id)
        request = RunRequest(
            variables=run_variables(started.flow, execution, task_run),
            hooks=ctx.hooks_for(execution),
            execution_id=execution.id,
            task_run_id=task_run.id,
            attempt=started.attempt,
            cancelled=cancelled,
            shared_dir=shared_archive(started.flow, execution, task_run),
        )
        return runner(started.task, request)
    except Exception as exc:
        log.exception("task %s of %s raised", started.task.id, execution.id)
        return FailedOutcome(error=f"{type(exc).__name__}: {exc}")


def report_in(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    started: Started,
    outcome: Outcome,
    worker_id: str,
    written: Written,
) -> None:
    """Apply the result of a started attempt and write its log lines; raises
    :class:`perch.errors.StaleResult` (or another :class:`perch.errors.EngineError`) when
    the task run no longer accepts it."""

    execution_id = started.execution.id
    event = TaskResult(
        task_run_id=started.task_run_id,
        attempt=started.attempt,
        state=outcome.state,
        outputs=dict(outcome.outputs) if outcome.outputs is not None else None,
        error=outcome.error,
        worker_id=worker_id,
    )
    apply_in(tx, ctx, execution_id, event, SYSTEM, written=written)
    if outcome.logs:
        now = ctx.clock.now()
        written.add_logs(
            [
                LogEntry(
                    execution_id=execution_id,
                    timestamp=now,
                    level=level,
                    message=message,
                    task_run_id=started.task_run_id,
                    task_id=started.task.id,
                    attempt=started.attempt,
                )
                for level, message in outcome.logs
            ]
        )


@dataclass(frozen=True)
class InlineRunner:
    """Runs the dispatched tasks that ``accepts`` (tasks that do no I/O and finish in
    microseconds) in the transaction that dispatched them, up to ``limit`` runs per
    transition applied; the others, and those beyond the limit, become jobs for the workers.

    The limit bounds how long a transition holds the write lock (a ForEach of many Logs)."""

    runner: TaskRunner
    accepts: Callable[[Task], bool]
    limit: int = 512

    def run_dispatched(self, tx: Transaction, ctx: EngineContext, written: Written) -> None:
        """Run the dispatches ``written`` holds, and those their results make, in ``tx``."""
        budget = self.limit
        while True:
            dispatched = written.take_dispatched()
            if not dispatched:
                return
            for index, job in enumerate(dispatched):
                try:
                    ran = budget > 0 and self._run_in(tx, ctx, job, written)
                except BaseException:
                    # Usually the whole transaction rolls back; a caller that goes on with it
                    # (a bulk action skipping one execution) must not lose the dispatches.
                    written.add_jobs(dispatched[index:])
                    raise
                if ran:
                    budget -= 1
                else:
                    written.add_jobs([job])

    def _run_in(self, tx: Transaction, ctx: EngineContext, job: Job, written: Written) -> bool:
        """Start, run and report one dispatched attempt; False when it is left to a worker."""
        execution = written.load(tx, job.execution_id)
        if execution is None:
            return False
        if not self.accepts(find_task(ctx.flow_for(tx, execution), job.task_id)):
            return False
        try:
            started = start_in(tx, ctx, job, job.attempt, INLINE_WORKER, written, loaded=execution)
        except ConcurrentUpdate:
            raise
        except EngineError as exc:
            # Left to a worker, which drops the job the same way.
            log.info("not running task run %s inline: %s", job.task_run_id, exc)
            return False
        outcome = run_started(ctx, self.runner, started, threading.Event())
        try:
            report_in(tx, ctx, started, outcome, INLINE_WORKER, written)
        except ConcurrentUpdate:
            raise
        except EngineError as exc:
            log.info("result of task run %s run inline dropped: %s", job.task_run_id, exc)
        return True
