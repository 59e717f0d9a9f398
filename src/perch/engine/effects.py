"""What a transition asks the outside world to do: the outputs of :func:`perch.engine.transition`.

The store writes every effect in the same transaction as the execution's new state, so a crash
never leaves a state change without its work items (or work items without their state change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from perch.engine.events import Event
from perch.engine.model import JSON, Execution, Label, LogEntry, ParentRef
from perch.engine.principal import Principal


@dataclass(frozen=True, slots=True)
class DispatchTask:
    """Queue a job for a worker: run attempt ``attempt`` of a runnable task run."""

    task_run_id: str
    task_id: str
    attempt: int
    task_type: str | None = None
    worker_group: str | None = None
    """The task's ``workerGroup.key``: only a worker of that group takes the job."""


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    """Write a timer row; the scheduler feeds it back as :class:`TimerFired` at ``due``."""

    timer_id: str
    due: datetime
    action: str
    task_run_id: str | None = None
    payload: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CancelTimers:
    """Delete pending timers of this execution (of these task runs, or all when ``None``)."""

    task_run_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class CreateExecution:
    """Insert another execution (a subflow, a replay, a triggered flow)."""

    execution: Execution


@dataclass(frozen=True, slots=True)
class StartSubflow:
    """Create a child execution of the latest revision of ``namespace``/``flow_id``.

    The engine cannot see the child's Flow, so the caller resolves ``inputs`` against it (an
    invalid input or a missing flow is answered with a FAILED :class:`SubflowEnded`) and creates
    the child with ``execution_id``, ``parent`` and ``correlation_id``. With ``wait`` the parent
    task run stays RUNNING until the caller delivers ``SubflowEnded`` for this child.
    """

    execution_id: str
    parent: ParentRef
    namespace: str
    flow_id: str
    correlation_id: str
    revision: int | None = None
    inputs: Mapping[str, JSON] = field(default_factory=dict)
    labels: tuple[Label, ...] = ()
    wait: bool = True
    transmit_failed: bool = True
    trigger: Mapping[str, JSON] | None = None
    """The child's ``trigger`` in Kestra's shape: ``{id, type, variables}``, the variables
    naming the parent (``executionId``, ``namespace``, ``flowId``, ``flowRevision``); pass it
    to ``new_execution(trigger=...)``."""
    outputs: Mapping[str, JSON] | None = None
    """The Subflow task's ``outputs`` map, rendered against the child when it ends: keep it in
    the child's metadata under :data:`perch.engine.flowoutputs.SUBFLOW_OUTPUTS_KEY`."""


@dataclass(frozen=True, slots=True)
class SendEvent:
    """Deliver ``event`` to another execution, durably (an outbox row the executor consumes)."""

    execution_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class PutFile:
    """Store ``content`` as the execution's file ``uri`` (replacing one already there)."""

    uri: str
    content: bytes


@dataclass(frozen=True, slots=True)
class DeleteFile:
    """Delete the execution's file ``uri`` when there is one."""

    uri: str


@dataclass(frozen=True, slots=True)
class EmitLog:
    """A log line written by the engine itself (e.g. "Flow restarted")."""

    entry: LogEntry


@dataclass(frozen=True, slots=True)
class Audit:
    """An audit record: who did what to which execution.

    The fields after ``detail`` are optional: the store derives what is left out (the tenant and
    namespace from the execution or the detail, the resource type from the execution id or the
    action's prefix, the channel from the principal or :func:`perch.engine.auditlog.audit_origin`,
    the outcome from the action).
    """

    action: str
    principal: Principal
    detail: Mapping[str, JSON] = field(default_factory=dict)
    tenant: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    namespace: str | None = None
    channel: str | None = None
    """API, UI, CLI, LINK or SYSTEM (:class:`perch.engine.auditlog.Channel`)."""
    address: str | None = None
    user_agent: str | None = None
    outcome: str | None = None
    """SUCCESS, DENIED, CONFLICT, UNAUTHORIZED…"""
    before: JSON = None
    """The state of the resource before the action (e.g. an execution's state)."""
    after: JSON = None

    def placed(self, tenant: str, namespace: str | None) -> Audit:
        """This record with ``tenant`` and ``namespace`` where it names none (the executor
        places a transition's records in their execution's tenant and namespace)."""
        if self.tenant is not None and self.namespace is not None:
            return self
        return replace(self, tenant=self.tenant or tenant, namespace=self.namespace or namespace)


@dataclass(frozen=True, slots=True)
class ExecutionEnded:
    """The execution reached a terminal state (frees a concurrency slot, fires Flow triggers)."""

    execution_id: str


Effect = (
    DispatchTask
    | ScheduleTimer
    | CancelTimers
    | CreateExecution
    | StartSubflow
    | SendEvent
    | PutFile
    | DeleteFile
    | EmitLog
    | Audit
    | ExecutionEnded
)
