"""Looking into one execution without changing it: its flow's graph with its task runs, and an
expression evaluated in its context (Kestra's ``/graph`` and ``/eval``).

The caller checks that the principal may read the execution. An evaluation is sandboxed as
every rendering is (time, size and loop budgets) and sees the execution's data only: the
variables a task of it would see, without ``envs``. ``secret()``, ``kv()`` and ``read()``, which
reach beyond the execution, are refused with an error, as are the functions only a running task
has. Values that came from a SECRET input or a secret are masked in the result, as everywhere
else they are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perch.engine.context import context_for, reading
from perch.engine.flowgraph import FlowGraph, flow_graph
from perch.engine.model import Execution, TaskRun
from perch.engine.variables import run_variables
from perch.errors import InvalidRequest, NotFound, TemplateError, TemplateSecurityError
from perch.flows import Flow
from perch.templating import default_environment
from perch.templating.taint import MASK, Secret, masked

MAX_EXPRESSION = 64 * 1024
"""The longest expression (in characters) the eval API evaluates."""

REFUSED_FUNCTIONS = ("secret", "kv", "read")
"""Functions an evaluation may not call: they read beyond the execution (a secret, the KV
store, files), which reading the execution does not allow."""


class TaskRunNotFound(NotFound):
    """The task run does not exist in this execution."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What an expression gave (``result``), or why it could not be evaluated (``error``)."""

    result: str | None = None
    error: str | None = None


def _flow_of(store: Any, execution: Execution) -> Flow:
    ctx = context_for(store)
    with reading(store) as tx:
        return ctx.flow_for(tx, execution)


def execution_graph(store: Any, execution: Execution) -> FlowGraph:
    """The graph of the flow revision ``execution`` ran, each task with its latest task run."""
    return flow_graph(_flow_of(store, execution), execution)


def _refusal(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        del args, kwargs
        raise TemplateSecurityError(
            f"{name}() is not evaluated here: evaluating an expression in an execution's "
            "context may read that execution only"
        )

    return refuse


_HOOKS: Mapping[str, Callable[..., Any]] = {name: _refusal(name) for name in REFUSED_FUNCTIONS}


def _task_run(execution: Execution, task_run_id: str) -> TaskRun:
    for run in execution.task_runs:
        if run.id == task_run_id:
            return run
    raise TaskRunNotFound(f"Task run '{task_run_id}' not found in execution '{execution.id}'.")


def evaluate(
    store: Any, execution: Execution, expression: str, task_run_id: str | None = None
) -> Evaluation:
    """Render ``expression`` as a task of ``execution`` would (as the task of ``task_run_id``
    when given: ``taskrun``, ``parent``…); a failed rendering is an :class:`Evaluation` with
    its error, not an exception. :class:`TaskRunNotFound` for an unknown task run."""
    if len(expression) > MAX_EXPRESSION:
        raise InvalidRequest(
            f"the expression is {len(expression)} characters long; at most {MAX_EXPRESSION}"
        )
    run = None if task_run_id is None else _task_run(execution, task_run_id)
    flow = _flow_of(store, execution)
    variables = run_variables(flow, execution, run)
    variables.pop("envs", None)
    try:
        rendered = default_environment().render(expression, variables, hooks=_HOOKS)
    except TemplateError as error:
        return Evaluation(error=_without_secrets(str(error), execution))
    return Evaluation(result=str(masked(rendered)))


def _without_secrets(text: str, execution: Execution) -> str:
    # An error message is plain text that may quote a value it could not use: the execution's
    # SECRET values are taken out of it (longest first, so that none is left in part).
    found: set[str] = set()
    _collect(execution.inputs, found)
    for run in execution.task_runs:
        _collect(run.outputs, found)
    for secret in sorted(found, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _collect(value: Any, into: set[str]) -> None:
    if isinstance(value, Secret):
        if value:
            into.add(str.__str__(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, into)
