"""Claiming outbox events on PostgreSQL so that several executors never apply events to one
execution at once.

A claim reads the oldest events and tries, execution after execution in the order of their
oldest event, a transaction-scoped advisory lock (``pg_try_advisory_xact_lock``, which never
waits), until the executions it locked have enough events; it removes those events. The events
of an execution another executor holds stay in the outbox, for that executor or a later claim.
An executor therefore never waits for another's row lock on an execution, never forms a lock
cycle with it, and never has its batch rolled back because of it. The locks end with the
transaction, also when the process dies; a removed event comes back with a rolled-back
transaction. The key is scoped to the schema (as the journal's locks are) so that two
deployments in one database do not hold each other's executions.

SQLite has a single writer and keeps the plain claim of :mod:`perch.store.workqueue`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, text

SCAN = 4
"""A claim of ``limit`` events looks at up to ``SCAN * limit`` of the oldest, so that a burst of
one held execution's events does not hide the others' behind it."""

_HEAD = text(
    """
    WITH RECURSIVE head AS MATERIALIZED (
        SELECT seq, execution_id FROM events ORDER BY seq LIMIT :b_scan
    ), groups AS MATERIALIZED (
        SELECT execution_id, count(*) AS n, row_number() OVER (ORDER BY min(seq)) AS k
        FROM head GROUP BY execution_id
    ), walk(k, execution_id, locked, taken) AS (
        SELECT 0::bigint, NULL::text, false, 0::bigint
        UNION ALL
        SELECT groups.k, groups.execution_id::text, tried.locked,
               walk.taken + CASE WHEN tried.locked THEN groups.n ELSE 0 END
        FROM walk
        JOIN groups ON groups.k = walk.k + 1
        CROSS JOIN LATERAL (
            SELECT CASE WHEN walk.taken < :b_limit THEN pg_try_advisory_xact_lock(
                hashtextextended(current_schema() || '/perch.execution/' || groups.execution_id, 0)
            ) END AS locked
        ) AS tried
        WHERE walk.taken < :b_limit
    )
    SELECT head.seq, walk.locked FROM head JOIN walk USING (execution_id) ORDER BY head.seq
    """
)
"""The oldest events of the executions a claim tried to lock, oldest first, each with whether
this transaction now holds its execution's lock. The executions are tried one after the other,
oldest event first, until those locked have ``limit`` events: a claim locks no execution whose
events it will not take."""

_TAKE = text(
    "DELETE FROM events WHERE seq IN :b_seqs RETURNING seq, id, execution_id, payload"
).bindparams(bindparam("b_seqs", expanding=True))


def claim_locked(conn: Connection, limit: int) -> tuple[list[Any], int]:
    """Remove up to ``limit`` events of the executions this transaction could lock, those of
    the execution with the oldest event first: their rows, oldest first, and how many events it
    saw and left to other transactions.

    An event another transaction removed between the two statements (it held the lock and
    committed) is simply not returned: the removal itself is what claims an event."""
    head = conn.execute(_HEAD, {"b_limit": limit, "b_scan": limit * SCAN}).all()
    mine = [row.seq for row in head if row.locked][:limit]
    left = sum(1 for row in head if not row.locked)
    if not mine:
        return [], left
    rows = sorted(conn.execute(_TAKE, {"b_seqs": mine}), key=lambda row: row.seq)
    return rows, left
