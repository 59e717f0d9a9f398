"""Roles and bindings: the RBAC methods of the store's transactions.

Built-in roles are not stored (:func:`perch.permissions.builtin_roles`); a binding may name one
by its fixed id. What a principal may do in a tenant is read in one query over its bindings
(its own and its groups'), plus one for the custom roles they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from perch.errors import AlreadyExists
from perch.permissions import Binding, BindingType, Role, parse_permissions, permissions_json
from perch.store.codec import dumps, loads
from perch.store.schema import bindings, group_members, groups, roles

_ROLE_COLUMNS = (
    roles.c.id,
    roles.c.tenant,
    roles.c.name,
    roles.c.description,
    roles.c.permissions,
    roles.c.created,
)


def _role(m: RowMapping) -> Role:
    return Role(
        id=m["id"],
        tenant=m["tenant"],
        name=m["name"],
        permissions=parse_permissions(loads(m["permissions"])),
        created=m["created"],
        description=m["description"],
    )


def _role_row(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "tenant": role.tenant,
        "name": role.name,
        "description": role.description,
        "permissions": dumps(permissions_json(role.permissions)),
        "created": role.created,
    }


def _binding(m: RowMapping) -> Binding:
    return Binding(
        id=m["id"],
        tenant=m["tenant"],
        type=BindingType(m["type"]),
        external_id=m["external_id"],
        role_id=m["role_id"],
        created=m["created"],
        namespace=m["namespace"],
    )


class RoleQueries:
    """The role and binding methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    # --- roles --------------------------------------------------------------------------------

    def insert_role(self, role: Role) -> None:
        """Add a custom role; :class:`AlreadyExists` when the tenant has that name."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(roles.insert(), _role_row(role))
        except IntegrityError as exc:
            raise AlreadyExists(f"a role named '{role.name}' already exists") from exc

    def update_role(self, role: Role) -> bool:
        try:
            with self._conn.begin_nested():
                done = self._conn.execute(
                    update(roles).where(roles.c.id == role.id).values(_role_row(role))
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"a role named '{role.name}' already exists") from exc
        return done.rowcount > 0

    def delete_role(self, role_id: str) -> bool:
        """Delete the role and every binding to it; False when there was none."""
        self._conn.execute(delete(bindings).where(bindings.c.role_id == role_id))
        return self._conn.execute(delete(roles).where(roles.c.id == role_id)).rowcount > 0

    def get_role(self, role_id: str) -> Role | None:
        m = self._conn.execute(select(*_ROLE_COLUMNS).where(roles.c.id == role_id)).mappings()
        row = m.first()
        return _role(row) if row is not None else None

    def find_role(self, tenant: str, name: str) -> Role | None:
        query = select(*_ROLE_COLUMNS).where(roles.c.tenant == tenant, roles.c.name == name)
        row = self._conn.execute(query).mappings().first()
        return _role(row) if row is not None else None

    def list_roles(self, tenant: str) -> list[Role]:
        query = select(*_ROLE_COLUMNS).where(roles.c.tenant == tenant).order_by(roles.c.name)
        return [_role(m) for m in self._conn.execute(query).mappings()]

    def roles_by_id(self, role_ids: Sequence[str]) -> list[Role]:
        if not role_ids:
            return []
        query = select(*_ROLE_COLUMNS).where(roles.c.id.in_(list(role_ids)))
        return [_role(m) for m in self._conn.execute(query).mappings()]

    # --- bindings -----------------------------------------------------------------------------

    def insert_binding(self, binding: Binding) -> None:
        self._conn.execute(
            bindings.insert(),
            {
                "id": binding.id,
                "tenant": binding.tenant,
                "type": binding.type.value,
                "external_id": binding.external_id,
                "role_id": binding.role_id,
                "namespace": binding.namespace,
                "created": binding.created,
            },
        )

    def get_binding(self, binding_id: str) -> Binding | None:
        row = self._conn.execute(select(bindings).where(bindings.c.id == binding_id)).mappings()
        first = row.first()
        return _binding(first) if first is not None else None

    def delete_binding(self, binding_id: str) -> bool:
        return self._conn.execute(delete(bindings).where(bindings.c.id == binding_id)).rowcount > 0

    def delete_bindings_of(self, type: BindingType, external_id: str) -> int:
        """Remove every binding of one user, group or service account (when it is deleted)."""
        done = self._conn.execute(
            delete(bindings).where(
                bindings.c.type == type.value, bindings.c.external_id == external_id
            )
        )
        return int(done.rowcount)

    def search_bindings(
        self,
        tenant: str,
        *,
        type: BindingType | None,
        external_id: str | None,
        role_id: str | None,
        namespace: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Binding], int]:
        """The tenant's bindings matching every filter given, oldest first; and the total."""
        where = [bindings.c.tenant == tenant]
        if type is not None:
            where.append(bindings.c.type == type.value)
        if external_id is not None:
            where.append(bindings.c.external_id == external_id)
        if role_id is not None:
            where.append(bindings.c.role_id == role_id)
        if namespace is not None:
            where.append(bindings.c.namespace == namespace)
        cond = and_(*where)
        query = (select(bindings).where(cond).order_by(bindings.c.created, bindings.c.id)).offset(
            offset
        )
        count = select(func.count()).select_from(bindings).where(cond)
        found = [_binding(m) for m in self._conn.execute(query.limit(limit)).mappings()]
        return found, int(self._conn.execute(count).scalar_one())

    def bindings_of_user(self, tenant: str, user_id: str) -> list[Binding]:
        """The user's own bindings in ``tenant`` and those of the groups they belong to."""
        member_of = (
            select(group_members.c.group_id)
            .join(groups, groups.c.id == group_members.c.group_id)
            .where(group_members.c.user_id == user_id, groups.c.tenant == tenant)
        )
        query = select(bindings).where(
            bindings.c.tenant == tenant,
            or_(
                and_(bindings.c.type == BindingType.USER.value, bindings.c.external_id == user_id),
                and_(
                    bindings.c.type == BindingType.GROUP.value,
                    bindings.c.external_id.in_(member_of),
                ),
            ),
        )
        return [_binding(m) for m in self._conn.execute(query).mappings()]

    def bindings_of_account(self, tenant: str, account_id: str) -> list[Binding]:
        query = select(bindings).where(
            bindings.c.tenant == tenant,
            bindings.c.type == BindingType.SERVICE_ACCOUNT.value,
            bindings.c.external_id == account_id,
        )
        return [_binding(m) for m in self._conn.execute(query).mappings()]
