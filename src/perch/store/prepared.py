"""Hot statements compiled once and run straight on the driver's cursor.

Even with its compiled-statement cache, SQLAlchemy spends several times longer preparing each
execution (context, parameter processing, result set-up, events) than SQLite spends running
these small statements; on the engine's hot path (read, compare-and-set, audit, jobs) that
overhead was the largest single cost. A :class:`Prepared` statement keeps SQLAlchemy's own SQL
text and bind processors (so values are stored exactly as the SQLAlchemy path stores them) but
hands them to the ``sqlite3`` cursor of the connection, inside the transaction SQLAlchemy
began. On PostgreSQL (psycopg) it does the same with the psycopg dialect's SQL and processors
(:mod:`perch.store.pgprepared`); with another driver it executes through SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

from perch.store.pgprepared import PgForm
from perch.store.savepoints import open_pending

_SQLITE = sqlite.dialect()

Processor = Callable[[Any], Any] | None


class Prepared:
    """One statement with named parameters; compiled for SQLite once, at import.

    ``columns`` names the parameters of an INSERT (the others are left to their defaults).
    """

    def __init__(self, statement: Executable, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=_SQLITE, column_keys=list(columns) if columns is not None else None
        )
        self.sql: str = compiled.string
        names: Sequence[str] = compiled.positiontup or ()
        binds = compiled.binds
        self._names = tuple(names)
        self._processors: tuple[Processor, ...] = tuple(
            binds[name].type.dialect_impl(_SQLITE).bind_processor(_SQLITE) for name in names
        )
        self._results: tuple[Processor, ...] = tuple(
            column.type.dialect_impl(_SQLITE).result_processor(_SQLITE, None)
            for column in getattr(statement, "exported_columns", ())
        )
        self._convert = any(proc is not None for proc in self._results)
        # Literal values inside the statement (``version + 1``) are parameters too.
        self._literals = {name: binds[name].value for name in names if not binds[name].required}
        self._columns = columns
        self._pg: PgForm | None = None

    def _postgres(self, conn: Connection) -> PgForm | None:
        """The psycopg form (compiled on first use), None on another database or driver."""
        if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
            return None
        if self._pg is None:
            self._pg = PgForm(self.statement, self._columns, conn.dialect)
        return self._pg

    def _row(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        if self._literals:
            params = {**self._literals, **params}
        return tuple(
            params[name] if proc is None else proc(params[name])
            for proc, name in zip(self._processors, self._names, strict=True)
        )

    def _run(self, cursor: Any, rows: Any, *, many: bool = False) -> None:
        try:
            if many:
                cursor.executemany(self.sql, rows)
            else:
                cursor.execute(self.sql, rows)
        except sqlite3.Error as exc:
            # The same exception classes as the SQLAlchemy path (IntegrityError, ...).
            raise DBAPIError.instance(self.sql, rows, exc, sqlite3.Error) from exc

    def _cursor(self, conn: Connection) -> Any:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        # SQLAlchemy's events do not see these statements: a lazy savepoint opens here.
        open_pending(conn, cursor, self.sql)
        return cursor

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run with one set of parameters; the number of rows it changed."""
        pg = self._postgres(conn)
        if pg is not None:
            with self._cursor(conn) as cursor:
                pg.run(cursor, pg.params(params))
                return int(cursor.rowcount)
        if conn.dialect.name != "sqlite":
            return int(conn.execute(self.statement, dict(params)).rowcount)
        cursor = self._cursor(conn)
        try:
            self._run(cursor, self._row(params))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _converted(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self._convert:
            return row
        return tuple(
            value if proc is None else proc(value)
            for proc, value in zip(self._results, row, strict=True)
        )

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run a query; its first row (values as SQLAlchemy would return them), or None."""
        pg = self._postgres(conn)
        if pg is not None:
            with self._cursor(conn) as cursor:
                pg.run(cursor, pg.params(params))
                row = cursor.fetchone()
                return None if row is None else pg.converted(row)
        if conn.dialect.name != "sqlite":
            row = conn.execute(self.statement, dict(params)).first()
            return None if row is None else tuple(row)
        cursor = self._cursor(conn)
        try:
            self._run(cursor, self._row(params))
            found: tuple[Any, ...] | None = cursor.fetchone()
            return None if found is None else self._converted(found)
        finally:
            cursor.close()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a query (or a statement with RETURNING); all its rows."""
        pg = self._postgres(conn)
        if pg is not None:
            with self._cursor(conn) as cursor:
                pg.run(cursor, pg.params(params))
                return [pg.converted(row) for row in cursor.fetchall()]
        if conn.dialect.name != "sqlite":
            return [tuple(row) for row in conn.execute(self.statement, dict(params))]
        cursor = self._cursor(conn)
        try:
            self._run(cursor, self._row(params))
            return [self._converted(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run once per parameter set (a batched INSERT or UPDATE); the rows changed in all."""
        pg = self._postgres(conn)
        if pg is not None:
            with self._cursor(conn) as cursor:
                pg.run(cursor, [pg.params(r) for r in rows], many=True)
                return int(cursor.rowcount)
        if conn.dialect.name != "sqlite":
            return int(conn.execute(self.statement, [dict(r) for r in rows]).rowcount)
        cursor = self._cursor(conn)
        try:
            self._run(cursor, [self._row(r) for r in rows], many=True)
            return int(cursor.rowcount)
        finally:
            cursor.close()
