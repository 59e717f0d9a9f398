"""Stepping a Dag: each task starts once every task it depends on has ended without failing.

Like a Parallel's branches, the Dag's task runs start in rounds, at most ``concurrent`` running
at once (0: no limit): each round settles the runs that exist, then starts every task whose
dependencies are all settled. A failure stops new starts; the Dag fails once the running ones
end. A disabled task counts as settled for the tasks that depend on it.
"""

from __future__ import annotations

from collections.abc import Callable

from perch.engine.draft import Draft
from perch.engine.model import TaskRun
from perch.engine.starting import as_int, start_run
from perch.engine.states import StateType
from perch.errors import PerchError
from perch.flows.tasks.dag import Dag

Status = StateType | None
Resolve = Callable[[Draft, TaskRun], Status]


def step_dag(d: Draft, task: Dag, run: TaskRun, resolve: Resolve) -> Status:
    """Drive the Dag's task runs; ``None`` while some are running or still to start."""
    limit = as_int(d, task.concurrent, run)
    if limit < 0:
        raise PerchError(f"A concurrency limit must be 0 (no limit) or more, got {limit}")
    depends = task.depends()
    tasks = task.entry_tasks()
    disabled = {t.id for t in tasks if t.disabled}
    while True:
        result = StateType.SUCCESS
        failed: StateType | None = None
        settled = set(disabled)
        active = 0
        missing = []
        for child in tasks:
            if child.disabled:
                continue
            child_run = d.find(child.id, run.id, run.value)
            if child_run is None:
                missing.append(child)
                continue
            status = resolve(d, child_run)
            if status is None:
                active += 1
            elif status.is_failed:
                failed = failed or status
            else:
                settled.add(child.id)
                if status is StateType.WARNING:
                    result = StateType.WARNING
        ready = [t for t in missing if all(dep in settled for dep in depends.get(t.id, ()))]
        room = len(ready) if not limit else min(len(ready), limit - active)
        if failed is None and room > 0:
            for child in ready[:room]:
                start_run(d, child, run, run.value, run.iteration)
            continue
        if active:
            return None
        if failed is None and missing:
            # Validation refuses cycles: this is a flow changed under a running execution.
            names = ", ".join(t.id for t in missing)
            raise PerchError(f"Dag '{task.id}': tasks {names} wait for tasks that never end")
        return failed or result
