"""``trigger.Toggle``: enable or disable a trigger through the trigger service, as the flow
(:mod:`perch.engine.actinghooks`); the trigger API shows the change at once."""

from __future__ import annotations

from perch.engine.actinghooks import TOGGLE
from perch.engine.states import StateType
from perch.flows.tasks.triggertoggle import Toggle
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.execution import hook
from perch.templating.values import truthy


def run_toggle(task: Toggle, context: RunContext) -> TaskOutcome:
    """Set the trigger's ``disabled`` to the opposite of ``enabled``; no outputs."""

    def text(value: str | None) -> str | None:
        return None if value is None else (context.render_text(value).strip() or None)

    trigger = context.render_text(task.trigger).strip()
    enabled = truthy(context.render(task.enabled))
    hook(context, TOGGLE)(
        text(task.namespace), text(task.flowId), trigger, enabled, task_id=task.id
    )
    line = f"Trigger '{trigger}' {'enabled' if enabled else 'disabled'}"
    return TaskOutcome(StateType.SUCCESS, outputs={}, logs=(("INFO", line),))
