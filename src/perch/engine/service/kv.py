"""The namespace KV store: put, get, list and delete typed values (the API, the CLI, the kv
tasks and ``kv()`` call these).

A pair belongs to one (tenant, namespace, key) and holds one of Kestra's types
(:mod:`perch.engine.kvtypes`). A pair written with a ``ttl`` expires: reading it then fails with
:class:`~perch.errors.KvExpired` (410 over HTTP) until it is written again or deleted; lists
leave expired pairs out. Writes and deletes are audited by key, never with the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from perch.engine.context import context_for, reading
from perch.engine.effects import Audit
from perch.engine.kvtypes import KvType, check_key, coerce, decode, encode, infer
from perch.engine.ports import Store, Transaction
from perch.engine.principal import SYSTEM, Principal
from perch.engine.service.secretstore import check_namespace
from perch.errors import KvError, KvExpired, KvNotFound, SecretError


@dataclass(frozen=True, slots=True)
class KvEntry:
    """A stored pair; ``value_json`` is None when it was listed without its value."""

    tenant: str
    namespace: str
    key: str
    type: str
    value_json: str | None
    description: str | None
    created: datetime
    updated: datetime
    expiration: datetime | None

    @property
    def value(self) -> Any:
        """The typed value as JSON data (DATETIME, DATE and DURATION as ISO-8601 text)."""
        return None if self.value_json is None else decode(self.value_json)

    def expired(self, now: datetime) -> bool:
        return self.expiration is not None and self.expiration <= now


class KvTransaction(Transaction, Protocol):
    """The KV store's reads and writes of one database transaction (plus the engine's)."""

    def put_kv(  # noqa: PLR0917 - one column each
        self,
        tenant: str,
        namespace: str,
        key: str,
        kv_type: str,
        value_json: str,
        description: str | None,
        expiration: datetime | None,
        at: datetime,
    ) -> bool:
        """Store or replace the value; True when the key is new."""
        ...

    def get_kv(self, tenant: str, namespace: str, key: str) -> KvEntry | None:
        """The entry with its value, expired or not."""
        ...

    def list_kv(self, tenant: str, namespace: str) -> list[KvEntry]:
        """The namespace's entries by key, without values."""
        ...

    def delete_kv(self, tenant: str, namespace: str, keys: Sequence[str]) -> list[str]:
        """Delete the keys; those that existed."""
        ...


def _tx(raw: Transaction) -> KvTransaction:
    return cast(KvTransaction, raw)


def _namespace(namespace: str) -> str:
    try:
        return check_namespace(namespace)
    except SecretError as exc:
        raise KvError(str(exc)) from None


def put_value(
    store: Store,
    tenant: str,
    namespace: str,
    key: str,
    value: Any,
    *,
    kv_type: KvType | str | None = None,
    ttl: timedelta | None = None,
    description: str | None = None,
    overwrite: bool = True,
    principal: Principal = SYSTEM,
    state: bool = False,
) -> KvEntry:
    """Create or replace the pair ``key`` of ``namespace``: ``value`` typed by ``kv_type``, or
    by what it is. With ``overwrite=False`` an existing (unexpired) key is an error. Only with
    ``state`` (the state tasks) may the key be a state key
    (:data:`~perch.engine.kvtypes.STATE_KEY_PREFIX`)."""
    _namespace(namespace)
    check_key(key, state=state)
    typed, shown = infer(value) if kv_type is None else coerce(value, kv_type)
    text = encode(shown)
    now = context_for(store).clock.now()
    expiration = now + ttl if ttl is not None else None
    with store.transaction() as raw:
        tx = _tx(raw)
        if not overwrite:
            existing = tx.get_kv(tenant, namespace, key)
            if existing is not None and not existing.expired(now):
                raise KvError(
                    f"Cannot set value for key '{key}': it already exists in namespace "
                    f"{namespace} and overwrite is false"
                )
        created = tx.put_kv(tenant, namespace, key, typed.value, text, description, expiration, now)
        action = "KV_CREATED" if created else "KV_UPDATED"
        tx.add_audit(None, _audit(action, principal, tenant, namespace, key), now)
    return KvEntry(tenant, namespace, key, typed.value, text, description, now, now, expiration)


def get_entry(store: Store, tenant: str, namespace: str, key: str) -> KvEntry:
    """The pair with its value; :class:`~perch.errors.KvNotFound` when missing,
    :class:`~perch.errors.KvExpired` when its ttl has passed."""
    _namespace(namespace)
    check_key(key, state=True)
    now = context_for(store).clock.now()
    with reading(store) as raw:
        entry = _tx(raw).get_kv(tenant, namespace, key)
    if entry is None:
        raise KvNotFound(f"No value found for key '{key}' in namespace {namespace}")
    if entry.expired(now):
        raise KvExpired(f"The key '{key}' of namespace {namespace} has expired")
    return entry


def find_entry(store: Store, tenant: str, namespace: str, key: str) -> KvEntry | None:
    """The pair, or None when it is missing or expired."""
    try:
        return get_entry(store, tenant, namespace, key)
    except KvNotFound:
        return None


def list_entries(store: Store, tenant: str, namespace: str) -> list[KvEntry]:
    """The namespace's unexpired pairs by key, without their values."""
    _namespace(namespace)
    now = context_for(store).clock.now()
    with reading(store) as raw:
        found = _tx(raw).list_kv(tenant, namespace)
    return [e for e in found if not e.expired(now)]


def delete_keys(
    store: Store,
    tenant: str,
    namespace: str,
    keys: Sequence[str],
    *,
    principal: Principal = SYSTEM,
) -> list[str]:
    """Delete the keys (expired ones too); those that existed, in the order given."""
    _namespace(namespace)
    for key in keys:
        check_key(key, state=True)
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = _tx(raw)
        deleted = tx.delete_kv(tenant, namespace, list(keys))
        for key in deleted:
            tx.add_audit(None, _audit("KV_DELETED", principal, tenant, namespace, key), now)
    return deleted


def delete_key(
    store: Store, tenant: str, namespace: str, key: str, *, principal: Principal = SYSTEM
) -> bool:
    """Delete one key; whether it existed."""
    return bool(delete_keys(store, tenant, namespace, [key], principal=principal))


def _audit(action: str, principal: Principal, tenant: str, namespace: str, key: str) -> Audit:
    # Keys only: a value may be large, and is the namespace's data, not the audit trail's.
    return Audit(
        action,
        principal,
        {"tenant": tenant, "namespace": namespace, "key": key},
        tenant=tenant,
        resource_type="KVSTORE",
        resource_id=key,
        namespace=namespace,
    )
