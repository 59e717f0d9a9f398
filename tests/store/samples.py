"""Values the store tests build on."""

from __future__ import annotations

from datetime import UTC, datetime

from perch.engine.model import Execution, Label
from perch.engine.states import State

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_execution(
    execution_id: str,
    *,
    namespace: str = "company.team",
    flow_id: str = "hello",
    start: datetime = T0,
    labels: tuple[Label, ...] = (),
    tenant: str = "main",
) -> Execution:
    """A CREATED execution for tests."""
    return Execution(
        id=execution_id,
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=1,
        state=State.new(start),
        tenant=tenant,
        labels=labels,
    )
