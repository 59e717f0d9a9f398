"""``io.kestra.plugin.core.trigger.Toggle``: enable or disable a trigger of a flow."""

from __future__ import annotations

from typing import ClassVar

from perch.flows.properties import DynBool, Text
from perch.flows.tasks.base import Task


class Toggle(Task):
    """Enable (``enabled: true``) or disable (the default) the trigger ``trigger`` of the flow
    ``namespace``.``flowId`` (this flow by default)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Toggle",
        "io.kestra.core.tasks.trigger.Toggle",
    )

    namespace: Text | None = None
    flowId: Text | None = None
    trigger: Text
    enabled: DynBool = False


MODELS: tuple[type[Task], ...] = (Toggle,)
