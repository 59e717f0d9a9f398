"""The engine's values: executions, task runs, attempts, labels, log lines.

Everything here is a frozen dataclass holding JSON-able data (inputs and outputs are stored as
JSON values: dates as ISO strings, durations as ISO-8601 text), so that an execution can be
written as one document, compared, and replayed. ``Execution.version`` is the compare-and-set
counter: every stored write checks it and increments it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from perch.engine.overlay import Overlay
from perch.engine.states import State, StateType

JSON = Any
"""A JSON-able value: None, bool, int, float, str, list of JSON, dict of str to JSON."""

DEFAULT_TENANT = "main"


class _Same:
    """The type of :data:`_SAME`: "leave this field as it is"."""


_SAME = _Same()


@dataclass(frozen=True, slots=True)
class Label:
    """A key/value label on an execution; ``system.*`` keys are set by Perch."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at running a task run (retries and re-claimed jobs add attempts)."""

    state: State
    worker_id: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One run of one task (one per ForEach value), inside one execution."""

    id: str
    task_id: str
    state: State
    parent_task_run_id: str | None = None
    value: str | None = None
    """The ForEach value this run belongs to (``taskrun.value``)."""
    iteration: int | None = None
    attempts: tuple[Attempt, ...] = ()
    outputs: Mapping[str, JSON] | None = None

    def with_state(self, state: StateType, now: datetime) -> TaskRun:
        return self.evolve(state=self.state.with_state(state, now))

    def evolve(
        self,
        *,
        state: State | None = None,
        attempts: tuple[Attempt, ...] | None = None,
        outputs: Mapping[str, JSON] | _Same | None = _SAME,
    ) -> TaskRun:
        """A copy with ``state``, ``attempts`` or ``outputs`` changed: ``dataclasses.replace``
        without its cost, for the transitions' hot path."""
        return TaskRun(
            id=self.id,
            task_id=self.task_id,
            state=self.state if state is None else state,
            parent_task_run_id=self.parent_task_run_id,
            value=self.value,
            iteration=self.iteration,
            attempts=self.attempts if attempts is None else attempts,
            outputs=self.outputs if isinstance(outputs, _Same) else outputs,
        )


@dataclass(frozen=True, slots=True)
class ParentRef:
    """Where a subflow execution came from: the parent execution and its Subflow task run."""

    execution_id: str
    task_run_id: str
    namespace: str
    flow_id: str


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of one flow revision."""

    id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: State
    tenant: str = DEFAULT_TENANT
    task_runs: tuple[TaskRun, ...] = ()
    inputs: Mapping[str, JSON] = field(default_factory=dict)
    outputs: Mapping[str, JSON] | None = None
    labels: tuple[Label, ...] = ()
    variables: Mapping[str, JSON] | None = None
    trigger: Mapping[str, JSON] | None = None
    parent: ParentRef | None = None
    original_id: str | None = None
    """For a replay: the execution it was replayed from."""
    metadata: Mapping[str, JSON] = field(default_factory=dict)
    """Engine bookkeeping kept with the execution (e.g. ``attemptNumber``, manual pause flag)."""
    version: int = 0

    def with_version(self, version: int) -> Execution:
        """A copy at another version: ``dataclasses.replace`` without its cost (the store and
        the executor re-version every execution they write)."""
        return Execution(
            self.id,
            self.namespace,
            self.flow_id,
            self.flow_revision,
            self.state,
            self.tenant,
            self.task_runs,
            self.inputs,
            self.outputs,
            self.labels,
            self.variables,
            self.trigger,
            self.parent,
            self.original_id,
            self.metadata,
            version,
        )

    def task_run(self, task_run_id: str) -> TaskRun:
        """The task run with this id (``KeyError`` when there is none)."""
        runs = self.task_runs
        return runs[run_index(runs).positions[task_run_id]]

    def label(self, key: str) -> str | None:
        for label in self.labels:
            if label.key == key:
                return label.value
        return None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log line of an execution (from a task, or from the engine itself)."""

    execution_id: str
    timestamp: datetime
    level: str
    message: str
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int = 0


RunKey = tuple[str, str | None, str | None]
"""A task run's place in the tree: (task id, parent task run id, ForEach value)."""


@dataclass(frozen=True, slots=True)
class RunIndex:
    """Where each task run of one ``task_runs`` tuple is: by id, and by its place in the tree.

    Read-only once made: a transition that changes the runs copies it (see ``Draft``)."""

    runs: tuple[TaskRun, ...]
    positions: Overlay[str, int]
    keys: Overlay[RunKey, str]


_INDEX_LIMIT = 64
_indexes: OrderedDict[int, RunIndex] = OrderedDict()
_indexes_lock = threading.Lock()


def run_index(runs: tuple[TaskRun, ...]) -> RunIndex:
    """The index of ``runs``, made once per tuple: an execution of 20,000 task runs goes
    through many transitions, and indexing it again at each would cost each one O(n)."""
    with _indexes_lock:
        found = _indexes.get(id(runs))
        if found is not None and found.runs is runs:
            _indexes.move_to_end(id(runs))
            return found
    index = RunIndex(
        runs,
        Overlay({run.id: i for i, run in enumerate(runs)}),
        Overlay({(run.task_id, run.parent_task_run_id, run.value): run.id for run in runs}),
    )
    remember_index(index)
    return index


def remember_index(index: RunIndex) -> None:
    """Keep ``index`` (which holds its tuple, so the tuple's id cannot be reused meanwhile)."""
    if len(index.runs) < 64:
        return  # small executions index faster than they look up
    with _indexes_lock:
        _indexes[id(index.runs)] = index
        _indexes.move_to_end(id(index.runs))
        while len(_indexes) > _INDEX_LIMIT:
            _indexes.popitem(last=False)
