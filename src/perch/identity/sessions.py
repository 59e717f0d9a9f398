"""Sessions of the web UI: a browser that signed in with a password.

The cookie holds 256 random bits; the database keeps only their SHA-256 (the session's id), so
a copy of the database signs nobody in. A session ends when its user signs out, after
:data:`IDLE` without a request, at the latest :data:`LONGEST` after it began, and at once when
its user is disabled, deleted or given a new password (:mod:`perch.identity.users` ends them in
the same transaction). Each session has its own CSRF token, which every form it posts carries.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from perch.engine.effects import Audit
from perch.engine.executor import context_for, reading
from perch.engine.ports import Store
from perch.engine.principal import Principal, PrincipalKind
from perch.errors import Unauthenticated
from perch.identity.model import Session, User
from perch.identity.ports import as_identity

IDLE = timedelta(hours=12)
LONGEST = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)
"""A session's expiry moves forward at most this often (a read is not turned into a write)."""


def session_id(raw: str) -> str:
    """The SHA-256 hex digest under which a cookie's session is stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session and its user."""

    session: Session
    user: User

    @property
    def principal(self) -> Principal:
        return Principal(self.user.username, PrincipalKind.USER)


def start_session(
    store: Store, user: User, *, address: str | None = None, user_agent: str | None = None
) -> tuple[str, SignedIn]:
    """A new session of ``user`` (whose password was just checked), recorded as a ``LOGIN``;
    the raw cookie value is returned here only."""
    raw = secrets.token_urlsafe(32)
    now = context_for(store).clock.now()
    session = Session(
        id=session_id(raw),
        user_id=user.id,
        csrf=secrets.token_urlsafe(32),
        created=now,
        last_seen=now,
        expires=now + IDLE,
        address=address,
        user_agent=(user_agent or "")[:512] or None,
    )
    record = Audit(
        "LOGIN",
        Principal(user.username, PrincipalKind.USER),
        {"userId": user.id, "session": "started"},
        resource_type="USER",
        resource_id=user.id,
        channel="UI",
        address=address,
        user_agent=session.user_agent,
    )
    with store.transaction() as raw_tx:
        tx = as_identity(raw_tx)
        tx.delete_expired_sessions(now)
        tx.insert_session(session)
        tx.add_audit(None, record, now)
    return raw, SignedIn(session, user)


def find_session(store: Store, raw: str) -> SignedIn:
    """The live session of a cookie's value; :class:`Unauthenticated` when there is none, it
    expired, or its user is disabled. A session in use has its expiry moved forward."""
    if not raw or len(raw) > 256:
        raise Unauthenticated("not signed in")
    key = session_id(raw)
    now = context_for(store).clock.now()
    with reading(store) as tx:
        found = as_identity(tx).find_session(key)
    if found is None:
        raise Unauthenticated("not signed in")
    session, user = found
    if user.disabled or now >= session.expires:
        raise Unauthenticated("the session has ended: sign in again")
    if now - session.last_seen >= TOUCH_EVERY:
        expires = min(now + IDLE, session.created + LONGEST)
        with store.transaction() as tx:
            as_identity(tx).touch_session(key, now, expires)
    return SignedIn(session, user)


def end_session(store: Store, raw: str, *, address: str | None = None) -> None:
    """Sign a browser out (a ``LOGOUT`` record); nothing happens for an unknown session."""
    key = session_id(raw)
    now = context_for(store).clock.now()
    with store.transaction() as raw_tx:
        tx = as_identity(raw_tx)
        found = tx.find_session(key)
        if found is None or not tx.delete_session(key):
            return
        _, user = found
        record = Audit(
            "LOGOUT",
            Principal(user.username, PrincipalKind.USER),
            {"userId": user.id},
            resource_type="USER",
            resource_id=user.id,
            channel="UI",
            address=address,
        )
        tx.add_audit(None, record, now)


def csrf_matches(signed_in: SignedIn, sent: str | None) -> bool:
    """Whether a form's CSRF token is its session's (compared in constant time)."""
    return bool(sent) and secrets.compare_digest(
        signed_in.session.csrf.encode(), str(sent).encode()
    )
