"""The deprecated state tasks: ``state.Set``, ``state.Get`` and ``state.Delete``, a map of values
per flow (or per namespace) and ``name``, kept in the KV store (:mod:`perch.engine.statehooks`).

They answer to their class names only: the short aliases ``Set``, ``Get`` and ``Delete`` stay
the kv tasks'.
"""

from __future__ import annotations

from typing import Any, ClassVar

from perch.flows.properties import DynBool, Text
from perch.flows.tasks.base import Task


class _StateTask(Task):
    short_alias: ClassVar[bool] = False

    name: Text = "default"
    namespace: DynBool = False
    """Shared by the flows of the namespace instead of this flow's own."""
    taskrunValue: DynBool = True
    """Isolated by ForEach value (``taskrun.value``)."""


class StateSet(_StateTask):
    """Merge ``data`` into the state; outputs ``count`` (its entries) and ``key``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.state.Set",
        "io.kestra.core.tasks.states.Set",
    )

    data: dict[str, Any] | None = None


class StateGet(_StateTask):
    """The state as the output ``data`` (``{}`` when missing, unless ``errorOnMissing``), and
    its ``count``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.state.Get",
        "io.kestra.core.tasks.states.Get",
    )

    errorOnMissing: DynBool = False


class StateDelete(_StateTask):
    """Delete the state; the output ``deleted`` says whether it existed."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.state.Delete",
        "io.kestra.core.tasks.states.Delete",
    )

    errorOnMissing: DynBool = False


MODELS: tuple[type[Task], ...] = (StateSet, StateGet, StateDelete)
