"""Which model reads which ``type``: the task and trigger registries.

Every model declares its type names (the Kestra class name first, then older class names). The
registry adds the class's last segment (``Pause``, ``Log``) as a short alias when no other model
claims the same one, unless the model opts out (``short_alias = False``). Third-party packages
add task models through the ``perch.tasks`` entry point group
(``name = "package.module:ModelClass"``); a plugin never replaces a built-in name.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from perch.errors import PerchError
from perch.flows.tasks import BUILTIN_TASKS, Task
from perch.flows.triggers import BUILTIN_TRIGGERS, Trigger

ENTRY_POINT_GROUP = "perch.tasks"

M = TypeVar("M", Task, Trigger)


class RegistryError(PerchError):
    """A task model could not be registered."""


@dataclass
class Registry(Generic[M]):
    """Maps every accepted type name to its model."""

    kind: str
    _by_name: dict[str, type[M]] = field(default_factory=dict)
    _short: dict[str, list[type[M]]] = field(default_factory=dict)
    _builtin: set[str] = field(default_factory=set)
    load_errors: list[str] = field(default_factory=list)

    def register(self, model: type[M], *, builtin: bool = False) -> None:
        """Register ``model`` under its declared type names (and its short alias, if free)."""
        names = tuple(getattr(model, "type_names", ()))
        if not names:
            raise RegistryError(f"{model.__qualname__} declares no type_names")
        for name in names:
            owner = self._by_name.get(name)
            if owner is not None and owner is not model and (name in self._builtin or not builtin):
                raise RegistryError(
                    f"{self.kind} type '{name}' is already registered by {owner.__qualname__}"
                )
            self._by_name[name] = model
            if builtin:
                self._builtin.add(name)
        if not getattr(model, "short_alias", True):
            return  # a deprecated type that must not take an alias from a current one
        short = names[0].rsplit(".", 1)[-1]
        claimants = self._short.setdefault(short, [])
        if model not in claimants:
            claimants.append(model)

    def resolve(self, name: str) -> type[M] | None:
        """The model for ``name`` (a class name, an older class name or a short alias)."""
        model = self._by_name.get(name)
        if model is not None:
            return model
        claimants = self._short.get(name, [])
        builtins = [m for m in claimants if m.type_names[0] in self._builtin]
        if len(claimants) == 1:
            return claimants[0]
        if len(builtins) == 1:
            # A plugin must not change what an existing flow's short alias means.
            return builtins[0]
        return None

    def names(self) -> list[str]:
        """Every accepted name: class names, older names and unambiguous short aliases."""
        shorts: list[str] = [
            short
            for short in self._short
            if short not in self._by_name and self.resolve(short) is not None
        ]
        return sorted([*self._by_name, *shorts])

    def models(self) -> list[type[M]]:
        """Every registered model, once each, in registration order."""
        seen: dict[type[M], None] = {}
        for model in self._by_name.values():
            seen.setdefault(model, None)
        return list(seen)

    def suggest(self, name: str) -> str | None:
        """The closest known name to ``name``, for a "did you mean" hint."""
        candidates = self.names()
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            return lowered[name.lower()]
        tail = name.rsplit(".", 1)[-1]
        for pool, probe in ((candidates, name), ([c for c in candidates if "." not in c], tail)):
            close = difflib.get_close_matches(probe, pool, n=1, cutoff=0.6)
            if close:
                found = self.resolve(close[0])
                return found.type_names[0] if found is not None and "." in name else close[0]
        return None

    def unknown_message(self, name: str) -> str:
        """The problem text for an unknown type, with a suggestion when one is close."""
        hint = self.suggest(name)
        message = f"unknown {self.kind} type '{name}'"
        return f"{message} (did you mean '{hint}'?)" if hint else message


def _load_plugins(registry: Registry[Task], group: str) -> None:
    for entry in entry_points(group=group):
        try:
            model = entry.load()
        except Exception as exc:  # a broken plugin must not stop flows from validating
            registry.load_errors.append(f"{entry.name} ({entry.value}): {exc}")
            continue
        if not (isinstance(model, type) and issubclass(model, Task)):
            registry.load_errors.append(
                f"{entry.name} ({entry.value}) is not a subclass of perch.flows.tasks.Task"
            )
            continue
        try:
            registry.register(model)
        except RegistryError as exc:
            registry.load_errors.append(f"{entry.name} ({entry.value}): {exc}")


def build_task_registry(
    extra: Iterable[type[Task]] = (), *, group: str | None = ENTRY_POINT_GROUP
) -> Registry[Task]:
    """A task registry with the built-in models, ``extra`` and the entry-point plugins."""
    registry: Registry[Task] = Registry("task")
    for model in BUILTIN_TASKS:
        registry.register(model, builtin=True)
    for model in extra:
        registry.register(model)
    if group is not None:
        _load_plugins(registry, group)
    return registry


def build_trigger_registry() -> Registry[Trigger]:
    """The trigger registry (built-in triggers only)."""
    registry: Registry[Trigger] = Registry("trigger")
    for model in BUILTIN_TRIGGERS:
        registry.register(model, builtin=True)
    return registry


@functools.cache
def default_task_registry() -> Registry[Task]:
    """The process-wide task registry, built (and plugins loaded) on first use.

    ``default_task_registry.cache_clear()`` rebuilds it, e.g. after installing a plugin.
    """
    return build_task_registry()


@functools.cache
def default_trigger_registry() -> Registry[Trigger]:
    """The process-wide trigger registry."""
    return build_trigger_registry()
