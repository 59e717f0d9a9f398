"""Deploying, updating, deleting and reading flows and their revisions.

Every write validates the source with the same validator as ``perch flow validate`` and records
the acting principal in the audit trail. A revision never changes once written; deleting a flow
writes a deletion marker, so executions pinned to an earlier revision keep loading their flow.
"""

from __future__ import annotations

from perch.engine.access import allowed, denial
from perch.engine.effects import Audit
from perch.engine.executor import EngineContext, context_for, reading
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store, StoredFlow, Transaction
from perch.engine.principal import Principal
from perch.engine.schedules import trigger_rows
from perch.engine.wakeup import SCHEDULES
from perch.errors import FlowNotFound, FlowValidationError, Problem
from perch.flows import Flow, parse_flow
from perch.flows.yamlsource import load_yaml
from perch.permissions import Action, Resource

RevisionRead = tuple[StoredFlow, Flow | None]
"""A stored revision and its parsed flow (``None`` when the source no longer validates)."""


def _not_found(namespace: str, flow_id: str, revision: int | None = None) -> FlowNotFound:
    which = f" revision {revision}" if revision is not None else ""
    return FlowNotFound(f"Flow '{namespace}.{flow_id}'{which} not found")


def _problem_at(source: str, key: str, message: str) -> Problem:
    """A problem about the top-level ``key`` of ``source``, located at that key's line."""
    position = load_yaml(source).keys.get((key,))
    return Problem(
        key,
        message,
        position.line if position else None,
        position.column if position else None,
    )


def _save(
    tx: Transaction,
    ctx: EngineContext,
    *,
    tenant: str,
    flow: Flow,
    source: str,
    principal: Principal,
    action: str,
    exists: bool | None = None,
    **detail: str | int,
) -> StoredFlow:
    """Store the flow and its audit record. ``exists`` when the caller already knows whether
    the flow is there (FLOW:UPDATE is then needed, else FLOW:CREATE); None reads it."""
    if exists is None:
        exists = tx.get_flow(tenant, flow.namespace, flow.id) is not None
    needed = Action.UPDATE if exists else Action.CREATE
    if not allowed(principal, Resource.FLOW, needed, flow.namespace):
        raise denial(Resource.FLOW, needed, flow.namespace)
    stored = tx.save_flow(
        StoredFlow(tenant=tenant, namespace=flow.namespace, id=flow.id, revision=0, source=source)
    )
    rows = trigger_rows(tenant, flow, stored.revision, ctx.clock.now())
    tx.sync_triggers(tenant, flow.namespace, flow.id, rows)
    tx.add_audit(
        None,
        Audit(
            action,
            principal,
            {
                "tenant": tenant,
                "namespace": flow.namespace,
                "flowId": flow.id,
                "revision": stored.revision,
                **detail,
            },
        ),
        ctx.clock.now(),
    )
    return stored


def _saved(ctx: EngineContext, tenant: str, flow: Flow, stored: StoredFlow) -> None:
    """After the commit of a save: the parsed flow cached, the schedulers told (its Schedule
    triggers may fire sooner than what they wait for)."""
    ctx.remember((tenant, flow.namespace, flow.id, stored.revision), flow)
    if flow.triggers:
        ctx.hub.notify([SCHEDULES])


def deploy_flow(
    store: Store, source: str, principal: Principal, *, tenant: str = DEFAULT_TENANT
) -> StoredFlow:
    """Validate and store a flow, created or updated; a changed source becomes a new revision.

    Raises :class:`perch.errors.FlowValidationError` listing every problem.
    """
    flow = parse_flow(source)
    ctx = context_for(store)
    with store.transaction() as tx:
        stored = _save(
            tx,
            ctx,
            tenant=tenant,
            flow=flow,
            source=source,
            principal=principal,
            action="FLOW_DEPLOYED",
        )
    _saved(ctx, tenant, flow, stored)
    return stored


def create_flow(
    store: Store, source: str, principal: Principal, *, tenant: str = DEFAULT_TENANT
) -> tuple[StoredFlow, Flow]:
    """Validate and store a new flow.

    Raises :class:`perch.errors.FlowValidationError` listing every problem, including "Flow id
    already exists" (on the ``id`` line) when the flow exists: updating is a separate act.
    """
    flow = parse_flow(source)
    ctx = context_for(store)
    with store.transaction() as tx:
        existing = tx.get_flow(tenant, flow.namespace, flow.id)
        if existing is not None:
            hint = (
                f"Flow id already exists: '{flow.namespace}.{flow.id}' is at revision "
                f"{existing.revision}; update it (PUT /flows/{flow.namespace}/{flow.id}) "
                "instead of creating it"
            )
            raise FlowValidationError([_problem_at(source, "id", hint)], "Flow id already exists")
        stored = _save(
            tx,
            ctx,
            tenant=tenant,
            flow=flow,
            source=source,
            principal=principal,
            action="FLOW_CREATED",
            exists=False,
        )
    _saved(ctx, tenant, flow, stored)
    return stored, flow


