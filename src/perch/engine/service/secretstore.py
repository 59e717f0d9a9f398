"""Namespace secrets: set, list and delete them (the API and the CLI call these).

A secret belongs to one (tenant, namespace, key); its value is encrypted by the store
(:mod:`perch.store.secretrepo`) and never comes back through a read: listing gives names,
descriptions and dates only. Flows read secrets with ``secret('NAME')``
(:mod:`perch.engine.secretlookup`): their namespace's, then its parents', then ``SECRET_NAME``.
Changes are audited by name, never with a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, cast

from perch.engine.context import context_for, reading
from perch.engine.effects import Audit
from perch.engine.ports import Store, Transaction
from perch.engine.principal import SYSTEM, Principal
from perch.engine.secretlookup import KEY_PATTERN, SecretLookup
from perch.errors import SecretError, SecretNotFound

NAMESPACE_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")
MAX_VALUE: Final = 1_000_000
"""Characters a secret value may hold."""


@dataclass(frozen=True, slots=True)
class SecretMeta:
    """What may be shown of a stored secret: everything but its value."""

    tenant: str
    namespace: str
    key: str
    description: str | None
    created: datetime
    updated: datetime


class SecretTransaction(SecretLookup, Protocol):
    """The secret store's reads and writes of one database transaction (plus the engine's)."""

    def put_secret(
        self,
        tenant: str,
        namespace: str,
        key: str,
        value: str,
        *,
        description: str | None,
        at: datetime,
    ) -> bool:
        """Store (encrypted) or replace the value; True when the secret is new."""
        ...

    def list_secrets(self, tenant: str, namespace: str) -> list[SecretMeta]:
        """The namespace's own secrets, by key."""
        ...

    def delete_secret(self, tenant: str, namespace: str, key: str) -> bool:
        """Delete the secret; False when there was none."""
        ...


def _tx(raw: Transaction) -> SecretTransaction:
    return cast(SecretTransaction, raw)


def check_namespace(namespace: str) -> str:
    if not NAMESPACE_PATTERN.match(namespace):
        raise SecretError(f"Invalid namespace '{namespace}'")
    return namespace


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise SecretError(
            f"Invalid secret key '{key}': use letters, digits, '_', '.' and '-' "
            "(at most 255 characters)"
        )
    return key


def set_secret(
    store: Store,
    tenant: str,
    namespace: str,
    key: str,
    value: str,
    *,
    description: str | None = None,
    principal: Principal = SYSTEM,
) -> bool:
    """Create or replace the secret ``key`` of ``namespace``; True when it is new."""
    check_namespace(namespace)
    check_key(key)
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise SecretError(
            f"The value of secret '{key}' must be text of at most {MAX_VALUE} characters"
        )
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = _tx(raw)
        created = tx.put_secret(tenant, namespace, key, value, description=description, at=now)
        action = "SECRET_CREATED" if created else "SECRET_UPDATED"
        tx.add_audit(None, _audit(action, principal, tenant, namespace, key), now)
    return created


def list_secrets(store: Store, tenant: str, namespace: str) -> list[SecretMeta]:
    """The secrets of ``namespace`` itself (not its parents'), without their values."""
    check_namespace(namespace)
    with reading(store) as raw:
        return _tx(raw).list_secrets(tenant, namespace)


def describe_secret(store: Store, tenant: str, namespace: str, key: str) -> SecretMeta:
    """What may be shown of one secret; :class:`~perch.errors.SecretNotFound` when missing."""
    check_key(key)
    for meta in list_secrets(store, tenant, namespace):
        if meta.key == key:
            return meta
    raise SecretNotFound(f"Secret '{key}' not found in namespace {namespace}")


def delete_secret(
    store: Store,
    tenant: str,
    namespace: str,
    key: str,
    *,
    principal: Principal = SYSTEM,
) -> None:
    """Delete the secret; :class:`~perch.errors.SecretNotFound` when there is none."""
    check_namespace(namespace)
    check_key(key)
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = _tx(raw)
        if not tx.delete_secret(tenant, namespace, key):
            raise SecretNotFound(f"Secret '{key}' not found in namespace {namespace}")
        tx.add_audit(None, _audit("SECRET_DELETED", principal, tenant, namespace, key), now)


def _audit(action: str, principal: Principal, tenant: str, namespace: str, key: str) -> Audit:
    # Names only: a value never reaches the audit trail.
    detail: dict[str, Any] = {"tenant": tenant, "namespace": namespace, "key": key}
    return Audit(
        action,
        principal,
        detail,
        tenant=tenant,
        resource_type="SECRET",
        resource_id=key,
        namespace=namespace,
    )
