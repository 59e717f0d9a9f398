"""Sessions of the web UI: the session methods of the store's transactions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, select, update

from perch.identity.model import Session, User
from perch.store.schema import sessions, users
from perch.store.userrepo import USER_COLUMNS, user_of

_SESSION_COLUMNS = tuple(c.label(f"s_{c.name}") for c in sessions.c)


def _session(m: RowMapping) -> Session:
    return Session(
        id=m["s_id"],
        user_id=m["s_user_id"],
        csrf=m["s_csrf"],
        created=m["s_created"],
        last_seen=m["s_last_seen"],
        expires=m["s_expires"],
        address=m["s_address"],
        user_agent=m["s_user_agent"],
    )


class SessionQueries:
    """The session methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    def insert_session(self, session: Session) -> None:
        self._conn.execute(
            sessions.insert().values(
                id=session.id,
                user_id=session.user_id,
                csrf=session.csrf,
                created=session.created,
                last_seen=session.last_seen,
                expires=session.expires,
                address=session.address,
                user_agent=session.user_agent,
            )
        )

    def find_session(self, session_id: str) -> tuple[Session, User] | None:
        """The session with this id and its user (one indexed read, joined)."""
        query = (
            select(*_SESSION_COLUMNS, *USER_COLUMNS)
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(sessions.c.id == session_id)
        )
        row = self._conn.execute(query).mappings().first()
        return None if row is None else (_session(row), user_of(row))

    def touch_session(self, session_id: str, last_seen: datetime, expires: datetime) -> None:
        self._conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(last_seen=last_seen, expires=expires)
        )

    def delete_session(self, session_id: str) -> bool:
        result = self._conn.execute(delete(sessions).where(sessions.c.id == session_id))
        return bool(result.rowcount)

    def delete_sessions_of(self, user_id: str) -> int:
        result = self._conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return int(result.rowcount or 0)

    def delete_expired_sessions(self, now: datetime) -> int:
        result = self._conn.execute(delete(sessions).where(sessions.c.expires <= now))
        return int(result.rowcount or 0)
