"""What a worker hands a runnable task: its variables, hooks, identity and a cancel flag."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perch.engine.states import StateType
from perch.templating import default_environment


@dataclass(frozen=True)
class TaskOutcome:
    """How one attempt of a runnable task ended: a failing task is an outcome, not an error."""

    state: StateType
    outputs: dict[str, Any] | None = None
    logs: tuple[tuple[str, str], ...] = ()
    """``(level, message)`` lines, in the order the task wrote them."""
    error: str | None = None


@dataclass
class RunContext:
    """The run-time context of one attempt (build ``variables`` with
    :func:`perch.engine.run_variables`)."""

    variables: Mapping[str, Any]
    hooks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    execution_id: str = ""
    task_run_id: str = ""
    attempt: int = 1
    cancelled: threading.Event = field(default_factory=threading.Event)
    shared_dir: str | None = None
    """The ``kestra:///`` archive of the WorkingDirectory this task runs in, if any."""

    def render(self, value: Any) -> Any:
        """Render a property written by the flow author: strings, and dicts/lists of them.

        A lone ``{{ expr }}`` keeps its type; other text renders to a string.
        """
        return default_environment().render_value(value, self.variables, hooks=self.hooks)

    def render_text(self, value: Any) -> str:
        """Render a property that must end up as text."""
        rendered = self.render(value)
        if isinstance(rendered, str):
            return rendered
        return default_environment().render("{{ value }}", {"value": rendered})
