"""Key-value store tasks: ``kv.Set``, ``kv.Get`` and ``kv.Delete`` (namespace-scoped)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from perch.flows.properties import Choice, Duration, DynBool, Text
from perch.flows.tasks.base import Task

KV_TYPES = ("STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON")


class _KvTask(Task):
    key: Text
    namespace: Text | None = None  # defaults to the flow's namespace


class KvSet(_KvTask):
    """Store ``value`` under ``key``, optionally typed (``kvType``) and expiring (``ttl``)."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.kv.Set",)

    value: Any
    overwrite: DynBool = True
    ttl: Duration | None = None
    kvType: Annotated[str, Choice(*KV_TYPES)] | None = None
    kvDescription: Text | None = None


class KvGet(_KvTask):
    """Read ``key`` into the output ``value``."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.kv.Get",)

    errorOnMissing: DynBool = False


class KvDelete(_KvTask):
    """Delete ``key``; the output ``deleted`` says whether it existed."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.kv.Delete",)

    errorOnMissing: DynBool = False


MODELS: tuple[type[Task], ...] = (KvSet, KvGet, KvDelete)
