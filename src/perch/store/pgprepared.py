"""The PostgreSQL form of a :class:`perch.store.prepared.Prepared` statement: the SQL text and
bind and result processors SQLAlchemy's psycopg dialect would use, run straight on the psycopg
cursor of the connection, inside the transaction SQLAlchemy began.

SQLAlchemy's work around each execution (context, parameter processing, result set-up) cost a
worker more CPU than psycopg and the network together on its hot path: reading and
compare-and-setting executions, inserting and deleting jobs and log lines. psycopg prepares a
statement on the server once it has run a few times on a connection, so these run as prepared
statements.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

_PARAMETER = re.compile(r"%\((\w+)\)s")

Processor = Callable[[Any], Any] | None


class PgForm:
    """One statement compiled for psycopg, with what is needed to run it without SQLAlchemy."""

    def __init__(
        self, statement: Executable, columns: Sequence[str] | None, dialect: Dialect
    ) -> None:
        """Compiled with the dialect of the store's engine, as SQLAlchemy compiles it."""
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=list(columns) if columns is not None else None
        )
        if compiled.escaped_bind_names or "POSTCOMPILE" in compiled.string:
            raise ValueError("a prepared statement needs plain named parameters")
        self.sql: str = compiled.string
        names = tuple(dict.fromkeys(_PARAMETER.findall(self.sql)))
        binds = compiled.binds
        processors = compiled._bind_processors
        self._binds: tuple[tuple[str, Processor], ...] = tuple(
            (name, processors.get(name)) for name in names
        )
        self._literals = {name: binds[name].value for name in names if not binds[name].required}
        self._results: tuple[Processor, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in getattr(statement, "exported_columns", ())
        )
        self._convert = any(proc is not None for proc in self._results)

    def params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if self._literals:
            given = {**self._literals, **given}
        return {
            name: given[name] if proc is None else proc(given[name]) for name, proc in self._binds
        }

    def converted(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self._convert:
            return row
        return tuple(
            value if proc is None else proc(value)
            for proc, value in zip(self._results, row, strict=True)
        )

    def run(self, cursor: Any, params: Any, *, many: bool = False) -> None:
        import psycopg

        try:
            if many:
                cursor.executemany(self.sql, params)
            else:
                cursor.execute(self.sql, params)
        except psycopg.Error as exc:
            # The same exception classes as the SQLAlchemy path (IntegrityError, ...).
            raise DBAPIError.instance(self.sql, params, exc, psycopg.Error) from exc
