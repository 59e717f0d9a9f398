"""Who a task acts as when it changes the engine's data: its flow, never a person.

The tasks that act on executions, triggers and states (``execution.Labels``,
``execution.Resume``, ``log.Fetch``, ``trigger.Toggle``, the ``state`` tasks) go through the same
service functions as the API, as a principal of kind ``FLOW`` named after the flow
(``<namespace>.<flowId>``). The person who started the execution lends it nothing: what the flow
may do comes with the principal, on the flow's own namespace and the namespaces below it only
(reading and changing executions, flows and their triggers, KV pairs). A task that reaches further
is refused as an API caller without the permission would be.

Its audit records say where the action came from: channel ``SYSTEM``, and as the user agent the
task and the execution that acted (:func:`acting`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from perch.engine.auditlog import AuditOrigin, Channel, audit_origin
from perch.engine.model import Execution
from perch.engine.principal import Principal, PrincipalKind
from perch.permissions import Action, Grant, Grants, Resource

_READ_WRITE = frozenset({Action.READ, Action.UPDATE})
_OWN = {
    Resource.EXECUTION: _READ_WRITE,
    Resource.FLOW: _READ_WRITE,
    Resource.KVSTORE: frozenset({Action.READ, Action.UPDATE, Action.DELETE}),
}


def flow_principal(execution: Execution) -> Principal:
    """The principal the tasks of ``execution`` act as, with its grants."""
    grants = Grants.of(execution.tenant, [Grant(execution.namespace, _OWN)])
    name = f"{execution.namespace}.{execution.flow_id}"
    return Principal(name, PrincipalKind.FLOW, execution.tenant, grants)


@contextlib.contextmanager
def acting(execution: Execution, task_id: str | None) -> Iterator[None]:
    """Audit records written inside the block come from ``task_id`` of ``execution``."""
    what = f"task {task_id} of execution {execution.id}" if task_id else f"execution {execution.id}"
    with audit_origin(AuditOrigin(channel=Channel.SYSTEM.value, user_agent=f"perch {what}")):
        yield
