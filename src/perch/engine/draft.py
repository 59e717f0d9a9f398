"""A mutable working copy of one execution, used for the span of one transition.

A transition indexes the task runs once (by id, and by task/parent/value), edits them in place,
collects effects, and freezes the result back into an :class:`Execution`. Nothing here outlives
the call, so :func:`perch.engine.transition` stays pure from the outside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from perch.engine.effects import Effect, EmitLog
from perch.engine.flowindex import FlowIndex, flow_index
from perch.engine.ids import new_id
from perch.engine.model import (
    JSON,
    Attempt,
    Execution,
    LogEntry,
    RunIndex,
    RunKey,
    TaskRun,
    remember_index,
    run_index,
)
from perch.engine.overlay import Overlay
from perch.engine.states import State, StateType
from perch.engine.variables import base_variables, with_task_run
from perch.flows import Flow, Task
from perch.templating import default_environment

__all__ = ["Draft", "RunKey"]


class Draft:
    """The execution being changed by one transition, and the effects it has produced."""

    def __init__(
        self,
        flow: Flow,
        execution: Execution,
        now: datetime,
        hooks: Mapping[str, Callable[..., Any]] | None = None,
        workers: Callable[[str], bool] | None = None,
    ) -> None:
        """``workers(key)`` tells whether worker group ``key`` has a live worker (without it,
        every group counts as served)."""
        self.flow = flow
        self._workers = workers
        self.index: FlowIndex = flow_index(flow)
        self.original = execution
        self.now = now
        self.hooks: Mapping[str, Callable[..., Any]] = hooks or {}
        # The index of the runs as read is shared (made once per tuple); forked (its large
        # base is shared, see perch.engine.overlay) so this transition can change it.
        index = run_index(execution.task_runs)
        self.runs: list[TaskRun] = list(execution.task_runs)
        self.positions: Overlay[str, int] = index.positions.fork()
        self.keys: Overlay[RunKey, str] = index.keys.fork()
        self.state: State = execution.state
        self.metadata: dict[str, JSON] = dict(execution.metadata)
        self.outputs = execution.outputs
        self.labels = execution.labels
        self.effects: list[Effect] = []
        self.saw_paused = False
        self._snapshot: Execution | None = execution
        self._base: dict[str, Any] | None = None

    # --- reading -------------------------------------------------------------------------

    def run(self, run_id: str) -> TaskRun:
        return self.runs[self.positions[run_id]]

    def has_run(self, run_id: str) -> bool:
        return run_id in self.positions

    def find(self, task_id: str, parent_id: str | None, value: str | None) -> TaskRun | None:
        run_id = self.keys.get((task_id, parent_id, value))
        return None if run_id is None else self.runs[self.positions[run_id]]

    def task(self, run: TaskRun) -> Task:
        return self.index.task(run.task_id)

    def worker_group_live(self, key: str) -> bool:
        """Whether a live worker serves worker group ``key``."""
        return True if self._workers is None else self._workers(key)

    def children_of(self) -> dict[str, list[TaskRun]]:
        """Task runs by parent task run id (computed on demand: only kill/restart need it)."""
        children: dict[str, list[TaskRun]] = {}
        for run in self.runs:
            if run.parent_task_run_id is not None:
                children.setdefault(run.parent_task_run_id, []).append(run)
        return children

    def snapshot(self) -> Execution:
        """The execution as it stands now (cached until the next change)."""
        if self._snapshot is None:
            o = self.original
            # Built directly rather than with dataclasses.replace (several times slower); a
            # unit test checks that every field of Execution is listed here.
            self._snapshot = Execution(
                id=o.id,
                namespace=o.namespace,
                flow_id=o.flow_id,
                flow_revision=o.flow_revision,
                state=self.state,
                tenant=o.tenant,
                task_runs=tuple(self.runs),
                inputs=o.inputs,
                outputs=self.outputs,
                labels=self.labels,
                variables=o.variables,
                trigger=o.trigger,
                parent=o.parent,
                original_id=o.original_id,
                metadata=self.metadata,
                version=o.version,
            )
        return self._snapshot

    # --- writing -------------------------------------------------------------------------

    def _changed(self) -> None:
        self._snapshot = None
        self._base = None

    def put(self, run: TaskRun) -> TaskRun:
        """Store a new or changed task run."""
        position = self.positions.get(run.id)
        if position is None:
            self.positions[run.id] = len(self.runs)
            self.runs.append(run)
            self.keys[(run.task_id, run.parent_task_run_id, run.value)] = run.id
        else:
            self.runs[position] = run
        self._changed()
        return run

    def remove(self, run_ids: set[str]) -> None:
        """Forget these task runs (restart and replay drop what must run again)."""
        self.runs = [run for run in self.runs if run.id not in run_ids]
        self.positions = Overlay({run.id: i for i, run in enumerate(self.runs)})
        self.keys = Overlay({(r.task_id, r.parent_task_run_id, r.value): r.id for r in self.runs})
        self._changed()

    def new_run(
        self,
        task: Task,
        parent: TaskRun | None,
        value: str | None,
        iteration: int | None = None,
    ) -> TaskRun:
        return self.put(
            TaskRun(
                id=new_id(),
                task_id=task.id,
                state=State.new(self.now),
                parent_task_run_id=None if parent is None else parent.id,
                value=value,
                iteration=iteration,
            )
        )

    def move_run(self, run: TaskRun, state: StateType, **changes: Any) -> TaskRun:
        """``run`` in ``state`` (its current attempt too when it has one), with ``changes``."""
        attempts = run.attempts
        if attempts and state.is_terminated and not attempts[-1].state.current.is_terminated:
            last = attempts[-1]
            attempts = (
                *attempts[:-1],
                Attempt(last.state.with_state(state, self.now), last.worker_id),
            )
        moved = run.evolve(state=run.state.with_state(state, self.now), attempts=attempts)
        return self.put(replace(moved, **changes) if changes else moved)

    def set_state(self, state: StateType) -> None:
        self.state = self.state.with_state(state, self.now)
        self._changed()

    def set_meta(self, key: str, value: JSON) -> None:
        if value is None:
            self.metadata.pop(key, None)
        else:
            self.metadata[key] = value
        self._changed()

    def emit(self, effect: Effect) -> None:
        self.effects.append(effect)

    def log(self, level: str, message: str, run: TaskRun | None = None) -> None:
        self.emit(
            EmitLog(
                LogEntry(
                    execution_id=self.original.id,
                    timestamp=self.now,
                    level=level,
                    message=message,
                    task_run_id=None if run is None else run.id,
                    task_id=None if run is None else run.task_id,
                    attempt=0 if run is None else len(run.attempts),
                )
            )
        )

    def build(self) -> Execution:
        built = self.snapshot()
        # The next transition of this execution starts from this index instead of a new one
        # (the draft is not changed after it is built).
        remember_index(RunIndex(built.task_runs, self.positions, self.keys))
        return built

    # --- templates -----------------------------------------------------------------------

    def variables(self, run: TaskRun | None) -> dict[str, Any]:
        if self._base is None:
            self._base = base_variables(self.flow, self.snapshot())
        if run is None:
            return self._base
        return with_task_run(self._base, self.flow, _RunsById(self), run)

    def render(self, value: Any, run: TaskRun | None) -> Any:
        """Typed rendering of a flow author's value (never of data typed by people)."""
        if isinstance(value, str) and "{" not in value:
            return value
        return default_environment().render_value(value, self.variables(run), hooks=self.hooks)

    def render_text(self, value: str, run: TaskRun | None) -> str:
        if "{" not in value:
            return value
        return default_environment().render(value, self.variables(run), hooks=self.hooks)


class _RunsById(Mapping[str, TaskRun]):
    """The draft's task runs by id, without building a dict (a task run's parents are read)."""

    __slots__ = ("_d",)

    def __init__(self, d: Draft) -> None:
        self._d = d

    def __getitem__(self, run_id: str) -> TaskRun:
        return self._d.runs[self._d.positions[run_id]]

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._d.positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._d.positions)

    def __len__(self) -> int:
        return len(self._d.positions)
