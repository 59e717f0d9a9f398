"""Users: creating them and checking their passwords."""

from __future__ import annotations

from perch.engine.effects import Audit
from perch.engine.executor import context_for, reading
from perch.engine.ids import new_id
from perch.engine.ports import Store
from perch.engine.principal import SYSTEM, Principal, PrincipalKind
from perch.errors import AlreadyExists, IdentityError, Unauthenticated
from perch.identity.model import User, clean_name, storable
from perch.identity.passwords import (
    check_strength,
    hash_password,
    password_matches,
    spend_a_verification,
)
from perch.identity.ports import as_identity


def create_user(
    store: Store,
    username: str,
    password: str,
    *,
    email: str | None = None,
    superadmin: bool = False,
    principal: Principal = SYSTEM,
) -> User:
    """Create a user who signs in with ``username`` (or ``email``) and ``password``.

    Raises :class:`~perch.errors.WeakPassword` for a password under 8 characters and
    :class:`~perch.errors.AlreadyExists` when the username or e-mail is taken (a username
    may not be another user's e-mail either, so a login names one user only).
    """
    username = clean_name(username, "username")
    if any(c.isspace() for c in username):
        raise IdentityError("the username may not contain spaces")
    if email is not None:
        email = clean_name(email, "e-mail address").lower()
        if "@" not in email or any(c.isspace() for c in email):
            raise IdentityError(f"'{email}' is not an e-mail address")
    check_strength(password)
    # Hashing takes tens of milliseconds: do it before holding the write transaction.
    user = User(
        id=new_id(),
        username=username,
        password_hash=hash_password(password),
        created=context_for(store).clock.now(),
        email=email,
        superadmin=superadmin,
    )
    with store.transaction() as raw:
        tx = as_identity(raw)
        for login in (username, email):
            if login is not None and tx.find_user(login) is not None:
                raise AlreadyExists(f"a user with the login '{login}' already exists")
        tx.insert_user(user)
        tx.add_audit(
            None,
            Audit(
                "USER_CREATED",
                principal,
                {"userId": user.id, "username": username, "superadmin": superadmin},
            ),
            user.created,
        )
    return user


def has_superadmin(store: Store) -> bool:
    """Whether an enabled superadmin exists (until then, Perch is not set up)."""
    with reading(store) as raw:
        return as_identity(raw).has_superadmin()


def find_user(store: Store, login: str) -> User | None:
    """The user with this username, or else this e-mail."""
    if not storable(login):
        return None
    with reading(store) as raw:
        return as_identity(raw).find_user(login)


def verify_password(store: Store, login: str, password: str) -> Principal:
    """The principal of the user ``login`` (username or e-mail) if ``password`` is theirs.

    Raises :class:`~perch.errors.Unauthenticated` otherwise, after the same work whether or not
    the user exists, so the answer's timing does not reveal valid usernames.
    """
    user = find_user(store, login)
    if user is None or user.disabled:
        spend_a_verification(password)
        raise Unauthenticated("wrong username or password")
    if not password_matches(user.password_hash, password):
        raise Unauthenticated("wrong username or password")
    return Principal(user.username, PrincipalKind.USER)


def is_superadmin(store: Store, principal: Principal) -> bool:
    """Whether ``principal`` is an enabled superadmin user."""
    if principal.kind is not PrincipalKind.USER:
        return False
    user = find_user(store, principal.name)
    return (
        user is not None
        and user.superadmin
        and not user.disabled
        and (user.username == principal.name)
    )
