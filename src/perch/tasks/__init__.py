"""Runnable tasks: what a worker does with a task run it claimed.

``run_task(task, context)`` never raises for a task that fails: a render error, a failing
condition, a task type that is not implemented yet all come back as a FAILED
:class:`TaskOutcome` with the error text. The error is not repeated in ``logs``: the engine
writes it as an ERROR log line when it records the result (``TaskResult.error``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perch.engine.states import StateType
from perch.errors import PerchError
from perch.flows import Task
from perch.flows.tasks.core import Echo, Fail, Log, OutputValues, Return
from perch.flows.tasks.execution import Labels, Resume
from perch.flows.tasks.http import Request
from perch.flows.tasks.kv import KvDelete, KvGet, KvSet
from perch.flows.tasks.logfetch import Fetch
from perch.flows.tasks.loops import ForEachItemSplit
from perch.flows.tasks.notifications import (
    MailExecution,
    MailSend,
    SlackExecution,
    SlackIncomingWebhook,
    TeamsExecution,
    TeamsIncomingWebhook,
)
from perch.flows.tasks.scripts import PythonCommands, PythonScript, ShellCommands, ShellScript
from perch.flows.tasks.state import StateDelete, StateGet, StateSet
from perch.flows.tasks.triggertoggle import Toggle
from perch.flows.tasks.workingdir import WorkingDirectoryInputs, WorkingDirectoryOutputs
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.core import run_echo, run_fail, run_log, run_output_values, run_return
from perch.tasks.execution import run_labels, run_resume
from perch.tasks.foreachitem import run_foreach_split
from perch.tasks.http import run_request
from perch.tasks.kv import run_kv_delete, run_kv_get, run_kv_set
from perch.tasks.logfetch import run_fetch
from perch.tasks.mail import run_mail_send
from perch.tasks.scripts import (
    run_python_commands,
    run_python_script,
    run_shell_commands,
    run_shell_script,
)
from perch.tasks.shareddir import run_input_files, run_output_files
from perch.tasks.state import run_state_delete, run_state_get, run_state_set
from perch.tasks.summary import run_mail_execution, run_slack_execution, run_teams_execution
from perch.tasks.triggertoggle import run_toggle
from perch.tasks.webhooks import run_slack_incoming_webhook, run_teams_incoming_webhook

Runner = Callable[[Any, RunContext], TaskOutcome]

_RUNNERS: dict[type[Task], Runner] = {
    Log: run_log,
    Return: run_return,
    OutputValues: run_output_values,
    Fail: run_fail,
    KvSet: run_kv_set,
    KvGet: run_kv_get,
    KvDelete: run_kv_delete,
    Request: run_request,
    SlackIncomingWebhook: run_slack_incoming_webhook,
    TeamsIncomingWebhook: run_teams_incoming_webhook,
    MailSend: run_mail_send,
    MailExecution: run_mail_execution,
    SlackExecution: run_slack_execution,
    TeamsExecution: run_teams_execution,
    ShellCommands: run_shell_commands,
    ShellScript: run_shell_script,
    PythonCommands: run_python_commands,
    PythonScript: run_python_script,
    Echo: run_echo,
    Labels: run_labels,
    Resume: run_resume,
    Fetch: run_fetch,
    Toggle: run_toggle,
    StateSet: run_state_set,
    StateGet: run_state_get,
    StateDelete: run_state_delete,
    ForEachItemSplit: run_foreach_split,
    WorkingDirectoryInputs: run_input_files,
    WorkingDirectoryOutputs: run_output_files,
}


def runs_here(task: Task) -> bool:
    """Whether this server can run ``task``: the engine's own tasks (flowables, Pause, Sleep,
    Fail…) and the worker tasks with a runner; any other type fails at run time."""
    from perch.engine.starting import is_worker_task

    return not is_worker_task(task) or type(task) in _RUNNERS


def run_task(task: Task, context: RunContext) -> TaskOutcome:
    """Run one attempt of a runnable ``task``; failures are outcomes, never exceptions."""
    runner = _RUNNERS.get(type(task))
    if runner is None:
        return TaskOutcome(StateType.FAILED, error=f"task type {task.type} is not supported yet")
    if context.cancelled.is_set():
        return TaskOutcome(StateType.KILLED, error="The task was cancelled")
    try:
        return runner(task, context)
    except PerchError as exc:
        return TaskOutcome(StateType.FAILED, error=str(exc))


__all__ = ["RunContext", "TaskOutcome", "run_task"]
