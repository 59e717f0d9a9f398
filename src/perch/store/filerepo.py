"""Files: the bytes of uploaded FILE inputs, keyed by the ``kestra:///…`` URI that the input's
value holds. They belong to an execution and are deleted with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from perch.store.schema import files

_GET = select(files.c.content).where(files.c.key == bindparam("b_key"))
_OWNER = select(files.c.execution_id).where(files.c.key == bindparam("b_key"))


class FileQueries:
    """The file methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    def put_file(self, key: str, execution_id: str, content: bytes, created: datetime) -> None:
        """Store ``content`` under ``key`` (a new key: URIs name one execution's input)."""
        self._conn.execute(
            files.insert().values(
                key=key, execution_id=execution_id, content=content, created=created
            )
        )

    def get_file(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or None."""
        content: bytes | None = self._conn.execute(_GET, {"b_key": key}).scalar()
        return None if content is None else bytes(content)

    def file_execution(self, key: str) -> str | None:
        """The id of the execution the file ``key`` belongs to, or None."""
        owner: str | None = self._conn.execute(_OWNER, {"b_key": key}).scalar()
        return owner

    def delete_file(self, key: str) -> bool:
        """Remove one file; whether it existed."""
        result = self._conn.execute(files.delete().where(files.c.key == key))
        return bool(result.rowcount)
