"""Task models, one module per family, and the list of built-in task models."""

from __future__ import annotations

from perch.flows.tasks import (
    core,
    dag,
    execution,
    flowable,
    http,
    kv,
    logfetch,
    loops,
    notifications,
    pause,
    scripts,
    state,
    triggertoggle,
    workingdir,
)
from perch.flows.tasks.base import ChildShape, FlowableTask, Task, TaskKind

BUILTIN_TASKS: tuple[type[Task], ...] = (
    *core.MODELS,
    *flowable.MODELS,
    *dag.MODELS,
    *loops.MODELS,
    *pause.MODELS,
    *http.MODELS,
    *notifications.MODELS,
    *scripts.MODELS,
    *kv.MODELS,
    *execution.MODELS,
    *logfetch.MODELS,
    *triggertoggle.MODELS,
    *state.MODELS,
    *workingdir.MODELS,
)

__all__ = ["BUILTIN_TASKS", "ChildShape", "FlowableTask", "Task", "TaskKind"]
