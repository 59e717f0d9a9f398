"""Groups of users in one tenant, and tenants themselves.

A HumanTask assigned to a group may be resumed by whoever is a member when they decide; the
membership is read in the resume's own transaction, so removing someone takes effect at once.
"""

from __future__ import annotations

import re
from dataclasses import replace

from perch.engine.effects import Audit
from perch.engine.executor import context_for, reading
from perch.engine.ids import new_id
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store
from perch.engine.principal import SYSTEM, Principal
from perch.errors import IdentityError, NotFound
from perch.identity.model import Group, Tenant, User, clean_name, clean_text, storable
from perch.identity.ports import as_identity
from perch.identity.users import UserNotFound
from perch.permissions import BindingType

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""A tenant id: it appears in every path of the tenant's API (``/api/v1/{tenant}/…``)."""


class GroupNotFound(NotFound):
    """The group does not exist."""


def create_group(
    store: Store,
    tenant: str,
    name: str,
    *,
    description: str | None = None,
    principal: Principal = SYSTEM,
) -> Group:
    """A new group of ``tenant``; :class:`~perch.errors.AlreadyExists` when the name is taken."""
    now = context_for(store).clock.now()
    group = Group(new_id(), tenant, clean_name(name, "group name"), now, clean_text(description))
    with store.transaction() as raw:
        tx = as_identity(raw)
        tx.insert_group(group)
        detail = {"tenant": tenant, "groupId": group.id, "name": group.name}
        tx.add_audit(None, Audit("GROUP_CREATED", principal, detail), now)
    return group


def get_group(store: Store, group_id: str, *, tenant: str) -> Group:
    """The group of ``tenant`` with this id (or, failing that, this name)."""
    group = None
    if storable(group_id):
        with reading(store) as raw:
            tx = as_identity(raw)
            group = tx.get_group(group_id) or tx.find_group(tenant, group_id)
    if group is None or group.tenant != tenant:
        raise GroupNotFound(f"Group '{group_id}' not found")
    return group


def search_groups(
    store: Store, tenant: str, text: str | None = None, *, page: int = 1, size: int = 25
) -> tuple[list[Group], int]:
    """One page of the tenant's groups matching ``text``, by name, and the total."""
    if text is not None and not storable(text):
        return [], 0
    with reading(store) as raw:
        return as_identity(raw).search_groups(tenant, text, (page - 1) * size, size)


def update_group(
    store: Store,
    group_id: str,
    *,
    tenant: str,
    name: str | None = None,
    description: str | None = None,
    principal: Principal = SYSTEM,
) -> Group:
    """Rename the group or change its description. A HumanTask assigned to the old name is no
    longer assigned to this group: assignments name groups."""
    before = get_group(store, group_id, tenant=tenant)
    after = replace(
        before,
        name=before.name if name is None else clean_name(name, "group name"),
        description=before.description if description is None else clean_text(description),
    )
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        if not tx.update_group(after):
            raise GroupNotFound(f"Group '{group_id}' not found")
        detail = {"tenant": tenant, "groupId": after.id, "name": after.name}
        tx.add_audit(None, Audit("GROUP_UPDATED", principal, detail), now)
    return after


def delete_group(
    store: Store, group_id: str, *, tenant: str, principal: Principal = SYSTEM
) -> Group:
    """Delete the group and its memberships."""
    group = get_group(store, group_id, tenant=tenant)
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        if not tx.delete_group(group.id):
            raise GroupNotFound(f"Group '{group_id}' not found")
        tx.delete_bindings_of(BindingType.GROUP, group.id)
        detail = {"tenant": tenant, "groupId": group.id, "name": group.name}
        tx.add_audit(None, Audit("GROUP_DELETED", principal, detail), now)
    return group


def group_members(store: Store, group_id: str, *, tenant: str) -> list[User]:
    """The group's members, by username."""
    group = get_group(store, group_id, tenant=tenant)
    with reading(store) as raw:
        return as_identity(raw).group_members(group.id)


def set_membership(
    store: Store,
    group_id: str,
    user: str,
    member: bool,
    *,
    tenant: str,
    principal: Principal = SYSTEM,
) -> bool:
    """Add ``user`` (an id, a username or an e-mail) to the group, or remove them; whether
    anything changed. It takes effect with the next decision."""
    group = get_group(store, group_id, tenant=tenant)
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        found = (tx.get_user(user) or tx.find_user(user)) if storable(user) else None
        if found is None:
            raise UserNotFound(f"User '{user}' not found")
        if member:
            changed = tx.add_member(group.id, found.id)
        else:
            changed = tx.remove_member(group.id, found.id)
        if changed:
            action = "GROUP_MEMBER_ADDED" if member else "GROUP_MEMBER_REMOVED"
            detail = {
                "tenant": tenant,
                "groupId": group.id,
                "group": group.name,
                "userId": found.id,
                "username": found.username,
            }
            tx.add_audit(None, Audit(action, principal, detail), now)
    return changed


def groups_of(store: Store, user_id: str, *, tenant: str | None = None) -> list[Group]:
    """The groups a user belongs to (in ``tenant``, or in every tenant)."""
    with reading(store) as raw:
        return as_identity(raw).groups_of(user_id, tenant)


# --- tenants ----------------------------------------------------------------------------------


def create_tenant(
    store: Store, tenant_id: str, name: str | None = None, *, principal: Principal = SYSTEM
) -> Tenant:
    """A new tenant. From then on, API paths name their tenant strictly (while only the
    default one exists, any tenant in a path means it)."""
    if not TENANT_ID.match(tenant_id):
        raise IdentityError(
            f"'{tenant_id}' is not a tenant id: 1 to 64 lower-case letters, digits, - and _"
        )
    if tenant_id == DEFAULT_TENANT:
        raise IdentityError(f"the tenant '{DEFAULT_TENANT}' always exists")
    now = context_for(store).clock.now()
    tenant = Tenant(tenant_id, clean_name(name or tenant_id, "tenant name"), now)
    with store.transaction() as raw:
        tx = as_identity(raw)
        tx.insert_tenant(tenant)
        detail = {"tenant": tenant.id, "name": tenant.name}
        tx.add_audit(None, Audit("TENANT_CREATED", principal, detail), now)
    return tenant


def list_tenants(store: Store) -> list[Tenant]:
    """The created tenants (the default tenant, always there, is not among them)."""
    with reading(store) as raw:
        return as_identity(raw).list_tenants()
