"""The execution tasks: ``execution.Labels`` and ``execution.Resume``.

Both act through the execution's hooks (:mod:`perch.engine.actinghooks`) as the flow, never as
the person who started it; a refusal (a ``system.`` label, an execution that is not paused,
one the flow may not reach, bad resume inputs) fails the task with the service's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from perch.engine.actinghooks import LABELS, RESUME
from perch.engine.states import StateType
from perch.errors import ActingTaskError
from perch.flows.tasks.execution import ExecutionTarget, Labels, Resume
from perch.tasks.context import RunContext, TaskOutcome

Target = tuple[str | None, str | None, str | None]
"""(executionId, namespace, flowId) as rendered; None where the task leaves them out."""


def hook(context: RunContext, name: str) -> Callable[..., Any]:
    """The execution hook ``name``; an error when this server offers none (a bare engine)."""
    found = context.hooks.get(name)
    if found is None:
        raise ActingTaskError(f"This task needs a server: the hook {name} is not available")
    return found


def target(task: ExecutionTarget, context: RunContext) -> Target:
    """The execution ``task`` names, rendered; a blank rendered value counts as not given."""

    def text(value: str | None) -> str | None:
        rendered = None if value is None else context.render_text(value).strip()
        return rendered or None

    return text(task.executionId), text(task.namespace), text(task.flowId)


def run_labels(task: Labels, context: RunContext) -> TaskOutcome:
    """Add the rendered labels to the execution; no outputs, as Kestra's."""
    labels = _rendered_labels(task.labels, context)
    hook(context, LABELS)(labels, task_id=task.id)
    return TaskOutcome(StateType.SUCCESS, outputs={})


def _rendered_labels(value: dict[str, str] | str, context: RunContext) -> dict[str, str]:
    if isinstance(value, dict):
        return {context.render_text(k): context.render_text(v) for k, v in value.items()}
    rendered = context.render(value)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            raise ActingTaskError(
                f"`labels` rendered to text that is not a JSON map: {rendered[:200]!r}"
            ) from None
    if isinstance(rendered, list):
        pairs = [item for item in rendered if isinstance(item, Mapping) and "key" in item]
        if len(pairs) != len(rendered):
            raise ActingTaskError("`labels` rendered to a list whose items are not {key, value}")
        rendered = {item["key"]: item.get("value") for item in pairs}
    if not isinstance(rendered, Mapping):
        raise ActingTaskError(
            f"`labels` must render to a map of labels, got {type(rendered).__name__}"
        )
    found: dict[str, str] = {}
    for key, item in rendered.items():
        if isinstance(item, Mapping | list) or item is None:
            raise ActingTaskError(f"The value of label '{key}' must be text, not {item!r:.80}")
        found[str(key)] = context.render_text(item) if not isinstance(item, str) else item
    return found


def run_resume(task: Resume, context: RunContext) -> TaskOutcome:
    """Resume the paused execution the task names (its own by default) with the rendered
    ``inputs``; no outputs, as Kestra's."""
    execution_id, namespace, flow_id = target(task, context)
    inputs = context.render(task.inputs or {})
    if not isinstance(inputs, Mapping):
        raise ActingTaskError("`inputs` must render to a map")
    resumed = hook(context, RESUME)(
        execution_id, dict(inputs), namespace=namespace, flow_id=flow_id, task_id=task.id
    )
    return TaskOutcome(
        StateType.SUCCESS, outputs={}, logs=(("INFO", f"Resumed execution {resumed}"),)
    )
