"""Who acts: every action the engine records carries a principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from perch.permissions import Grants


class PrincipalKind(StrEnum):
    USER = "USER"
    SERVICE_ACCOUNT = "SERVICE_ACCOUNT"
    SYSTEM = "SYSTEM"
    FLOW = "FLOW"
    """A flow acting through one of its tasks (Resume, Labels, Toggle…), never a person."""


@dataclass(frozen=True, slots=True)
class Principal:
    """A user, a service account, a flow acting through a task, or Perch itself (timers,
    triggers)."""

    name: str
    kind: PrincipalKind = PrincipalKind.USER
    tenant: str | None = field(default=None, compare=False)
    """A service account's tenant: the only one it may act in (users reach tenants through
    their roles). Not part of equality: a principal is known by its kind and name."""
    grants: Grants | None = field(default=None, compare=False, repr=False)
    """What it may do in the tenant of the request (set by the API from its bindings). None for
    callers that are not checked: Perch itself, and the local CLI on its own data folder."""

    @property
    def is_system(self) -> bool:
        return self.kind is PrincipalKind.SYSTEM


SYSTEM = Principal("perch", PrincipalKind.SYSTEM)
"""The principal of what Perch does by itself: timers firing, triggers, queued starts."""
