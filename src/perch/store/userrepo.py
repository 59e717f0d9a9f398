"""Users, groups and tenants: identity methods of the store's transactions.

Uniqueness (usernames, e-mails, a tenant's group names) is enforced by the database, so two
concurrent creations cannot both succeed; the loser gets :class:`perch.errors.AlreadyExists`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from perch.engine.assignment import Decider
from perch.errors import AlreadyExists
from perch.identity.model import Group, Tenant, User
from perch.store.prepared import Prepared
from perch.store.schema import group_members, groups, tenants, users

USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.password_hash,
    users.c.created,
    users.c.email,
    users.c.superadmin,
    users.c.disabled,
    users.c.display_name,
)
_GROUP_COLUMNS = (
    groups.c.id,
    groups.c.tenant,
    groups.c.name,
    groups.c.created,
    groups.c.description,
)

# Every decision on a HumanTask runs this one: the user and their groups in the tenant.
_DECIDER = Prepared(
    select(users.c.email, groups.c.name)
    .select_from(
        users.outerjoin(group_members, group_members.c.user_id == users.c.id).outerjoin(
            groups, and_(groups.c.id == group_members.c.group_id, groups.c.tenant == bindparam("t"))
        )
    )
    .where(users.c.username == bindparam("u"), users.c.disabled.is_(False))
)


def user_of(m: RowMapping) -> User:
    """The user of a row selected with :data:`USER_COLUMNS`."""
    return User(
        id=m["id"],
        username=m["username"],
        password_hash=m["password_hash"],
        created=m["created"],
        email=m["email"],
        superadmin=bool(m["superadmin"]),
        disabled=bool(m["disabled"]),
        display_name=m["display_name"],
    )


def _group(m: RowMapping) -> Group:
    return Group(
        id=m["id"],
        tenant=m["tenant"],
        name=m["name"],
        created=m["created"],
        description=m["description"],
    )


def _containing(text: str | None, *columns: Any) -> ColumnElement[bool] | None:
    """Rows where any of ``columns`` contains ``text`` in any case (LIKE wildcards escaped)."""
    if not text:
        return None
    needle = text.lower()
    return or_(*(func.lower(c).contains(needle, autoescape=True) for c in columns))


class UserQueries:
    """The user, group and tenant methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    # --- users --------------------------------------------------------------------------------

    def insert_user(self, user: User) -> None:
        """Add a user; :class:`AlreadyExists` when the username or e-mail is taken."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(users.insert(), _user_row(user))
        except IntegrityError as exc:
            raise AlreadyExists(
                f"a user with the username '{user.username}' or that e-mail already exists"
            ) from exc

    def update_user(self, user: User) -> bool:
        """Write every field of ``user``; False when it no longer exists, :class:`AlreadyExists`
        when its new username or e-mail is another user's."""
        try:
            with self._conn.begin_nested():
                done = self._conn.execute(
                    update(users).where(users.c.id == user.id).values(_user_row(user))
                )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"a user with the username '{user.username}' or that e-mail already exists"
            ) from exc
        return done.rowcount > 0

    def delete_user(self, user_id: str) -> bool:
        """Delete the user and their group memberships; False when there was none."""
        self._conn.execute(delete(group_members).where(group_members.c.user_id == user_id))
        return self._conn.execute(delete(users).where(users.c.id == user_id)).rowcount > 0

    def find_user(self, login: str) -> User | None:
        """The user whose username is ``login``, or else whose e-mail is (any case)."""
        query = select(*USER_COLUMNS).where(
            or_(users.c.username == login, users.c.email == login.lower())
        )
        found = [user_of(m) for m in self._conn.execute(query).mappings()]
        for user in found:
            if user.username == login:
                return user
        return found[0] if found else None

    def get_user(self, user_id: str) -> User | None:
        """The user with this id."""
        row = self._conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id))
        m = row.mappings().first()
        return user_of(m) if m is not None else None

    def search_users(self, text: str | None, offset: int, limit: int) -> tuple[list[User], int]:
        """Users whose username, e-mail or display name contains ``text``, by username; and
        how many match in all."""
        where = _containing(text, users.c.username, users.c.email, users.c.display_name)
        query = select(*USER_COLUMNS).order_by(users.c.username).offset(offset).limit(limit)
        count = select(func.count()).select_from(users)
        if where is not None:
            query, count = query.where(where), count.where(where)
        found = [user_of(m) for m in self._conn.execute(query).mappings()]
        return found, int(self._conn.execute(count).scalar_one())

    def has_superadmin(self, excluding: str | None = None) -> bool:
        """Whether an enabled superadmin exists (other than the user ``excluding``)."""
        where = and_(users.c.superadmin.is_(True), users.c.disabled.is_(False))
        if excluding is not None:
            where = and_(where, users.c.id != excluding)
        return bool(self._conn.execute(select(exists().where(where))).scalar())

    def decider(self, username: str, tenant: str) -> Decider | None:
        """The enabled user ``username`` with the names of their groups in ``tenant``."""
        rows = _DECIDER.rows(self._conn, {"u": username, "t": tenant})
        if not rows:
            return None
        names = frozenset(name for _, name in rows if name is not None)
        return Decider(username=username, email=rows[0][0], groups=names)

    # --- groups -------------------------------------------------------------------------------

    def insert_group(self, group: Group) -> None:
        """Add a group; :class:`AlreadyExists` when its tenant has one of that name."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(groups.insert(), _group_row(group))
        except IntegrityError as exc:
            raise AlreadyExists(f"a group named '{group.name}' already exists") from exc

    def update_group(self, group: Group) -> bool:
        """Write the group's name and description; False when it no longer exists."""
        try:
            with self._conn.begin_nested():
                done = self._conn.execute(
                    update(groups)
                    .where(groups.c.id == group.id)
                    .values(name=group.name, description=group.description)
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"a group named '{group.name}' already exists") from exc
        return done.rowcount > 0

    def delete_group(self, group_id: str) -> bool:
        """Delete the group and its memberships; False when there was none."""
        self._conn.execute(delete(group_members).where(group_members.c.group_id == group_id))
        return self._conn.execute(delete(groups).where(groups.c.id == group_id)).rowcount > 0

    def get_group(self, group_id: str) -> Group | None:
        m = (
            self._conn.execute(select(*_GROUP_COLUMNS).where(groups.c.id == group_id))
            .mappings()
            .first()
        )
        return _group(m) if m is not None else None

    def find_group(self, tenant: str, name: str) -> Group | None:
        query = select(*_GROUP_COLUMNS).where(groups.c.tenant == tenant, groups.c.name == name)
        m = self._conn.execute(query).mappings().first()
        return _group(m) if m is not None else None

    def search_groups(
        self, tenant: str, text: str | None, offset: int, limit: int
    ) -> tuple[list[Group], int]:
        """The tenant's groups whose name or description contains ``text``, by name; and how
        many match in all."""
        where = groups.c.tenant == tenant
        matching = _containing(text, groups.c.name, groups.c.description)
        if matching is not None:
            where = and_(where, matching)
        query = select(*_GROUP_COLUMNS).where(where).order_by(groups.c.name)
        count = select(func.count()).select_from(groups).where(where)
        found = [
            _group(m) for m in self._conn.execute(query.offset(offset).limit(limit)).mappings()
        ]
        return found, int(self._conn.execute(count).scalar_one())

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Make the user a member; False when they already were."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    group_members.insert(), {"group_id": group_id, "user_id": user_id}
                )
        except IntegrityError:
            return False
        return True

    def remove_member(self, group_id: str, user_id: str) -> bool:
        """End the membership; False when there was none."""
        done = self._conn.execute(
            delete(group_members).where(
                group_members.c.group_id == group_id, group_members.c.user_id == user_id
            )
        )
        return done.rowcount > 0

    def group_members(self, group_id: str) -> list[User]:
        """The members of the group, by username."""
        query = (
            select(*USER_COLUMNS)
            .select_from(users.join(group_members, group_members.c.user_id == users.c.id))
            .where(group_members.c.group_id == group_id)
            .order_by(users.c.username)
        )
        return [user_of(m) for m in self._conn.execute(query).mappings()]

    def groups_of(self, user_id: str, tenant: str | None = None) -> list[Group]:
        """The groups the user belongs to (in ``tenant``, or in all), by name."""
        query = (
            select(*_GROUP_COLUMNS)
            .select_from(groups.join(group_members, group_members.c.group_id == groups.c.id))
            .where(group_members.c.user_id == user_id)
            .order_by(groups.c.name)
        )
        if tenant is not None:
            query = query.where(groups.c.tenant == tenant)
        return [_group(m) for m in self._conn.execute(query).mappings()]

    # --- tenants ------------------------------------------------------------------------------

    def insert_tenant(self, tenant: Tenant) -> None:
        """Add a tenant; :class:`AlreadyExists` when its id is taken."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    tenants.insert(),
                    {"id": tenant.id, "name": tenant.name, "created": tenant.created},
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"a tenant '{tenant.id}' already exists") from exc

    def list_tenants(self) -> list[Tenant]:
        """The tenants created besides the default one, by id."""
        query = select(tenants.c.id, tenants.c.name, tenants.c.created).order_by(tenants.c.id)
        return [Tenant(*row) for row in self._conn.execute(query)]


def _user_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "password_hash": user.password_hash,
        "superadmin": user.superadmin,
        "disabled": user.disabled,
        "created": user.created,
        "display_name": user.display_name,
    }


def _group_row(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "tenant": group.tenant,
        "name": group.name,
        "description": group.description,
        "created": group.created,
    }
