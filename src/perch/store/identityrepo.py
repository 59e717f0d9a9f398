"""Service accounts and API tokens: identity methods of the store's transactions (users and
groups are in :mod:`perch.store.userrepo`).

Uniqueness (a tenant's account names, token hashes) is enforced by the
database, so two concurrent creations cannot both succeed; the loser gets
:class:`perch.errors.AlreadyExists`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from perch.errors import AlreadyExists
from perch.identity.model import ApiToken, ServiceAccount
from perch.store.prepared import Prepared
from perch.store.schema import api_tokens, service_accounts

_ACCOUNT_COLUMNS = (
    service_accounts.c.id,
    service_accounts.c.tenant,
    service_accounts.c.name,
    service_accounts.c.created,
    service_accounts.c.description,
)
_TOKEN_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.service_account_id,
    api_tokens.c.name,
    api_tokens.c.prefix,
    api_tokens.c.token_hash,
    api_tokens.c.created,
    api_tokens.c.expires,
    api_tokens.c.revoked,
    api_tokens.c.last_used,
    api_tokens.c.description,
)

# Every bearer request runs this one: a prepared statement keeps it cheap.
_TOKEN_BY_HASH = Prepared(
    select(*_TOKEN_COLUMNS, *_ACCOUNT_COLUMNS)
    .select_from(
        api_tokens.join(service_accounts, service_accounts.c.id == api_tokens.c.service_account_id)
    )
    .where(api_tokens.c.token_hash == bindparam("b_hash"))
)


def _account(m: RowMapping) -> ServiceAccount:
    return ServiceAccount(
        id=m["id"],
        tenant=m["tenant"],
        name=m["name"],
        created=m["created"],
        description=m["description"],
    )


def _token(m: RowMapping) -> ApiToken:
    return ApiToken(
        id=m["id"],
        service_account_id=m["service_account_id"],
        name=m["name"],
        prefix=m["prefix"],
        token_hash=m["token_hash"],
        created=m["created"],
        expires=m["expires"],
        revoked=m["revoked"],
        last_used=m["last_used"],
        description=m["description"],
    )


class IdentityQueries:
    """The identity methods of :class:`perch.store.transaction.SqlTransaction`
    (:class:`perch.identity.ports.IdentityTransaction`)."""

    _conn: Connection

    # --- service accounts ---------------------------------------------------------------------

    def insert_service_account(self, account: ServiceAccount) -> None:
        """Add one; :class:`AlreadyExists` when its tenant already has that name."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    service_accounts.insert(),
                    {
                        "id": account.id,
                        "tenant": account.tenant,
                        "name": account.name,
                        "description": account.description,
                        "created": account.created,
                    },
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"a service account named '{account.name}' already exists") from exc

    def get_service_account(self, account_id: str) -> ServiceAccount | None:
        """The service account with this id."""
        query = select(*_ACCOUNT_COLUMNS).where(service_accounts.c.id == account_id)
        m = self._conn.execute(query).mappings().first()
        return _account(m) if m is not None else None

    def find_service_account(self, tenant: str, name: str) -> ServiceAccount | None:
        """The tenant's service account with this name."""
        query = select(*_ACCOUNT_COLUMNS).where(
            and_(service_accounts.c.tenant == tenant, service_accounts.c.name == name)
        )
        m = self._conn.execute(query).mappings().first()
        return _account(m) if m is not None else None

    def list_service_accounts(self, tenant: str) -> list[ServiceAccount]:
        """The tenant's service accounts by name."""
        query = (
            select(*_ACCOUNT_COLUMNS)
            .where(service_accounts.c.tenant == tenant)
            .order_by(service_accounts.c.name)
        )
        return [_account(m) for m in self._conn.execute(query).mappings()]

    def delete_service_account(self, account_id: str) -> bool:
        """Delete the account and its tokens; False when it did not exist."""
        self._conn.execute(delete(api_tokens).where(api_tokens.c.service_account_id == account_id))
        gone = self._conn.execute(
            delete(service_accounts).where(service_accounts.c.id == account_id)
        )
        return gone.rowcount > 0

    # --- tokens -------------------------------------------------------------------------------

    def insert_api_token(self, token: ApiToken) -> None:
        """Add a token (its hash is unique: a clash means the same value twice)."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    api_tokens.insert(),
                    {
                        "id": token.id,
                        "service_account_id": token.service_account_id,
                        "name": token.name,
                        "description": token.description,
                        "prefix": token.prefix,
                        "token_hash": token.token_hash,
                        "created": token.created,
                        "expires": token.expires,
                        "revoked": token.revoked,
                        "last_used": token.last_used,
                    },
                )
        except IntegrityError as exc:
            raise AlreadyExists("this token already exists") from exc

    def get_api_token(self, token_id: str) -> ApiToken | None:
        """The token with this id."""
        query = select(*_TOKEN_COLUMNS).where(api_tokens.c.id == token_id)
        m = self._conn.execute(query).mappings().first()
        return _token(m) if m is not None else None

    def find_api_token(self, token_hash: str) -> tuple[ApiToken, ServiceAccount] | None:
        """The token with this hash and its service account."""
        row = _TOKEN_BY_HASH.first(self._conn, {"b_hash": token_hash})
        if row is None:
            return None
        n = len(_TOKEN_COLUMNS)
        return ApiToken(*row[:n]), ServiceAccount(*row[n:])

    def list_api_tokens(self, account_id: str) -> list[ApiToken]:
        """The account's tokens, oldest first (revoked and expired ones too)."""
        query = (
            select(*_TOKEN_COLUMNS)
            .where(api_tokens.c.service_account_id == account_id)
            .order_by(api_tokens.c.created, api_tokens.c.id)
        )
        return [_token(m) for m in self._conn.execute(query).mappings()]

    def revoke_api_token(self, token_id: str, at: datetime) -> bool:
        """Mark the token revoked at ``at``; False when unknown or already revoked."""
        done = self._conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked.is_(None))
            .values(revoked=at)
        )
        return done.rowcount > 0

    def touch_api_token(self, token_id: str, at: datetime) -> None:
        """Record that the token was used at ``at``."""
        self._conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(last_used=at)
        )


if TYPE_CHECKING:
    from perch.identity.ports import IdentityStore
    from perch.store.sqlstore import SqlStore

    # mypy proves here that the store satisfies the identity port.
    def _implements_identity_port(store: SqlStore) -> IdentityStore:
        return store
