"""The worker registry: the worker processes alive and what each of them claims.

A worker writes its row when it starts, pushes its ``expires`` back with each heartbeat and
deletes it when it stops; a worker killed without a goodbye leaves a row that expires. Reads
skip expired rows; a worker registering removes them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from perch.engine.jobfilter import JobFilter
from perch.engine.ports import WorkerInfo
from perch.store.schema import UtcDateTime, workers

_NOW = bindparam("b_now", type_=UtcDateTime())
_LIVE_GROUPS = (
    select(workers.c.worker_group)
    .where(workers.c.expires > _NOW, workers.c.worker_group.is_not(None))
    .distinct()
)
_LIVE = select(workers).where(workers.c.expires > _NOW).order_by(workers.c.started, workers.c.id)
_EXPIRED = delete(workers).where(workers.c.expires <= _NOW)
_HEARTBEAT = (
    update(workers)
    .where(workers.c.id == bindparam("b_id"))
    .values(heartbeat=bindparam("b_heartbeat"), expires=bindparam("b_expires"))
)


def _worker(row: Row[Any]) -> WorkerInfo:
    return WorkerInfo(
        id=row.id,
        filter=JobFilter(
            row.worker_group, tuple(json.loads(row.task_types)), tuple(json.loads(row.namespaces))
        ),
        concurrency=row.concurrency,
        hostname=row.hostname,
        pid=row.pid,
        started=row.started,
        heartbeat=row.heartbeat,
        expires=row.expires,
    )


class WorkerQueries:
    """The worker registry's methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    def register_worker(self, worker: WorkerInfo) -> None:
        """Write the worker's row (a worker registering again replaces its old one); rows of
        workers gone for good are removed on the way."""
        self._conn.execute(_EXPIRED, {"b_now": worker.heartbeat})
        self._conn.execute(delete(workers).where(workers.c.id == worker.id))
        self._conn.execute(
            insert(workers).values(
                id=worker.id,
                worker_group=worker.filter.group,
                task_types=json.dumps(list(worker.filter.task_types)),
                namespaces=json.dumps(list(worker.filter.namespaces)),
                concurrency=worker.concurrency,
                hostname=worker.hostname[:255],
                pid=worker.pid,
                started=worker.started,
                heartbeat=worker.heartbeat,
                expires=worker.expires,
            )
        )

    def heartbeat_worker(self, worker_id: str, now: datetime, expires: datetime) -> bool:
        """Push the worker's expiry back; False when its row is gone."""
        params = {"b_id": worker_id, "b_heartbeat": now, "b_expires": expires}
        return bool(self._conn.execute(_HEARTBEAT, params).rowcount)

    def remove_worker(self, worker_id: str) -> None:
        """Delete the worker's row."""
        self._conn.execute(delete(workers).where(workers.c.id == worker_id))

    def live_worker_groups(self, now: datetime) -> frozenset[str]:
        """The groups that have a worker whose row has not expired."""
        return frozenset(str(g) for g in self._conn.execute(_LIVE_GROUPS, {"b_now": now}).scalars())

    def list_workers(self, now: datetime) -> list[WorkerInfo]:
        """The workers alive, oldest first."""
        return [_worker(row) for row in self._conn.execute(_LIVE, {"b_now": now})]
