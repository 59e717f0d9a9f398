"""An in-memory driver for the pure engine: the store, worker, scheduler and executor in miniature.

It applies :func:`perch.engine.transition`, keeps executions with a version counter, runs
DispatchTask jobs through :func:`perch.tasks.run_task` (TaskStarted, then TaskResult), keeps
timers and fires them when the fake clock passes their due time, creates subflow executions
from a dict of flows and delivers SubflowEnded. No threads and no I/O: every test is
deterministic and fast.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cache
from typing import Any

from perch.engine import new_execution, resume_declarations, run_variables, transition
from perch.engine.clock import FakeClock
from perch.engine.effects import (
    Audit,
    CancelTimers,
    CreateExecution,
    DispatchTask,
    EmitLog,
    ExecutionEnded,
    ScheduleTimer,
    SendEvent,
    StartSubflow,
)
from perch.engine.errorlogs import error_logs_hook
from perch.engine.events import (
    Event,
    Kill,
    Pause,
    Restart,
    Resume,
    Start,
    SubflowEnded,
    TaskResult,
    TaskStarted,
    TimerFired,
)
from perch.engine.flowoutputs import SUBFLOW_OUTPUTS_KEY, child_outputs
from perch.engine.model import Execution, Label, LogEntry, TaskRun
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.errors import PerchError
from perch.flows import Flow, parse_flow
from perch.inputs import resolve_inputs
from perch.tasks import RunContext, TaskOutcome, run_task
from perch.templating import default_environment

ALICE = Principal("alice")


@cache
def _parse(source: str) -> Flow:
    # Flow models are immutable: tests may share them (parsing is the slow part of a test).
    return parse_flow(source)


Outcome = Callable[[int], TaskOutcome | None]
"""A stand-in for a task's worker: given the attempt number, an outcome (None: run it)."""


@dataclass
class PendingTimer:
    execution_id: str
    timer: ScheduleTimer


