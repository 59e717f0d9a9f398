"""``log.Fetch``: the log lines of an execution, written to a ``kestra:///`` file of this task
run (:mod:`perch.engine.actinghooks`), one JSON object per line; outputs ``uri`` and
``size``."""

from __future__ import annotations

from perch.engine.actinghooks import FETCH_LOGS
from perch.engine.states import StateType
from perch.flows.tasks.logfetch import Fetch
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.execution import hook, target


def run_fetch(task: Fetch, context: RunContext) -> TaskOutcome:
    """Fetch the lines at ``level`` or above, of ``tasksId`` (every task by default)."""
    execution_id, namespace, flow_id = target(task, context)
    task_ids = None if task.tasksId is None else [context.render_text(t) for t in task.tasksId]
    uri, size = hook(context, FETCH_LOGS)(
        execution_id, namespace, flow_id, task_ids, task.level, task_run_id=context.task_run_id
    )
    return TaskOutcome(StateType.SUCCESS, outputs={"uri": uri, "size": size})
