"""Flow revisions: the YAML source byte for byte, a new revision only when it changed.

Deleting a flow writes one more revision marked ``deleted`` and keeps every earlier revision
readable, so an execution pinned to an old revision can still load its flow. Saving the flow again
after a delete starts a new revision after the marker.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Connection, RowMapping, and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from perch.engine.ports import StoredFlow
from perch.errors import ConcurrentUpdate
from perch.store.prepared import Prepared
from perch.store.schema import flows

_COLUMNS = (
    flows.c.tenant,
    flows.c.namespace,
    flows.c.id,
    flows.c.revision,
    flows.c.source,
    flows.c.deleted,
    flows.c.updated,
)

_SAME_FLOW = (
    flows.c.tenant == bindparam("b_tenant"),
    flows.c.namespace == bindparam("b_namespace"),
    flows.c.id == bindparam("b_id"),
)
_LATEST = select(*_COLUMNS).where(*_SAME_FLOW).order_by(flows.c.revision.desc()).limit(1)
_REVISION = select(*_COLUMNS).where(*_SAME_FLOW, flows.c.revision == bindparam("b_revision"))
_REVISIONS = select(*_COLUMNS).where(*_SAME_FLOW).order_by(flows.c.revision)

_PREPARED_LATEST = Prepared(_LATEST)


def _stored(m: RowMapping) -> StoredFlow:
    return StoredFlow(
        tenant=m["tenant"],
        namespace=m["namespace"],
        id=m["id"],
        revision=m["revision"],
        source=m["source"],
        deleted=m["deleted"],
        updated=m["updated"],
    )


class FlowQueries:
    """The flow methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    def _latest_flow(self, tenant: str, namespace: str, flow_id: str) -> StoredFlow | None:
        params = {"b_tenant": tenant, "b_namespace": namespace, "b_id": flow_id}
        row = _PREPARED_LATEST.first(self._conn, params)
        return StoredFlow(*row) if row is not None else None

    def _insert_flow(self, flow: StoredFlow) -> StoredFlow:
        try:
            self._conn.execute(
                flows.insert(),
                {
                    "tenant": flow.tenant,
                    "namespace": flow.namespace,
                    "id": flow.id,
                    "revision": flow.revision,
                    "source": flow.source,
                    "deleted": flow.deleted,
                    "updated": flow.updated,
                },
            )
        except IntegrityError as exc:
            raise ConcurrentUpdate(
                f"flow {flow.namespace}.{flow.id} revision {flow.revision} was saved concurrently"
            ) from exc
        return flow

    def save_flow(self, flow: StoredFlow) -> StoredFlow:
        """Store ``flow.source`` as a new revision unless it equals the latest one; return the
        current revision (``flow.revision`` and ``flow.deleted`` are ignored)."""
        latest = self._latest_flow(flow.tenant, flow.namespace, flow.id)
        if latest is not None and not latest.deleted and latest.source == flow.source:
            return latest
        revision = latest.revision + 1 if latest is not None else 1
        updated = flow.updated or datetime.now(UTC)
        return self._insert_flow(replace(flow, revision=revision, deleted=False, updated=updated))

    def get_flow(
        self, tenant: str, namespace: str, flow_id: str, revision: int | None = None
    ) -> StoredFlow | None:
        """A given revision (a deletion marker too), or the latest one unless the flow is
        deleted."""
        if revision is None:
            latest = self._latest_flow(tenant, namespace, flow_id)
            return latest if latest is not None and not latest.deleted else None
        params = {
            "b_tenant": tenant,
            "b_namespace": namespace,
            "b_id": flow_id,
            "b_revision": revision,
        }
        row = self._conn.execute(_REVISION, params).first()
        return _stored(row._mapping) if row is not None else None

    def list_flow_revisions(self, tenant: str, namespace: str, flow_id: str) -> list[StoredFlow]:
        """Every revision of a flow, deletion markers included, oldest first."""
        params = {"b_tenant": tenant, "b_namespace": namespace, "b_id": flow_id}
        return [_stored(row._mapping) for row in self._conn.execute(_REVISIONS, params)]

    def list_flows(self, tenant: str, namespace_prefix: str | None = None) -> list[StoredFlow]:
        """The latest revision of every flow that is not deleted, by namespace and id."""
        latest = (
            select(
                flows.c.namespace,
                flows.c.id,
                func.max(flows.c.revision).label("revision"),
            )
            .where(flows.c.tenant == tenant)
            .group_by(flows.c.namespace, flows.c.id)
        )
        if namespace_prefix is not None:
            latest = latest.where(
                (flows.c.namespace == namespace_prefix)
                | flows.c.namespace.startswith(namespace_prefix + ".", autoescape=True)
            )
        heads = latest.subquery()
        query = (
            select(*_COLUMNS)
            .join(
                heads,
                and_(
                    flows.c.namespace == heads.c.namespace,
                    flows.c.id == heads.c.id,
                    flows.c.revision == heads.c.revision,
                ),
            )
            .where(flows.c.tenant == tenant, flows.c.deleted.is_(False))
            .order_by(flows.c.namespace, flows.c.id)
        )
        return [_stored(row._mapping) for row in self._conn.execute(query)]

    def delete_flow(self, tenant: str, namespace: str, flow_id: str) -> bool:
        """Write a deletion marker; False when there is no flow to delete."""
        latest = self._latest_flow(tenant, namespace, flow_id)
        if latest is None or latest.deleted:
            return False
        self._insert_flow(
            replace(latest, revision=latest.revision + 1, deleted=True, updated=datetime.now(UTC))
        )
        return True