def update_flow(
    store: Store,
    namespace: str,
    flow_id: str,
    source: str,
    principal: Principal,
    *,
    tenant: str = DEFAULT_TENANT,
) -> tuple[StoredFlow, Flow]:
    """Store ``source`` as the next revision of an existing flow (the same revision when the
    source is unchanged).

    :class:`FlowNotFound` if the flow does not exist (or is deleted);
    :class:`FlowValidationError` if the source is invalid or names another flow.
    """
    with reading(store) as tx:
        if tx.get_flow(tenant, namespace, flow_id) is None:
            raise _not_found(namespace, flow_id)
    flow = parse_flow(source)
    moved = [
        _problem_at(source, key, f"Illegal {what} update: expected '{expected}', got '{got}'")
        for key, what, expected, got in (
            ("id", "flow id", flow_id, flow.id),
            ("namespace", "namespace", namespace, flow.namespace),
        )
        if expected != got
    ]
    if moved:
        raise FlowValidationError(moved, "The flow's id and namespace must match the URL")
    ctx = context_for(store)
    with store.transaction() as tx:
        # Checked again inside the write: the flow may have been deleted meanwhile.
        if tx.get_flow(tenant, namespace, flow_id) is None:
            raise _not_found(namespace, flow_id)
        stored = _save(
            tx,
            ctx,
            tenant=tenant,
            flow=flow,
            exists=True,
            source=source,
            principal=principal,
            action="FLOW_UPDATED",
        )
    _saved(ctx, tenant, flow, stored)
    return stored, flow


def delete_flow(
    store: Store,
    namespace: str,
    flow_id: str,
    principal: Principal,
    *,
    tenant: str = DEFAULT_TENANT,
) -> None:
    """Delete a flow (its revisions stay readable by the executions pinned to them).

    :class:`FlowNotFound` if there is no such flow.
    """
    ctx = context_for(store)
    with store.transaction() as tx:
        if not tx.delete_flow(tenant, namespace, flow_id):
            raise _not_found(namespace, flow_id)
        tx.sync_triggers(tenant, namespace, flow_id, [])
        marker = tx.list_flow_revisions(tenant, namespace, flow_id)[-1]
        tx.add_audit(
            None,
            Audit(
                "FLOW_DELETED",
                principal,
                {
                    "tenant": tenant,
                    "namespace": namespace,
                    "flowId": flow_id,
                    "revision": marker.revision,
                },
            ),
            ctx.clock.now(),
        )


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
            raise _not_found(namespace, flow_id)
        return stored, ctx.flow(tx, tenant, namespace, flow_id, stored.revision)


def parsed_or_none(ctx: EngineContext, tx: Transaction, stored: StoredFlow) -> Flow | None:
    """The parsed flow of a stored revision, or ``None`` when its source no longer validates
    (a revision saved by an older, more lenient Perch must stay readable)."""
    try:
        return ctx.flow(tx, stored.tenant, stored.namespace, stored.id, stored.revision)
    except FlowValidationError:
        return None


def read_flow(
    store: Store,
    namespace: str,
    flow_id: str,
    *,
    tenant: str = DEFAULT_TENANT,
    revision: int | None = None,
    allow_deleted: bool = False,
) -> RevisionRead:
    """One revision of a flow (the latest by default).

    A deleted flow, or a revision that is a deletion marker, is :class:`FlowNotFound` unless
    ``allow_deleted``; then the marker is returned (it holds the last source, ``deleted`` set).
    """
    ctx = context_for(store)
    with reading(store) as tx:
        if revision is None:
            stored = tx.get_flow(tenant, namespace, flow_id)
            if stored is None and allow_deleted:
                revisions = tx.list_flow_revisions(tenant, namespace, flow_id)
                stored = revisions[-1] if revisions else None
        else:
            stored = tx.get_flow(tenant, namespace, flow_id, revision)
            if stored is not None and stored.deleted and not allow_deleted:
                stored = None
        if stored is None:
            raise _not_found(namespace, flow_id, revision)
        return stored, parsed_or_none(ctx, tx, stored)


def flow_revisions(
    store: Store, namespace: str, flow_id: str, *, tenant: str = DEFAULT_TENANT
) -> list[RevisionRead]:
    """Every saved revision of a flow, oldest first (deletion markers left out; a deleted flow
    still lists its revisions, so one of them can be restored).

    :class:`FlowNotFound` if the flow never existed.
    """
    ctx = context_for(store)
    with reading(store) as tx:
        revisions = [r for r in tx.list_flow_revisions(tenant, namespace, flow_id) if not r.deleted]
        if not revisions:
            raise _not_found(namespace, flow_id)
        return [(r, parsed_or_none(ctx, tx, r)) for r in revisions]


def restore_revision(
    store: Store,
    namespace: str,
    flow_id: str,
    revision: int,
    principal: Principal,
    *,
    tenant: str = DEFAULT_TENANT,
) -> tuple[StoredFlow, Flow]:
    """Save the source of an earlier revision as the newest one (a roll back); this also
    brings back a deleted flow.

    :class:`FlowNotFound` for an unknown revision or a deletion marker;
    :class:`FlowValidationError` if the old source fails today's validation.
    """
    with reading(store) as tx:
        old = tx.get_flow(tenant, namespace, flow_id, revision)
    if old is None or old.deleted:
        raise _not_found(namespace, flow_id, revision)
    flow = parse_flow(old.source)
    ctx = context_for(store)
    with store.transaction() as tx:
        stored = _save(
            tx,
            ctx,
            tenant=tenant,
            flow=flow,
            source=old.source,
            principal=principal,
            action="FLOW_RESTORED",
            fromRevision=revision,
        )
    _saved(ctx, tenant, flow, stored)
    return stored, flow
