"""What :mod:`perch.identity` needs from storage; ``perch.store`` implements it.

The store's transactions serve the engine and identity alike, so an identity change and its
audit record commit together.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from perch.engine.ports import Transaction
from perch.identity.model import ApiToken, ServiceAccount, User


class IdentityTransaction(Transaction, Protocol):
    """The identity reads and writes of one database transaction (plus the engine's)."""

    # users
    def insert_user(self, user: User) -> None:
        """Add a user; :class:`perch.errors.AlreadyExists` when the username or e-mail is
        taken."""
        ...

    def find_user(self, login: str) -> User | None:
        """The user whose username, or else e-mail, is ``login`` (case-insensitive e-mail)."""
        ...

    def get_user(self, user_id: str) -> User | None: ...

    def has_superadmin(self) -> bool:
        """Whether an enabled superadmin exists."""
        ...

    # service accounts
    def insert_service_account(self, account: ServiceAccount) -> None:
        """Add one; :class:`perch.errors.AlreadyExists` when the tenant has that name."""
        ...

    def get_service_account(self, account_id: str) -> ServiceAccount | None: ...

    def find_service_account(self, tenant: str, name: str) -> ServiceAccount | None: ...

    def list_service_accounts(self, tenant: str) -> list[ServiceAccount]: ...

    def delete_service_account(self, account_id: str) -> bool:
        """Delete the account and its tokens; False when it did not exist."""
        ...

    # tokens
    def insert_api_token(self, token: ApiToken) -> None: ...

    def get_api_token(self, token_id: str) -> ApiToken | None: ...

    def find_api_token(self, token_hash: str) -> tuple[ApiToken, ServiceAccount] | None:
        """The token with this hash and its service account."""
        ...

    def list_api_tokens(self, account_id: str) -> list[ApiToken]: ...

    def revoke_api_token(self, token_id: str, at: datetime) -> bool:
        """Mark the token revoked at ``at`` (once); False when unknown or already revoked."""
        ...

    def touch_api_token(self, token_id: str, at: datetime) -> None:
        """Record that the token was used at ``at``."""
        ...


class IdentityStore(Protocol):
    """A database whose transactions also hold identities."""

    def transaction(self) -> AbstractContextManager[IdentityTransaction]: ...


def as_identity(tx: Transaction) -> IdentityTransaction:
    """The transaction seen as an identity transaction.

    The engine's ``Store`` port types its transactions as engine ones; Perch's store hands out
    transactions that implement both, and this is where that is assumed.
    """
    return tx  # type: ignore[return-value]
