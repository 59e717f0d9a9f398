"""What a worker may claim: its worker group, task type patterns and namespace prefixes.

A job carries the worker group of its task (``workerGroup.key``), the task's type and the
execution's namespace. A worker of group ``gpu`` takes only ``gpu`` jobs; a worker without a
group only jobs without one (Kestra's rule: a task without ``workerGroup`` runs on the default
group). Type patterns (``io.kestra.plugin.scripts.*``) and namespace prefixes (``company.team``
covers ``company.team.sub``) narrow that further; without them the worker takes every type and
namespace. The store turns a filter into SQL (:mod:`perch.store.workqueue`); :meth:`matches` is
the same rule for jobs held in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from perch.errors import InvalidWorkerFilter

GROUP_KEY = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
"""A worker group key (Kestra's pattern)."""

_TYPE_PATTERN = re.compile(r"[A-Za-z0-9_.*]+")
_NAMESPACE = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
MAX_ENTRIES = 100


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs one worker claims (the default: jobs without a worker group, any type and
    namespace)."""

    group: str | None = None
    task_types: tuple[str, ...] = ()
    """Type patterns, ``*`` standing for any characters (``io.kestra.plugin.core.http.*``)."""
    namespaces: tuple[str, ...] = ()
    """Namespace prefixes: ``company`` covers ``company`` and ``company.team``."""

    @classmethod
    def of(
        cls,
        group: str | None = None,
        task_types: Iterable[str] = (),
        namespaces: Iterable[str] = (),
    ) -> JobFilter:
        """A checked filter; :class:`InvalidWorkerFilter` names the value that is wrong."""
        group = group.strip() if group is not None else None
        if group == "":
            group = None
        if group is not None and not GROUP_KEY.fullmatch(group):
            raise InvalidWorkerFilter(
                f"--worker-group '{group}' must match [a-zA-Z0-9][a-zA-Z0-9_-]* "
                "(letters, digits, '_' and '-')"
            )
        types = _entries(task_types)
        for pattern in types:
            if not _TYPE_PATTERN.fullmatch(pattern):
                raise InvalidWorkerFilter(
                    f"--task-types '{pattern}' is not a task type pattern "
                    "(letters, digits, '.', '_' and '*')"
                )
        spaces = tuple(ns.rstrip(".") for ns in _entries(namespaces))
        for namespace in spaces:
            if not _NAMESPACE.fullmatch(namespace):
                raise InvalidWorkerFilter(f"--namespaces '{namespace}' is not a namespace")
        if len(types) > MAX_ENTRIES or len(spaces) > MAX_ENTRIES:
            raise InvalidWorkerFilter(f"a worker takes at most {MAX_ENTRIES} types or namespaces")
        return cls(group, types, spaces)

    @property
    def is_default(self) -> bool:
        """Whether this is the worker that takes everything without a group."""
        return self.group is None and not self.task_types and not self.namespaces

    def matches(self, group: str | None, task_type: str | None, namespace: str | None) -> bool:
        """Whether a job of this group, task type and namespace is this worker's."""
        if group != self.group:
            return False
        if self.task_types and not any(
            _type_matches(pattern, task_type or "") for pattern in self.task_types
        ):
            return False
        return not self.namespaces or any(
            namespace is not None and (namespace == prefix or namespace.startswith(prefix + "."))
            for prefix in self.namespaces
        )

    def describe(self) -> str:
        """One line for logs and listings."""
        parts = [f"group '{self.group}'" if self.group else "no group"]
        if self.task_types:
            parts.append("types " + ", ".join(self.task_types))
        if self.namespaces:
            parts.append("namespaces " + ", ".join(self.namespaces))
        return "; ".join(parts)


def _entries(values: Iterable[str]) -> tuple[str, ...]:
    """Values given as several options or comma-separated, without blanks or repeats."""
    seen: list[str] = []
    for value in values:
        for part in value.split(","):
            item = part.strip()
            if item and item not in seen:
                seen.append(item)
    return tuple(seen)


def _type_matches(pattern: str, task_type: str) -> bool:
    if "*" not in pattern:
        return pattern == task_type
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, task_type) is not None


def like_pattern(pattern: str) -> str:
    """The SQL LIKE form of a type pattern (``\\`` escapes; ``_`` is literal in task types)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def like_prefix(namespace: str) -> str:
    """The SQL LIKE form of "a namespace under ``namespace``"."""
    return namespace.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"
