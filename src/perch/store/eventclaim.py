"""Claiming outbox events on PostgreSQL so that several executors never apply events to one
execution at once.

A claim reads the oldest events, tries a transaction-scoped advisory lock on each of their
executions (``pg_try_advisory_xact_lock``, which never waits) and removes the events of the
executions it locked; the events of an execution another executor holds stay in the outbox,
for that executor or for a later claim. An executor therefore never waits for another's row
lock on an execution, never forms a lock cycle with it, and never has its batch rolled back
because of it. The locks end with the transaction, also when the process dies; a removed event
comes back with a rolled-back transaction. The key is scoped to the schema (as the journal's
locks are) so that two deployments in one database do not hold each other's executions.

SQLite has a single writer and keeps the plain claim of :mod:`perch.store.workqueue`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, text

_HEAD = text(
    """
    WITH head AS MATERIALIZED (
        SELECT seq, execution_id FROM events ORDER BY seq LIMIT :b_limit
    ), locks AS MATERIALIZED (
        SELECT execution_id,
               pg_try_advisory_xact_lock(
                   hashtextextended(current_schema() || '/perch.execution/' || execution_id, 0)
               ) AS locked
        FROM (SELECT DISTINCT execution_id FROM head) AS distinct_executions
    )
    SELECT head.seq, locks.locked FROM head JOIN locks USING (execution_id)
    """
)
"""The oldest events, each with whether this transaction now holds its execution's lock."""

_TAKE = text(
    "DELETE FROM events WHERE seq IN :b_seqs RETURNING seq, id, execution_id, payload"
).bindparams(bindparam("b_seqs", expanding=True))


def claim_locked(conn: Connection, limit: int) -> tuple[list[Any], int]:
    """Remove the events among the ``limit`` oldest whose execution this transaction could
    lock: their rows, oldest first, and how many events were left to other transactions.

    An event another transaction removed between the two statements (it held the lock and
    committed) is simply not returned: the removal itself is what claims an event."""
    head = conn.execute(_HEAD, {"b_limit": limit}).all()
    mine = [row.seq for row in head if row.locked]
    left = len(head) - len(mine)
    if not mine:
        return [], left
    rows = sorted(conn.execute(_TAKE, {"b_seqs": mine}), key=lambda row: row.seq)
    return rows, left
