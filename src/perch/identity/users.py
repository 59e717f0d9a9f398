"""Users: creating them and checking their passwords."""

from __future__ import annotations

from dataclasses import dataclass, replace

from perch.engine.effects import Audit
from perch.engine.executor import context_for, reading
from perch.engine.ids import new_id
from perch.engine.ports import Store
from perch.engine.principal import SYSTEM, Principal, PrincipalKind
from perch.errors import AlreadyExists, IdentityError, NotFound, Unauthenticated
from perch.identity.model import User, clean_name, clean_text, storable
from perch.identity.passwords import (
    check_strength,
    hash_password,
    password_matches,
    spend_a_verification,
)
from perch.identity.ports import IdentityTransaction, as_identity
from perch.permissions import BindingType


def create_user(
    store: Store,
    username: str,
    password: str,
    *,
    email: str | None = None,
    superadmin: bool = False,
    display_name: str | None = None,
    principal: Principal = SYSTEM,
) -> User:
    """Create a user who signs in with ``username`` (or ``email``) and ``password``.

    Raises :class:`~perch.errors.WeakPassword` for a password under 8 characters and
    :class:`~perch.errors.AlreadyExists` when the username or e-mail is taken (a username
    may not be another user's e-mail either, so a login names one user only).
    """
    username = _clean_username(username)
    if email is not None:
        email = _clean_email(email)
    if display_name is not None:
        display_name = clean_text(display_name)
        display_name = None if display_name is None else clean_name(display_name, "display name")
    check_strength(password)
    # Hashing takes tens of milliseconds: do it before holding the write transaction.
    user = User(
        id=new_id(),
        username=username,
        password_hash=hash_password(password),
        created=context_for(store).clock.now(),
        email=email,
        superadmin=superadmin,
        display_name=display_name,
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


def _clean_username(username: str) -> str:
    username = clean_name(username, "username")
    if any(c.isspace() for c in username):
        raise IdentityError("the username may not contain spaces")
    return username


def _clean_email(email: str) -> str:
    email = clean_name(email, "e-mail address").lower()
    if "@" not in email or any(c.isspace() for c in email):
        raise IdentityError(f"'{email}' is not an e-mail address")
    return email


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
    return Principal(check_password(store, login, password).username, PrincipalKind.USER)


def check_password(store: Store, login: str, password: str, *, address: str | None = None) -> User:
    """The enabled user ``login`` if ``password`` is theirs (see :func:`verify_password`). A
    wrong password for a user who exists is in the audit trail (``LOGIN_FAILED``, with
    ``address``); tries at unknown logins are not, so nobody fills the trail with made-up
    names."""
    user = find_user(store, login)
    if user is None:
        spend_a_verification(password)
        raise Unauthenticated("wrong username or password")
    if user.disabled or not password_matches(user.password_hash, password):
        if user.disabled:
            spend_a_verification(password)
        _login_failed(store, user, address)
        raise Unauthenticated("wrong username or password")
    return user


def _login_failed(store: Store, user: User, address: str | None) -> None:
    now = context_for(store).clock.now()
    why = "disabled" if user.disabled else "wrong password"
    record = Audit(
        "LOGIN_FAILED",
        Principal(user.username, PrincipalKind.USER),
        {"userId": user.id, "reason": why},
        resource_type="USER",
        resource_id=user.id,
        address=address,
        outcome="UNAUTHORIZED",
    )
    with store.transaction() as raw:
        raw.add_audit(None, record, now)


def record_login(store: Store, user: User, address: str | None) -> None:
    """A ``LOGIN`` record: ``user`` signed in with their password from ``address``."""
    now = context_for(store).clock.now()
    record = Audit(
        "LOGIN",
        Principal(user.username, PrincipalKind.USER),
        {"userId": user.id},
        resource_type="USER",
        resource_id=user.id,
        address=address,
    )
    with store.transaction() as raw:
        raw.add_audit(None, record, now)


def still_signs_in(store: Store, checked: User) -> bool:
    """Whether a user whose password was checked earlier may still sign in with it: neither
    disabled, deleted, renamed nor given a new password since (one read by id)."""
    with reading(store) as raw:
        now = as_identity(raw).get_user(checked.id)
    return (
        now is not None
        and not now.disabled
        and now.username == checked.username
        and now.password_hash == checked.password_hash
    )


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


class UserNotFound(NotFound):
    """The user does not exist."""


def get_user(store: Store, user_id: str) -> User:
    """The user with this id; :class:`UserNotFound` otherwise."""
    user = None
    if storable(user_id):
        with reading(store) as raw:
            user = as_identity(raw).get_user(user_id)
    if user is None:
        raise UserNotFound(f"User '{user_id}' not found")
    return user


def search_users(
    store: Store, text: str | None = None, *, page: int = 1, size: int = 25
) -> tuple[list[User], int]:
    """One page of the users matching ``text`` (in username, e-mail or display name), by
    username, and how many match in all."""
    if text is not None and not storable(text):
        return [], 0
    with reading(store) as raw:
        return as_identity(raw).search_users(text, (page - 1) * size, size)


@dataclass(frozen=True, slots=True)
class UserChanges:
    """What an update changes; ``None`` leaves a field as it is."""

    username: str | None = None
    email: str | None = None
    display_name: str | None = None
    password: str | None = None
    superadmin: bool | None = None
    disabled: bool | None = None


def update_user(
    store: Store, user_id: str, changes: UserChanges, *, principal: Principal = SYSTEM
) -> User:
    """Change a user. A disabled user's credentials stop working with the next request (see
    :func:`verify_password`); the last enabled superadmin can be neither disabled nor demoted,
    so Perch always keeps someone who can administer it."""
    before = get_user(store, user_id)
    username = before.username if changes.username is None else _clean_username(changes.username)
    email = before.email
    if changes.email is not None:
        email = _clean_email(changes.email) if changes.email.strip() else None
    display_name = before.display_name
    if changes.display_name is not None:
        display_name = clean_text(changes.display_name)
        if display_name is not None:
            display_name = clean_name(display_name, "display name")
    password_hash = before.password_hash
    if changes.password is not None:
        check_strength(changes.password)
        password_hash = hash_password(changes.password)
    after = replace(
        before,
        username=username,
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        superadmin=before.superadmin if changes.superadmin is None else changes.superadmin,
        disabled=before.disabled if changes.disabled is None else changes.disabled,
    )
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        for login in {username, email} - {before.username, before.email, None}:
            other = tx.find_user(login) if login is not None else None
            if other is not None and other.id != user_id:
                raise AlreadyExists(f"a user with the login '{login}' already exists")
        if _was_last_admin(tx, before, after):
            raise IdentityError("the last enabled superadmin cannot be disabled or demoted")
        if not tx.update_user(after):
            raise UserNotFound(f"User '{user_id}' not found")
        if after.disabled or after.password_hash != before.password_hash:
            tx.delete_sessions_of(user_id)  # signed-in browsers stop with this commit
        action = "USER_DISABLED" if after.disabled and not before.disabled else "USER_UPDATED"
        detail = {"userId": user_id, "username": username, "changed": _changed(before, after)}
        tx.add_audit(None, Audit(action, principal, detail), now)
    return after


def delete_user(store: Store, user_id: str, *, principal: Principal = SYSTEM) -> User:
    """Delete a user and their group memberships; their credentials stop working at once.
    Their audit records stay: the decisions they made outlive them."""
    user = get_user(store, user_id)
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        if _was_last_admin(tx, user, replace(user, disabled=True)):
            raise IdentityError("the last enabled superadmin cannot be deleted")
        if not tx.delete_user(user.id):
            raise UserNotFound(f"User '{user_id}' not found")
        tx.delete_bindings_of(BindingType.USER, user.id)
        tx.delete_sessions_of(user.id)
        detail = {"userId": user.id, "username": user.username}
        tx.add_audit(None, Audit("USER_DELETED", principal, detail), now)
    return user


def _was_last_admin(tx: IdentityTransaction, before: User, after: User) -> bool:
    """Whether ``before`` is the only enabled superadmin and ``after`` no longer is one."""
    was = before.superadmin and not before.disabled
    still = after.superadmin and not after.disabled
    if not was or still:
        return False
    return not tx.has_superadmin(excluding=before.id)


def _changed(before: User, after: User) -> list[str]:
    names = ("username", "email", "display_name", "password_hash", "superadmin", "disabled")
    return [
        "password" if n == "password_hash" else n
        for n in names
        if getattr(before, n) != getattr(after, n)
    ]
