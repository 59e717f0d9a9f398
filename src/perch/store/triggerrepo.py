"""The state of flow triggers: the trigger methods of the store's transactions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from perch.engine.ports import TriggerRow
from perch.store.prepared import Prepared
from perch.store.schema import triggers


def _json(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _text(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


_COLUMNS = tuple(column.key for column in triggers.columns)
_PREPARED_LISTENERS = Prepared(
    select(triggers).where(
        triggers.c.tenant == bindparam("b_tenant"),
        triggers.c.type == bindparam("b_type"),
        triggers.c.disabled.is_(False),
    )
)


def _row(m: Mapping[Any, Any]) -> TriggerRow:
    return TriggerRow(
        tenant=m["tenant"],
        namespace=m["namespace"],
        flow_id=m["flow_id"],
        trigger_id=m["trigger_id"],
        type=m["type"],
        flow_revision=m["flow_revision"],
        disabled=bool(m["disabled"]),
        next_date=m["next_date"],
        last_date=m["last_date"],
        last_execution_id=m["last_execution_id"],
        backfill=_json(m["backfill"]),
        state=_json(m["state"]),
        updated=m["updated"],
    )


def _key(key: tuple[str, str, str, str]) -> Any:
    tenant, namespace, flow_id, trigger_id = key
    return and_(
        triggers.c.tenant == tenant,
        triggers.c.namespace == namespace,
        triggers.c.flow_id == flow_id,
        triggers.c.trigger_id == trigger_id,
    )


def _already_due(old: TriggerRow, new: TriggerRow) -> bool:
    return old.next_date is not None and new.updated is not None and old.next_date <= new.updated


class TriggerQueries:
    """The trigger methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection
    dialect: str
    _listeners: dict[tuple[str, str], list[TriggerRow]]
    """The Flow-trigger listeners read in this transaction (dropped by a trigger write): a
    bulk action's transaction changes hundreds of executions and asks at every change."""

    def sync_triggers(
        self, tenant: str, namespace: str, flow_id: str, rows: Sequence[TriggerRow]
    ) -> None:
        self._listeners.clear()
        of_flow = and_(
            triggers.c.tenant == tenant,
            triggers.c.namespace == namespace,
            triggers.c.flow_id == flow_id,
        )
        existing = {
            m["trigger_id"]: _row(m)
            for m in self._conn.execute(select(triggers).where(of_flow)).mappings()
        }
        wanted = {row.trigger_id: row for row in rows}
        gone = [trigger_id for trigger_id in existing if trigger_id not in wanted]
        if gone:
            self._conn.execute(delete(triggers).where(of_flow, triggers.c.trigger_id.in_(gone)))
        now = datetime.now(UTC)
        for trigger_id, row in wanted.items():
            old = existing.get(trigger_id)
            if old is None:
                self._conn.execute(
                    triggers.insert().values(
                        tenant=tenant,
                        namespace=namespace,
                        flow_id=flow_id,
                        trigger_id=trigger_id,
                        type=row.type,
                        flow_revision=row.flow_revision,
                        disabled=row.disabled,
                        next_date=row.next_date,
                        last_date=None,
                        last_execution_id=None,
                        backfill=None,
                        state=None,
                        updated=now,
                    )
                )
                continue
            changes: dict[str, Any] = {"flow_revision": row.flow_revision, "updated": now}
            if old.type != row.type:
                # Another kind of trigger under the same id starts afresh.
                changes.update(type=row.type, next_date=row.next_date, state=None, backfill=None)
            elif old.backfill is None and not _already_due(old, row):
                # The new revision's first date (the cron may have changed); a date already
                # due is kept, for the scheduler to fire or recover.
                changes["next_date"] = row.next_date
            self._conn.execute(update(triggers).where(_key(row.key)).values(**changes))

    def flow_listeners(self, tenant: str, trigger_type: str) -> list[TriggerRow]:
        # Asked at every state change of every execution: a prepared statement, read once per
        # transaction.
        key = (tenant, trigger_type)
        known = self._listeners.get(key)
        if known is None:
            params = {"b_tenant": tenant, "b_type": trigger_type}
            found = _PREPARED_LISTENERS.rows(self._conn, params)
            known = [_row(dict(zip(_COLUMNS, values, strict=True))) for values in found]
            self._listeners[key] = known
        return list(known)

    def get_trigger(
        self, key: tuple[str, str, str, str], *, for_update: bool = False
    ) -> TriggerRow | None:
        query = select(triggers).where(_key(key))
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        found = self._conn.execute(query).mappings().first()
        return None if found is None else _row(found)

    def update_trigger(self, row: TriggerRow) -> None:
        self._listeners.clear()
        self._conn.execute(
            update(triggers)
            .where(_key(row.key))
            .values(
                disabled=row.disabled,
                next_date=row.next_date,
                last_date=row.last_date,
                last_execution_id=row.last_execution_id,
                backfill=_text(row.backfill),
                state=_text(row.state),
                updated=datetime.now(UTC),
            )
        )

    def list_triggers(
        self, tenant: str, namespace: str | None = None, flow_id: str | None = None
    ) -> list[TriggerRow]:
        query = select(triggers).where(triggers.c.tenant == tenant)
        if namespace is not None:
            query = query.where(triggers.c.namespace == namespace)
        if flow_id is not None:
            query = query.where(triggers.c.flow_id == flow_id)
        query = query.order_by(triggers.c.namespace, triggers.c.flow_id, triggers.c.trigger_id)
        return [_row(m) for m in self._conn.execute(query).mappings()]

    def due_triggers(self, types: Sequence[str], now: datetime, limit: int) -> list[TriggerRow]:
        query = (
            select(triggers)
            .where(
                triggers.c.type.in_(list(types)),
                triggers.c.disabled.is_(False),
                triggers.c.next_date.is_not(None),
                triggers.c.next_date <= now,
            )
            .order_by(triggers.c.next_date)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_row(m) for m in self._conn.execute(query).mappings()]

    def next_trigger_due(self, types: Sequence[str]) -> datetime | None:
        query = select(func.min(triggers.c.next_date)).where(
            triggers.c.type.in_(list(types)), triggers.c.disabled.is_(False)
        )
        found: datetime | None = self._conn.execute(query).scalar()
        if found is not None and found.tzinfo is None:
            found = found.replace(tzinfo=UTC)
        return found
