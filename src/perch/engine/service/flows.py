"""Deploying, listing and reading flows."""

from __future__ import annotations

from perch.engine.effects import Audit
from perch.engine.executor import (
    context_for,
    reading,
)
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store, StoredFlow
from perch.engine.principal import Principal
from perch.errors import (
    FlowNotFound,
)
from perch.flows import Flow, parse_flow


def deploy_flow(
    store: Store, source: str, principal: Principal, *, tenant: str = DEFAULT_TENANT
) -> StoredFlow:
    """Validate and store a flow; a changed source becomes a new revision.

    Raises :class:`perch.errors.FlowValidationError` listing every problem.
    """
    flow = parse_flow(source)
    ctx = context_for(store)
    with store.transaction() as tx:
        stored = tx.save_flow(
            StoredFlow(
                tenant=tenant, namespace=flow.namespace, id=flow.id, revision=0, source=source
            )
        )
        tx.add_audit(
            None,
            Audit(
                "FLOW_DEPLOYED",
                principal,
                {"namespace": flow.namespace, "flowId": flow.id, "revision": stored.revision},
            ),
            ctx.clock.now(),
        )
    ctx.remember((tenant, flow.namespace, flow.id, stored.revision), flow)
    return stored


def list_flows(
    store: Store, *, tenant: str = DEFAULT_TENANT, namespace_prefix: str | None = None
) -> list[StoredFlow]:
    """The latest revision of every flow (under a namespace prefix)."""
    with reading(store) as tx:
        return tx.list_flows(tenant, namespace_prefix)


def get_flow(
    store: Store, namespace: str, flow_id: str, *, tenant: str = DEFAULT_TENANT
) -> tuple[StoredFlow, Flow]:
    """The latest revision of a flow, stored and parsed; :class:`FlowNotFound` if there is none."""
    ctx = context_for(store)
    with reading(store) as tx:
        stored = tx.get_flow(tenant, namespace, flow_id)
        if stored is None or stored.deleted:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' not found")
        return stored, ctx.flow(tx, tenant, namespace, flow_id, stored.revision)
