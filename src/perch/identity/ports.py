"""What :mod:`perch.identity` needs from storage; ``perch.store`` implements it.

The store's transactions serve the engine and identity alike, so an identity change and its
audit record commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from perch.engine.ports import Transaction
from perch.identity.model import ApiToken, Group, ServiceAccount, Session, Tenant, User
from perch.permissions import Binding, BindingType, Role


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

    def has_superadmin(self, excluding: str | None = None) -> bool:
        """Whether an enabled superadmin exists (other than the user ``excluding``)."""
        ...

    def update_user(self, user: User) -> bool:
        """Write every field of ``user``; False when it is gone, :class:`AlreadyExists` when
        its username or e-mail is another user's."""
        ...

    def delete_user(self, user_id: str) -> bool:
        """Delete the user and their memberships; False when there was none."""
        ...

    def search_users(self, text: str | None, offset: int, limit: int) -> tuple[list[User], int]:
        """Users whose username, e-mail or display name contains ``text``; and the total."""
        ...

    # sessions of the web UI
    def insert_session(self, session: Session) -> None: ...

    def find_session(self, session_id: str) -> tuple[Session, User] | None:
        """The session with this id (the hash of its cookie) and its user."""
        ...

    def touch_session(self, session_id: str, last_seen: datetime, expires: datetime) -> None: ...

    def delete_session(self, session_id: str) -> bool: ...

    def delete_sessions_of(self, user_id: str) -> int:
        """End every session of the user; how many there were."""
        ...

    def delete_expired_sessions(self, now: datetime) -> int: ...

    # groups
    def insert_group(self, group: Group) -> None: ...

    def update_group(self, group: Group) -> bool: ...

    def delete_group(self, group_id: str) -> bool: ...

    def get_group(self, group_id: str) -> Group | None: ...

    def find_group(self, tenant: str, name: str) -> Group | None: ...

    def search_groups(
        self, tenant: str, text: str | None, offset: int, limit: int
    ) -> tuple[list[Group], int]: ...

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Make the user a member; False when they already were."""
        ...

    def remove_member(self, group_id: str, user_id: str) -> bool: ...

    def group_members(self, group_id: str) -> list[User]: ...

    def groups_of(self, user_id: str, tenant: str | None = None) -> list[Group]: ...

    # roles and bindings
    def insert_role(self, role: Role) -> None: ...

    def update_role(self, role: Role) -> bool: ...

    def delete_role(self, role_id: str) -> bool:
        """Delete the role and every binding to it."""
        ...

    def get_role(self, role_id: str) -> Role | None: ...

    def find_role(self, tenant: str, name: str) -> Role | None: ...

    def list_roles(self, tenant: str) -> list[Role]: ...

    def roles_by_id(self, role_ids: Sequence[str]) -> list[Role]: ...

    def insert_binding(self, binding: Binding) -> None: ...

    def get_binding(self, binding_id: str) -> Binding | None: ...

    def delete_binding(self, binding_id: str) -> bool: ...

    def delete_bindings_of(self, type: BindingType, external_id: str) -> int: ...

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
    ) -> tuple[list[Binding], int]: ...

    def bindings_of_user(self, tenant: str, user_id: str) -> list[Binding]:
        """The user's bindings in ``tenant``, their groups' included."""
        ...

    def bindings_of_account(self, tenant: str, account_id: str) -> list[Binding]: ...

    # tenants
    def insert_tenant(self, tenant: Tenant) -> None: ...

    def list_tenants(self) -> list[Tenant]:
        """The tenants created besides the default one."""
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
