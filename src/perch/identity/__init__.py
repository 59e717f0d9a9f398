"""Who may call Perch: users (password, argon2), service accounts and their API tokens
(SHA-256 of a random value), and the checks that turn credentials into a
:class:`~perch.engine.principal.Principal`.

Identity changes are written with their audit record in one transaction, through the same
store as the engine's (:mod:`perch.identity.ports`).
"""

from __future__ import annotations

from perch.identity.groups import (
    TENANT_ID,
    GroupNotFound,
    create_group,
    create_tenant,
    delete_group,
    get_group,
    group_members,
    groups_of,
    list_tenants,
    search_groups,
    set_membership,
    update_group,
)
from perch.identity.model import ApiToken, Group, ServiceAccount, Tenant, User
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
    UserChanges,
    UserNotFound,
    check_password,
    create_user,
    delete_user,
    find_user,
    get_user,
    has_superadmin,
    is_superadmin,
    record_login,
    search_users,
    still_signs_in,
    update_user,
    verify_password,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "TENANT_ID",
    "TOKEN_PREFIX",
    "ApiToken",
    "ApiTokenNotFound",
    "Group",
    "GroupNotFound",
    "IdentityStore",
    "IdentityTransaction",
    "ServiceAccount",
    "ServiceAccountNotFound",
    "Tenant",
    "User",
    "UserChanges",
    "UserNotFound",
    "check_password",
    "create_api_token",
    "create_group",
    "create_service_account",
    "create_tenant",
    "create_user",
    "delete_group",
    "delete_service_account",
    "delete_user",
    "find_service_account",
    "find_user",
    "get_group",
    "get_service_account",
    "get_user",
    "group_members",
    "groups_of",
    "has_superadmin",
    "is_superadmin",
    "list_api_tokens",
    "list_service_accounts",
    "list_tenants",
    "record_login",
    "record_token_use",
    "revoke_api_token",
    "search_groups",
    "search_users",
    "set_membership",
    "still_signs_in",
    "token_hash",
    "update_group",
    "update_user",
    "verify_password",
    "verify_token",
]
