"""The core runnable tasks: Log, Echo (deprecated), Return, OutputValues and Fail."""

from __future__ import annotations

from perch.engine.states import StateType
from perch.flows.tasks.core import Echo, Fail, Log, OutputValues, Return
from perch.tasks.context import RunContext, TaskOutcome
from perch.templating.values import truthy

DEFAULT_FAIL_MESSAGE = "Task failure"


def run_log(task: Log, context: RunContext) -> TaskOutcome:
    """Each message (one, or each item of a list) becomes a log line at ``level``."""
    messages = task.message if isinstance(task.message, list) else [task.message]
    level = str(context.render(task.level)).upper()
    lines = tuple((level, context.render_text(message)) for message in messages)
    return TaskOutcome(StateType.SUCCESS, logs=lines)


def run_echo(task: Echo, context: RunContext) -> TaskOutcome:
    """The deprecated Echo: ``format`` rendered, as one log line at ``level``."""
    level = str(context.render(task.level)).upper()
    return TaskOutcome(StateType.SUCCESS, logs=((level, context.render_text(task.format)),))


def run_return(task: Return, context: RunContext) -> TaskOutcome:
    """``format`` rendered to text, as the output ``value``."""
    value = None if task.format is None else context.render_text(task.format)
    return TaskOutcome(StateType.SUCCESS, outputs={"value": value})


def run_output_values(task: OutputValues, context: RunContext) -> TaskOutcome:
    """``values`` rendered (typed), as the output ``values``."""
    return TaskOutcome(StateType.SUCCESS, outputs={"values": context.render(task.values or {})})


def run_fail(task: Fail, context: RunContext) -> TaskOutcome:
    """FAILED with ``errorMessage`` when ``condition`` is absent or truthy, else SUCCESS."""
    if task.condition is not None and not truthy(context.render(task.condition)):
        return TaskOutcome(StateType.SUCCESS)
    message = DEFAULT_FAIL_MESSAGE
    if task.errorMessage is not None:
        message = context.render_text(task.errorMessage)
    return TaskOutcome(StateType.FAILED, error=message)
