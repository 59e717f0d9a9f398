"""Who may call Perch: users (password, argon2), service accounts and their API tokens
(SHA-256 of a random value), and the checks that turn credentials into a
:class:`~perch.engine.principal.Principal`.

Identity changes are written with their audit record in one transaction, through the same
store as the engine's (:mod:`perch.identity.ports`).
"""

from __future__ import annotations

from perch.identity.model import ApiToken, ServiceAccount, User
from perch.identity.passwords import MIN_PASSWORD_LENGTH
from perch.identity.ports import IdentityStore, IdentityTransaction
from perch.identity.tokens import (
    TOKEN_PREFIX,
    ApiTokenNotFound,
    ServiceAccountNotFound,
    create_api_token,
    create_service_account,
    delete_service_account,
    find_service_account,
    get_service_account,
    list_api_tokens,
    list_service_accounts,
    record_token_use,
    revoke_api_token,
    token_hash,
    verify_token,
)
from perch.identity.users import (
    create_user,
    find_user,
    has_superadmin,
    is_superadmin,
    verify_password,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "TOKEN_PREFIX",
    "ApiToken",
    "ApiTokenNotFound",
    "IdentityStore",
    "IdentityTransaction",
    "ServiceAccount",
    "ServiceAccountNotFound",
    "User",
    "create_api_token",
    "create_service_account",
    "create_user",
    "delete_service_account",
    "find_service_account",
    "find_user",
    "get_service_account",
    "has_superadmin",
    "is_superadmin",
    "list_api_tokens",
    "list_service_accounts",
    "record_token_use",
    "revoke_api_token",
    "token_hash",
    "verify_password",
    "verify_token",
]
