"""Stepping a WorkingDirectory, and where its shared directory is kept between its children.

The children run one after the other like a Sequential's, each on whichever worker claims it.
Between them, the directory lives in the execution's files as a tar archive keyed by the
WorkingDirectory's task run (:func:`archive_uri`): before a script child runs, its worker
unpacks the archive into the child's fresh directory, and after the child succeeded it packs
the directory back. Other children (Log, Return, http.Request…) run as usual and leave it be.

The internal ``<id>_inputFiles`` task, when there are input files, runs first and writes the
first archive; the internal ``<id>_outputFiles`` task, when ``outputFiles`` is set, runs after
the children succeeded and stores the matching files; its ``outputFiles`` become the
WorkingDirectory's own outputs (Kestra's ``outputFiles``: name to ``kestra:///`` URI). When the
WorkingDirectory ends, however it ends, the archive is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from perch.engine.draft import Draft
from perch.engine.effects import DeleteFile
from perch.engine.filehooks import prefix_of
from perch.engine.flowindex import flow_index
from perch.engine.model import Execution, TaskRun
from perch.engine.states import StateType
from perch.flows import Flow, Task
from perch.flows.tasks.workingdir import WorkingDirectory

Status = StateType | None
StepList = Callable[..., Status]

ARCHIVE_NAME = ".perch-workingdir.tar"


def archive_uri(namespace: str, flow_id: str, execution_id: str, task_run_id: str) -> str:
    """The ``kestra:///`` URI of the shared directory's archive of one WorkingDirectory run."""
    return f"{prefix_of(namespace, flow_id, execution_id)}{task_run_id}/{ARCHIVE_NAME}"


def shared_archive(flow: Flow, execution: Execution, run: TaskRun) -> str | None:
    """The archive URI the worker uses for ``run``: set when its parent is a WorkingDirectory."""
    parent_id = run.parent_task_run_id
    if parent_id is None:
        return None
    parent = execution.task_run(parent_id)
    if not isinstance(flow_index(flow).task(parent.task_id), WorkingDirectory):
        return None
    return archive_uri(execution.namespace, execution.flow_id, execution.id, parent.id)


def discard_archives(d: Draft) -> None:
    """Delete the archives of the WorkingDirectory runs still going (the execution is killed)."""
    execution = d.original
    for run in d.runs:
        if not run.state.current.is_terminated and isinstance(d.task(run), WorkingDirectory):
            uri = archive_uri(execution.namespace, execution.flow_id, execution.id, run.id)
            d.emit(DeleteFile(uri))


def _warnings(d: Draft, task: WorkingDirectory, run: TaskRun) -> None:
    if task.cache is not None:
        d.log(
            "WARN",
            "WorkingDirectory cache is not supported: it is ignored and the directory starts "
            "empty on every run",
            run,
        )
    files = task.namespaceFiles
    if files is not None and files.get("enabled", True) not in (False, "false"):
        d.log(
            "WARN",
            "namespaceFiles are not supported yet: the working directory holds only inputFiles",
            run,
        )


def step_workingdir(d: Draft, task: WorkingDirectory, run: TaskRun, step_list: StepList) -> Status:
    """Drive the WorkingDirectory's task runs in order; ``None`` while one is still going."""
    main_tasks: Sequence[Task] = (
        [task.inputs_task, *task.tasks] if task.inputs_task is not None else task.tasks
    )
    first = next((t for t in main_tasks if not t.disabled), None)
    if first is not None and d.find(first.id, run.id, run.value) is None:
        _warnings(d, task, run)
    status = step_list(d, main_tasks, run, run.value, 1, iteration=run.iteration)
    if status is None:
        return None
    collect = task.outputs_task
    if collect is not None and not status.is_failed:
        collected = step_list(d, [collect], run, run.value, 1, iteration=run.iteration)
        if collected is None:
            return None
        collect_run = d.find(collect.id, run.id, run.value)
        files = None if collect_run is None else (collect_run.outputs or {}).get("outputFiles")
        if files is not None:
            d.put(d.run(run.id).evolve(outputs={"outputFiles": files}))
        status = collected if collected.is_failed else status
    d.emit(DeleteFile(archive_uri(d.original.namespace, d.original.flow_id, d.original.id, run.id)))
    return status
