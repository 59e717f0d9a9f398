"""Savepoints: a block of a transaction whose writes are undone when it raises, the rest of the
transaction kept (a bulk action skips one execution and commits the others).

On PostgreSQL a savepoint costs a round trip to open and one to release; a bulk resume of
10,000 executions whose resumes mostly write nothing until the batch's last step (their writes
are staged in memory, see :mod:`perch.engine.written`) would pay 20,000 of them for nothing.
So there a savepoint is opened lazily: the block marks it pending on the connection, and the
first statement sent in the block that is not a plain ``SELECT`` opens it just before it runs
(:func:`install_lazy_savepoints`). A block that only read releases nothing and rolls back
nothing in the database. On SQLite (one process, no round trips) the savepoint is opened at
once.

What the transaction keeps in memory for its commit (executions for the cache, audit records
not yet chained) is cut back to where it was too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

_PENDING = "perch_savepoints_pending"
_OPENED = "perch_savepoints_opened"


def install_lazy_savepoints(engine: Engine) -> None:
    """Open pending savepoints before the first writing statement of their block."""

    @event.listens_for(engine, "before_cursor_execute")
    def _open_pending(
        conn: Connection,
        cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        open_pending(conn, cursor, statement)


def open_pending(conn: Connection, cursor: Any, statement: str) -> None:
    """Open the pending savepoints on ``cursor`` unless ``statement`` is a plain ``SELECT``;
    also called by :mod:`perch.store.prepared`, whose statements bypass SQLAlchemy's events."""
    pending: list[str] | None = conn.info.get(_PENDING)
    if not pending or statement.lstrip()[:6].upper() == "SELECT":
        return
    opened: set[str] = conn.info.setdefault(_OPENED, set())
    for name in pending:
        cursor.execute(f"SAVEPOINT {name}")
        opened.add(name)
    pending.clear()


@contextmanager
def savepoint(conn: Connection, name: str, *, lazy: bool) -> Iterator[None]:
    """The block as a savepoint named ``name`` (opened at its first write when ``lazy``):
    rolled back to when the block raises, released when it ends."""
    if lazy:
        conn.info.setdefault(_PENDING, []).append(name)
    else:
        conn.exec_driver_sql(f"SAVEPOINT {name}")
        conn.info.setdefault(_OPENED, set()).add(name)
    try:
        yield
    except BaseException:
        if _close(conn, name):
            conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
            conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
        raise
    if _close(conn, name):
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")


def _close(conn: Connection, name: str) -> bool:
    """Forget ``name``; whether it was opened in the database."""
    pending: list[str] = conn.info.get(_PENDING, [])
    if name in pending:
        pending.remove(name)
        return False
    opened: set[str] = conn.info.get(_OPENED, set())
    if name in opened:
        opened.discard(name)
        return True
    return False
