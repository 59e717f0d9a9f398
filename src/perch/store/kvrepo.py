"""The namespace KV store: the KV methods of the store's transactions.

Rows never leave the store: a read answers :class:`perch.engine.service.kv.KvEntry` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, delete, select, update

from perch.engine.service.kv import KvEntry
from perch.store.schema import kv


def _where(tenant: str, namespace: str, key: str) -> ColumnElement[bool]:
    return and_(kv.c.tenant == tenant, kv.c.namespace == namespace, kv.c.key == key)


def _entry(row: Row[Any], with_value: bool) -> KvEntry:
    return KvEntry(
        tenant=row.tenant,
        namespace=row.namespace,
        key=row.key,
        type=row.type,
        value_json=row.value if with_value else None,
        description=row.description,
        created=row.created,
        updated=row.updated,
        expiration=row.expiration,
    )


class KvQueries:
    """The KV methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    def put_kv(  # noqa: PLR0917 - one column each
        self,
        tenant: str,
        namespace: str,
        key: str,
        kv_type: str,
        value_json: str,
        description: str | None,
        expiration: datetime | None,
        at: datetime,
    ) -> bool:
        """Store or replace the value; True when the key is new."""
        changed = self._conn.execute(
            update(kv)
            .where(_where(tenant, namespace, key))
            .values(
                type=kv_type,
                value=value_json,
                description=description,
                updated=at,
                expiration=expiration,
            )
        ).rowcount
        if changed:
            return False
        self._conn.execute(
            kv.insert().values(
                tenant=tenant,
                namespace=namespace,
                key=key,
                type=kv_type,
                value=value_json,
                description=description,
                created=at,
                updated=at,
                expiration=expiration,
            )
        )
        return True

    def get_kv(self, tenant: str, namespace: str, key: str) -> KvEntry | None:
        """The entry with its value, expired or not; None when there is none."""
        row = self._conn.execute(select(kv).where(_where(tenant, namespace, key))).first()
        return None if row is None else _entry(row, with_value=True)

    def list_kv(self, tenant: str, namespace: str) -> list[KvEntry]:
        """The namespace's entries by key, without their values (expired ones too)."""
        columns = [c for c in kv.c if c.name != "value"]
        rows = self._conn.execute(
            select(*columns)
            .where(kv.c.tenant == tenant, kv.c.namespace == namespace)
            .order_by(kv.c.key)
        ).all()
        return [_entry(r, with_value=False) for r in rows]

    def delete_kv(self, tenant: str, namespace: str, keys: Sequence[str]) -> list[str]:
        """Delete the keys; those that existed, in the order given."""
        if not keys:
            return []
        found = set(
            self._conn.execute(
                select(kv.c.key).where(
                    kv.c.tenant == tenant, kv.c.namespace == namespace, kv.c.key.in_(keys)
                )
            ).scalars()
        )
        if found:
            self._conn.execute(
                delete(kv).where(
                    kv.c.tenant == tenant, kv.c.namespace == namespace, kv.c.key.in_(found)
                )
            )
        return [k for k in dict.fromkeys(keys) if k in found]