@dataclass
class Harness:
    """Executions of some flows, driven to completion in memory."""

    sources: list[str] = field(default_factory=list)
    clock: FakeClock = field(default_factory=FakeClock)
    auto_work: bool = True
    flows: dict[tuple[str, str], Flow] = field(init=False, default_factory=dict)
    executions: dict[str, Execution] = field(init=False, default_factory=dict)
    jobs: deque[tuple[str, DispatchTask]] = field(init=False, default_factory=deque)
    timers: list[PendingTimer] = field(init=False, default_factory=list)
    events: deque[tuple[str, Event]] = field(init=False, default_factory=deque)
    logs: list[LogEntry] = field(init=False, default_factory=list)
    audits: list[tuple[str, Audit]] = field(init=False, default_factory=list)
    outcomes: dict[str, Outcome] = field(init=False, default_factory=dict)
    waited: set[str] = field(init=False, default_factory=set)
    transitions: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        for source in self.sources:
            self.deploy(source)

    # --- setup ---------------------------------------------------------------------------

    def deploy(self, source: str) -> Flow:
        flow = _parse(source)
        self.flows[(flow.namespace, flow.id)] = flow
        return flow

    def flow_of(self, execution: Execution) -> Flow:
        return self.flows[(execution.namespace, execution.flow_id)]

    # --- driving -------------------------------------------------------------------------

    def start(
        self,
        flow_id: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        namespace: str = "company.team",
        principal: Principal = ALICE,
        labels: tuple[Label, ...] = (),
        settle: bool = True,
    ) -> Execution:
        """Create an execution (inputs resolved like the service does) and start it."""
        flow = self.flows[(namespace, flow_id)]
        values = resolve_inputs(flow.inputs or [], inputs or {}, environment=default_environment())
        execution = new_execution(
            flow,
            revision=flow.revision or 1,
            inputs=values,
            now=self.clock.now(),
            principal=principal,
            labels=labels,
        )
        self.executions[execution.id] = execution
        self.apply(execution.id, Start(principal))
        if settle:
            self.run()
        return self.executions[execution.id]

    def apply(self, execution_id: str, event: Event) -> Execution:
        """One transition, with its effects recorded (errors from the engine propagate)."""
        execution = self.executions[execution_id]
        result = transition(self.flow_of(execution), execution, event, now=self.clock.now())
        self.transitions += 1
        stored = replace(result.execution, version=execution.version + 1)
        self.executions[execution_id] = stored
        for effect in result.effects:
            self._effect(stored, effect)
        return stored

    def _effect(self, execution: Execution, effect: object) -> None:
        if isinstance(effect, DispatchTask):
            self.jobs.append((execution.id, effect))
        elif isinstance(effect, ScheduleTimer):
            self.timers.append(PendingTimer(execution.id, effect))
        elif isinstance(effect, CancelTimers):
            self.timers = [
                t
                for t in self.timers
                if t.execution_id != execution.id
                or (
                    effect.task_run_ids is not None
                    and t.timer.task_run_id not in effect.task_run_ids
                )
            ]
        elif isinstance(effect, StartSubflow):
            self._start_subflow(effect)
        elif isinstance(effect, CreateExecution):
            self.executions[effect.execution.id] = effect.execution
        elif isinstance(effect, SendEvent):
            self.events.append((effect.execution_id, effect.event))
        elif isinstance(effect, EmitLog):
            self.logs.append(effect.entry)
        elif isinstance(effect, Audit):
            self.audits.append((execution.id, effect))
        elif isinstance(effect, ExecutionEnded):
            parent = execution.parent
            if parent is not None and execution.id in self.waited:
                flow = self.flows[(execution.namespace, execution.flow_id)]
                result = child_outputs(flow, execution, now=self.clock.now())
                ended = SubflowEnded(
                    parent.task_run_id,
                    execution.id,
                    execution.state.current,
                    result.outputs,
                    result.error,
                )
                self.events.append((parent.execution_id, ended))

    def _start_subflow(self, effect: StartSubflow) -> None:
        flow = self.flows.get((effect.namespace, effect.flow_id))
        if flow is None:
            ended = SubflowEnded(effect.parent.task_run_id, effect.execution_id, StateType.FAILED)
            self.events.append((effect.parent.execution_id, ended))
            return
        values = resolve_inputs(flow.inputs or [], effect.inputs)
        child = new_execution(
            flow,
            revision=flow.revision or 1,
            inputs=values,
            now=self.clock.now(),
            principal=ALICE,
            labels=effect.labels,
            parent=effect.parent,
            correlation_id=effect.correlation_id,
            execution_id=effect.execution_id,
            trigger=effect.trigger,
        )
        if effect.outputs:
            child = replace(child, metadata={**child.metadata, SUBFLOW_OUTPUTS_KEY: effect.outputs})
        self.executions[child.id] = child
        if effect.wait:
            self.waited.add(child.id)
        self.events.append((child.id, Start()))

    def work_one(self) -> bool:
        """Run the oldest queued job, as a worker would; False when there is none."""
        if not self.jobs:
            return False
        execution_id, job = self.jobs.popleft()
        try:
            self.apply(execution_id, TaskStarted(job.task_run_id, job.attempt, "worker-1"))
        except PerchError:
            return True  # stale: the run was killed or moved on
        execution = self.executions[execution_id]
        run = execution.task_run(job.task_run_id)
        outcome = self._outcome(execution, run, job)
        event = TaskResult(
            job.task_run_id,
            job.attempt,
            outcome.state,
            outcome.outputs,
            outcome.error,
            "worker-1",
        )
        for level, message in outcome.logs:
            self.logs.append(
                LogEntry(execution_id, self.clock.now(), level, message, run.id, run.task_id)
            )
        with contextlib.suppress(PerchError):
            self.apply(execution_id, event)
        return True

    def _outcome(self, execution: Execution, run: TaskRun, job: DispatchTask) -> TaskOutcome:
        override = self.outcomes.get(run.task_id)
        if override is not None:
            result = override(job.attempt)
            if result is not None:
                return result
        flow = self.flow_of(execution)
        from perch.engine import find_task

        own_logs = [entry for entry in self.logs if entry.execution_id == execution.id]
        context = RunContext(
            variables=run_variables(flow, execution, run),
            hooks={"errorLogs": error_logs_hook(own_logs)},
            execution_id=execution.id,
            task_run_id=run.id,
            attempt=job.attempt,
        )
        return run_task(find_task(flow, run.task_id), context)

    def run(self) -> None:
        """Deliver queued events and run queued jobs until nothing is left to do now."""
        while True:
            if self.events:
                execution_id, event = self.events.popleft()
                with contextlib.suppress(PerchError):
                    self.apply(execution_id, event)
                continue
            if self.auto_work and self.work_one():
                continue
            return

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta``, firing due timers in order and running what follows."""
        target = self.clock.now() + delta
        while True:
            due = sorted(
                (t for t in self.timers if t.timer.due <= target), key=lambda t: t.timer.due
            )
            if not due:
                break
            timer = due[0]
            self.timers.remove(timer)
            if timer.timer.due > self.clock.now():
                self.clock.advance(timer.timer.due - self.clock.now())
            self.apply(
                timer.execution_id,
                TimerFired(
                    timer.timer.timer_id,
                    timer.timer.task_run_id,
                    timer.timer.action,
                    timer.timer.payload,
                ),
            )
            self.run()
        if target > self.clock.now():
            self.clock.advance(target - self.clock.now())
        self.run()

    # --- people --------------------------------------------------------------------------

    def resume(
        self,
        execution_id: str,
        inputs: Mapping[str, Any] | None = None,
        principal: Principal = ALICE,
    ) -> Execution:
        """Resume like the service does: validate the onResume values, then transition."""
        execution = self.executions[execution_id]
        declarations = resume_declarations(self.flow_of(execution), execution)
        values = resolve_inputs(declarations, inputs or {}, environment=default_environment())
        self.apply(execution_id, Resume(principal, values))
        self.run()
        return self.executions[execution_id]

    def kill(self, execution_id: str, principal: Principal = ALICE) -> Execution:
        self.apply(execution_id, Kill(principal))
        self.run()
        return self.executions[execution_id]

    def pause(self, execution_id: str, principal: Principal = ALICE) -> Execution:
        return self.apply(execution_id, Pause(principal))

    def restart(self, execution_id: str, principal: Principal = ALICE) -> Execution:
        self.apply(execution_id, Restart(principal))
        self.run()
        return self.executions[execution_id]

    # --- looking -------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution:
        return self.executions[execution_id]

    def runs_of(self, execution_id: str, task_id: str) -> list[TaskRun]:
        return [r for r in self.executions[execution_id].task_runs if r.task_id == task_id]

    def run_of(self, execution_id: str, task_id: str) -> TaskRun:
        (run,) = self.runs_of(execution_id, task_id)
        return run

    def log_messages(self, execution_id: str, task_id: str | None = None) -> list[str]:
        return [
            e.message
            for e in self.logs
            if e.execution_id == execution_id and (task_id is None or e.task_id == task_id)
        ]


def states(execution: Execution) -> list[str]:
    """The execution's state history, as names."""
    return [h.state.value for h in execution.state.histories]


def run_states(run: TaskRun) -> list[str]:
    return [h.state.value for h in run.state.histories]
