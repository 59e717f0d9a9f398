"""The namespace secret store: the secret methods of the store's transactions.

A value is encrypted with AES-256-GCM under a key derived from the server key
(:meth:`perch.store.sealing.Sealer.derived_key`): a fresh 12-byte nonce per write, and the row's
tenant, namespace and key as associated data, so a value copied into another row (another
namespace, another tenant) fails to decrypt instead of leaking there. Plain text never reaches
the database.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, Connection, and_, delete, select, update

from perch.engine.service.secretstore import SecretMeta
from perch.errors import PerchError, SecretError
from perch.store.schema import secrets
from perch.store.sealing import Sealer

PURPOSE: Final = b"perch secret store v1"
NONCE: Final = 12

_CACHED: Final = 16
_ciphers: dict[int, tuple[Sealer, AESGCM]] = {}
"""The cipher of each server key in use (a process has one, tests a few)."""


def _cipher(sealer: Sealer | None) -> AESGCM:
    if sealer is None:
        raise PerchError("the secret store needs the server key")
    hit = _ciphers.get(id(sealer))
    if hit is not None and hit[0] is sealer:
        return hit[1]
    cipher = AESGCM(sealer.derived_key(PURPOSE))
    if len(_ciphers) >= _CACHED:
        _ciphers.clear()  # stores opened and closed by the hundred (tests) keep no garbage
    _ciphers[id(sealer)] = (sealer, cipher)
    return cipher


def _aad(tenant: str, namespace: str, key: str) -> bytes:
    return "\x00".join((tenant, namespace, key)).encode("utf-8")


def encrypt(sealer: Sealer | None, tenant: str, namespace: str, key: str, value: str) -> bytes:
    """``value`` sealed for this one row."""
    nonce = os.urandom(NONCE)
    sealed = _cipher(sealer).encrypt(nonce, value.encode("utf-8"), _aad(tenant, namespace, key))
    return nonce + sealed


def decrypt(sealer: Sealer | None, tenant: str, namespace: str, key: str, data: bytes) -> str:
    """The text sealed in ``data`` for this row; :class:`SecretError` when it was sealed with
    another key or for another row."""
    try:
        plain = _cipher(sealer).decrypt(data[:NONCE], data[NONCE:], _aad(tenant, namespace, key))
        return plain.decode("utf-8")
    except (InvalidTag, ValueError, UnicodeError) as exc:
        raise SecretError(
            f"Secret '{key}' of namespace {namespace} cannot be decrypted: "
            "it was stored with another encryption key"
        ) from exc


def _where(tenant: str, namespace: str, key: str) -> ColumnElement[bool]:
    return and_(secrets.c.tenant == tenant, secrets.c.namespace == namespace, secrets.c.key == key)


class SecretQueries:
    """The secret methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection
    _sealer: Sealer | None

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
        sealed = encrypt(self._sealer, tenant, namespace, key, value)
        changed = self._conn.execute(
            update(secrets)
            .where(_where(tenant, namespace, key))
            .values(value=sealed, description=description, updated=at)
        ).rowcount
        if changed:
            return False
        self._conn.execute(
            secrets.insert().values(
                tenant=tenant,
                namespace=namespace,
                key=key,
                value=sealed,
                description=description,
                created=at,
                updated=at,
            )
        )
        return True

    def list_secrets(self, tenant: str, namespace: str) -> list[SecretMeta]:
        """The namespace's own secrets, by key (values are not even read)."""
        rows = self._conn.execute(
            select(secrets.c.key, secrets.c.description, secrets.c.created, secrets.c.updated)
            .where(secrets.c.tenant == tenant, secrets.c.namespace == namespace)
            .order_by(secrets.c.key)
        ).all()
        return [
            SecretMeta(tenant, namespace, r.key, r.description, r.created, r.updated) for r in rows
        ]

    def delete_secret(self, tenant: str, namespace: str, key: str) -> bool:
        """Delete the secret; False when there was none."""
        result = self._conn.execute(delete(secrets).where(_where(tenant, namespace, key)))
        return bool(result.rowcount)

    def find_secret(self, tenant: str, namespaces: list[str], key: str) -> tuple[str, str] | None:
        """``(namespace, value)`` of ``key`` in the first of ``namespaces`` that holds it."""
        if not namespaces:
            return None
        rows = self._conn.execute(
            select(secrets.c.namespace, secrets.c.value).where(
                secrets.c.tenant == tenant,
                secrets.c.key == key,
                secrets.c.namespace.in_(namespaces),
            )
        ).all()
        by_namespace = {r.namespace: bytes(r.value) for r in rows}
        for namespace in namespaces:
            if namespace in by_namespace:
                text = decrypt(self._sealer, tenant, namespace, key, by_namespace[namespace])
                return namespace, text
        return None
