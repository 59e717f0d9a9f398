"""Roles, bindings, and what a principal may do in a tenant (:func:`grants_of`).

Built-in roles (Admin, Developer, Editor, Launcher, Viewer) exist in every tenant and cannot be
changed; custom roles belong to one tenant. A binding gives a role to a user, a group or a
service account, on a namespace and its children or on the whole tenant. A superadmin may do
everything everywhere (a HumanTask's assignment still applies: see
:mod:`perch.engine.assignment`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from perch.engine.effects import Audit
from perch.engine.executor import context_for, reading
from perch.engine.ids import new_id
from perch.engine.ports import Store
from perch.engine.principal import SYSTEM, Principal, PrincipalKind
from perch.errors import IdentityError, NotFound
from perch.identity.model import clean_name, clean_text, storable
from perch.identity.ports import IdentityTransaction, as_identity
from perch.permissions import (
    Binding,
    BindingType,
    Grant,
    Grants,
    Role,
    builtin_role,
    builtin_roles,
    parse_permissions,
    permissions_json,
)

NAMESPACE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$")


class RoleNotFound(NotFound):
    """The role does not exist in this tenant."""


class BindingNotFound(NotFound):
    """The binding does not exist in this tenant."""


# --- roles --------------------------------------------------------------------------------------


def _find_role(tx: IdentityTransaction, tenant: str, role_id: str) -> Role | None:
    found = builtin_role(tenant, role_id)
    if found is not None:
        return found
    if not storable(role_id):
        return None
    role = tx.get_role(role_id) or tx.find_role(tenant, role_id)
    return role if role is not None and role.tenant == tenant else None


def get_role(store: Store, role_id: str, *, tenant: str) -> Role:
    """The role of ``tenant`` with this id or name (built-in ones included)."""
    with reading(store) as raw:
        role = _find_role(as_identity(raw), tenant, role_id)
    if role is None:
        raise RoleNotFound(f"Role '{role_id}' not found")
    return role


def search_roles(
    store: Store, tenant: str, text: str | None = None, *, page: int = 1, size: int = 25
) -> tuple[list[Role], int]:
    """One page of the tenant's roles (built-in first, then custom ones by name) whose name
    contains ``text``; and the total."""
    with reading(store) as raw:
        every = builtin_roles(tenant) + as_identity(raw).list_roles(tenant)
    if text:
        every = [r for r in every if text.lower() in r.name.lower()]
    start = (page - 1) * size
    return every[start : start + size], len(every)


def _check_custom_name(tenant: str, name: str) -> str:
    name = clean_name(name, "role name")
    if builtin_role(tenant, name) is not None:
        raise IdentityError(f"'{name}' is the name of a built-in role")
    return name


def create_role(
    store: Store,
    tenant: str,
    name: str,
    permissions: Mapping[str, object],
    *,
    description: str | None = None,
    principal: Principal = SYSTEM,
) -> Role:
    """A new custom role; :class:`~perch.errors.AlreadyExists` when the name is taken."""
    now = context_for(store).clock.now()
    role = Role(
        new_id(),
        tenant,
        _check_custom_name(tenant, name),
        parse_permissions(permissions),
        created=now,
        description=clean_text(description),
    )
    with store.transaction() as raw:
        tx = as_identity(raw)
        tx.insert_role(role)
        tx.add_audit(None, Audit("ROLE_CREATED", principal, _role_detail(role)), now)
    return role


def update_role(
    store: Store,
    role_id: str,
    *,
    tenant: str,
    name: str | None = None,
    permissions: Mapping[str, object] | None = None,
    description: str | None = None,
    principal: Principal = SYSTEM,
) -> Role:
    """Change a custom role; built-in roles cannot be changed (422)."""
    role = get_role(store, role_id, tenant=tenant)
    if role.builtin:
        raise IdentityError(f"the built-in role '{role.name}' cannot be changed")
    changed = replace(
        role,
        name=role.name if name is None else _check_custom_name(tenant, name),
        permissions=role.permissions if permissions is None else parse_permissions(permissions),
        description=role.description if description is None else clean_text(description),
    )
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        if not tx.update_role(changed):
            raise RoleNotFound(f"Role '{role_id}' not found")
        detail = {**_role_detail(changed), "before": permissions_json(role.permissions)}
        tx.add_audit(None, Audit("ROLE_UPDATED", principal, detail), now)
    return changed


def delete_role(store: Store, role_id: str, *, tenant: str, principal: Principal = SYSTEM) -> Role:
    """Delete a custom role and every binding to it."""
    role = get_role(store, role_id, tenant=tenant)
    if role.builtin:
        raise IdentityError(f"the built-in role '{role.name}' cannot be deleted")
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        if not tx.delete_role(role.id):
            raise RoleNotFound(f"Role '{role_id}' not found")
        tx.add_audit(None, Audit("ROLE_DELETED", principal, _role_detail(role)), now)
    return role


def _role_detail(role: Role) -> dict[str, object]:
    return {
        "tenant": role.tenant,
        "roleId": role.id,
        "name": role.name,
        "permissions": permissions_json(role.permissions),
    }


# --- bindings -----------------------------------------------------------------------------------


def _subject_exists(tx: IdentityTransaction, tenant: str, type: BindingType, id: str) -> bool:
    if type is BindingType.USER:
        return tx.get_user(id) is not None
    if type is BindingType.GROUP:
        group = tx.get_group(id)
        return group is not None and group.tenant == tenant
    account = tx.get_service_account(id)
    return account is not None and account.tenant == tenant


def _resolve_subject(
    tx: IdentityTransaction, tenant: str, type: BindingType, name_or_id: str
) -> str | None:
    """The id of the user (id, username or e-mail), group (id or name) or service account (id
    or name) of ``tenant`` a binding is for; None when there is none."""
    if not storable(name_or_id):
        return None
    if _subject_exists(tx, tenant, type, name_or_id):
        return name_or_id
    if type is BindingType.USER:
        user = tx.find_user(name_or_id)
        return user.id if user is not None else None
    if type is BindingType.GROUP:
        group = tx.find_group(tenant, name_or_id)
        return group.id if group is not None else None
    account = tx.find_service_account(tenant, name_or_id)
    return account.id if account is not None else None


def create_binding(
    store: Store,
    tenant: str,
    type: str,
    external_id: str,
    role_id: str,
    *,
    namespace: str | None = None,
    principal: Principal = SYSTEM,
) -> Binding:
    """Give a role to a user, group or service account of ``tenant`` (by id, or by username,
    e-mail or name)."""
    try:
        kind = BindingType(type.upper())
    except ValueError:
        raise IdentityError(
            f"unknown binding type '{type}'; expected USER, GROUP or SERVICE_ACCOUNT"
        ) from None
    if namespace is not None and not NAMESPACE.match(namespace):
        raise IdentityError(f"'{namespace}' is not a namespace")
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        role = _find_role(tx, tenant, role_id)
        if role is None:
            raise IdentityError(f"Role '{role_id}' not found in tenant '{tenant}'")
        subject = _resolve_subject(tx, tenant, kind, external_id)
        if subject is None:
            raise IdentityError(
                f"no {kind.value.replace('_', ' ').lower()} '{external_id}' in tenant '{tenant}'"
            )
        binding = Binding(new_id(), tenant, kind, subject, role.id, now, namespace)
        tx.insert_binding(binding)
        tx.add_audit(None, Audit("BINDING_CREATED", principal, binding_json(binding)), now)
    return binding


def get_binding(store: Store, binding_id: str, *, tenant: str) -> Binding:
    binding = None
    if storable(binding_id):
        with reading(store) as raw:
            binding = as_identity(raw).get_binding(binding_id)
    if binding is None or binding.tenant != tenant:
        raise BindingNotFound(f"Binding '{binding_id}' not found")
    return binding


def search_bindings(
    store: Store,
    tenant: str,
    *,
    type: BindingType | None = None,
    external_id: str | None = None,
    role_id: str | None = None,
    namespace: str | None = None,
    page: int = 1,
    size: int = 25,
) -> tuple[list[Binding], int]:
    if any(v is not None and not storable(v) for v in (external_id, role_id, namespace)):
        return [], 0
    with reading(store) as raw:
        return as_identity(raw).search_bindings(
            tenant,
            type=type,
            external_id=external_id,
            role_id=role_id,
            namespace=namespace,
            offset=(page - 1) * size,
            limit=size,
        )


def delete_binding(
    store: Store, binding_id: str, *, tenant: str, principal: Principal = SYSTEM
) -> Binding:
    binding = get_binding(store, binding_id, tenant=tenant)
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        if not tx.delete_binding(binding.id):
            raise BindingNotFound(f"Binding '{binding_id}' not found")
        tx.add_audit(None, Audit("BINDING_DELETED", principal, binding_json(binding)), now)
    return binding


def binding_json(binding: Binding) -> dict[str, object]:
    return {
        "id": binding.id,
        "type": binding.type.value,
        "externalId": binding.external_id,
        "roleId": binding.role_id,
        "namespace": binding.namespace,
        "created": binding.created.isoformat().replace("+00:00", "Z"),
    }


# --- what a principal may do --------------------------------------------------------------------


def grants_of(store: Store, principal: Principal, tenant: str) -> Grants:
    """Everything ``principal`` holds in ``tenant``, read in one transaction."""
    if principal.kind is PrincipalKind.SYSTEM:
        return Grants(tenant, everything=True)
    if principal.kind is PrincipalKind.FLOW:
        # A flow holds no bindings: what it may do comes with it (perch.engine.flowactor).
        return principal.grants or Grants(tenant)
    with reading(store) as raw:
        tx = as_identity(raw)
        if principal.kind is PrincipalKind.USER:
            user = tx.find_user(principal.name)
            if user is None or user.disabled or user.username != principal.name:
                return Grants(tenant)
            if user.superadmin:
                return Grants(tenant, everything=True)
            found = tx.bindings_of_user(tenant, user.id)
        else:
            if principal.tenant not in (None, tenant):
                return Grants(tenant)
            account = tx.find_service_account(tenant, principal.name)
            if account is None:
                return Grants(tenant)
            found = tx.bindings_of_account(tenant, account.id)
        custom = {r.id: r for r in tx.roles_by_id([b.role_id for b in found]) if r.tenant == tenant}
    grants: list[Grant] = []
    for binding in found:
        role = builtin_role(tenant, binding.role_id) or custom.get(binding.role_id)
        if role is not None:
            grants.append(Grant(binding.namespace, role.permissions))
    return Grants.of(tenant, grants)
