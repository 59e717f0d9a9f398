"""Service accounts and their API tokens.

A token is ``perch_`` followed by 43 random URL-safe characters (256 bits). Only its SHA-256 is
stored: a token that random cannot be guessed from its hash, so the slow hash passwords need
would only add cost to every request. The raw value is returned once, by
:func:`create_api_token`, and never again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from perch.engine.effects import Audit
from perch.engine.executor import context_for, reading
from perch.engine.ids import new_id
from perch.engine.ports import Store
from perch.engine.principal import Principal, PrincipalKind
from perch.errors import IdentityError, NotFound, Unauthenticated
from perch.identity.model import ApiToken, ServiceAccount, clean_name, clean_text, storable
from perch.identity.ports import IdentityTransaction, as_identity
from perch.permissions import BindingType

TOKEN_PREFIX = "perch_"
SHOWN_CHARS = len(TOKEN_PREFIX) + 6
"""How much of a token is kept in clear, so people can recognise their tokens."""


class ServiceAccountNotFound(NotFound):
    """The service account does not exist."""


class ApiTokenNotFound(NotFound):
    """The API token does not exist."""


def token_hash(raw: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _audit(
    tx: IdentityTransaction, action: str, principal: Principal, detail: dict[str, str], at: datetime
) -> None:
    tx.add_audit(None, Audit(action, principal, dict(detail)), at)


def create_service_account(
    store: Store,
    tenant: str,
    name: str,
    *,
    description: str | None = None,
    principal: Principal,
) -> ServiceAccount:
    """Create a service account of ``tenant``; :class:`~perch.errors.AlreadyExists` when the
    tenant already has one with this name."""
    name = clean_name(name, "service account name")
    now = context_for(store).clock.now()
    account = ServiceAccount(new_id(), tenant, name, now, clean_text(description))
    with store.transaction() as raw:
        tx = as_identity(raw)
        tx.insert_service_account(account)
        _audit(
            tx,
            "SERVICE_ACCOUNT_CREATED",
            principal,
            {"tenant": tenant, "serviceAccountId": account.id, "name": name},
            now,
        )
    return account


def list_service_accounts(store: Store, tenant: str) -> list[ServiceAccount]:
    """The tenant's service accounts, by name."""
    with reading(store) as raw:
        return as_identity(raw).list_service_accounts(tenant)


def get_service_account(
    store: Store, account_id: str, *, tenant: str | None = None
) -> ServiceAccount:
    """The service account (of ``tenant`` when given); :class:`ServiceAccountNotFound`
    otherwise."""
    account = None
    if storable(account_id):
        with reading(store) as raw:
            account = as_identity(raw).get_service_account(account_id)
    if account is None or (tenant is not None and account.tenant != tenant):
        raise ServiceAccountNotFound(f"Service account '{account_id}' not found")
    return account


def find_service_account(store: Store, tenant: str, name: str) -> ServiceAccount | None:
    """The tenant's service account named ``name``, if any."""
    if not storable(name):
        return None
    with reading(store) as raw:
        return as_identity(raw).find_service_account(tenant, name)


def delete_service_account(
    store: Store, account_id: str, *, tenant: str | None = None, principal: Principal
) -> None:
    """Delete the service account and every token of it (they stop working at once)."""
    account = get_service_account(store, account_id, tenant=tenant)
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        if not tx.delete_service_account(account.id):
            raise ServiceAccountNotFound(f"Service account '{account_id}' not found")
        tx.delete_bindings_of(BindingType.SERVICE_ACCOUNT, account.id)
        _audit(
            tx,
            "SERVICE_ACCOUNT_DELETED",
            principal,
            {"tenant": account.tenant, "serviceAccountId": account.id, "name": account.name},
            now,
        )


def create_api_token(
    store: Store,
    service_account_id: str,
    name: str,
    *,
    expires_at: datetime | None = None,
    max_age: timedelta | None = None,
    description: str | None = None,
    principal: Principal,
) -> tuple[ApiToken, str]:
    """A new token of the service account: ``(token, raw value)``. The raw value is shown
    to the caller once and cannot be recovered afterwards.

    The token expires at ``expires_at``, or ``max_age`` after its creation (the earlier of
    the two when both are given), or never.
    """
    name = clean_name(name, "token name")
    description = clean_text(description)
    now = context_for(store).clock.now()
    if max_age is not None:
        if max_age <= timedelta(0):
            raise IdentityError("the token's maximum age must be positive")
        try:
            by_age = now + max_age
        except OverflowError:
            by_age = None  # beyond the calendar: no earlier than never
        if by_age is not None:
            expires_at = by_age if expires_at is None else min(expires_at, by_age)
    if expires_at is not None and expires_at <= now:
        raise IdentityError("the token would already be expired: give a future expiry")
    raw_value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        id=new_id(),
        service_account_id=service_account_id,
        name=name,
        prefix=raw_value[:SHOWN_CHARS],
        token_hash=token_hash(raw_value),
        created=now,
        expires=expires_at,
        description=description,
    )
    with store.transaction() as raw:
        tx = as_identity(raw)
        account = tx.get_service_account(service_account_id)
        if account is None:
            raise ServiceAccountNotFound(f"Service account '{service_account_id}' not found")
        tx.insert_api_token(token)
        detail = {"serviceAccountId": account.id, "tokenId": token.id, "name": name}
        if expires_at is not None:
            detail["expires"] = expires_at.isoformat()
        _audit(tx, "API_TOKEN_CREATED", principal, detail, now)
    return token, raw_value


def list_api_tokens(store: Store, service_account_id: str) -> list[ApiToken]:
    """The service account's tokens (their hashes stay inside; show ``prefix`` instead)."""
    with reading(store) as raw:
        return as_identity(raw).list_api_tokens(service_account_id)


def revoke_api_token(
    store: Store,
    token_id: str,
    *,
    service_account_id: str | None = None,
    principal: Principal,
) -> None:
    """Revoke a token: it stops working immediately. Revoking it again changes nothing."""
    if not storable(token_id):
        raise ApiTokenNotFound(f"API token '{token_id}' not found")
    now = context_for(store).clock.now()
    with store.transaction() as raw:
        tx = as_identity(raw)
        token = tx.get_api_token(token_id)
        if token is None or (
            service_account_id is not None and token.service_account_id != service_account_id
        ):
            raise ApiTokenNotFound(f"API token '{token_id}' not found")
        if tx.revoke_api_token(token_id, now):
            _audit(
                tx,
                "API_TOKEN_REVOKED",
                principal,
                {"serviceAccountId": token.service_account_id, "tokenId": token_id},
                now,
            )


def verify_token(store: Store, raw_value: str, now: datetime) -> tuple[Principal, ApiToken]:
    """The principal of the service account owning this token, with the token.

    Raises :class:`~perch.errors.Unauthenticated` for an unknown, expired or revoked token
    (saying which, never repeating the token).
    """
    with reading(store) as raw:
        found = as_identity(raw).find_api_token(token_hash(raw_value))
    if found is None:
        raise Unauthenticated("the API token is not valid")
    token, account = found
    if token.revoked is not None:
        raise Unauthenticated(f"the API token '{token.name}' ({token.prefix}…) was revoked")
    if token.expires is not None and now >= token.expires:
        raise Unauthenticated(f"the API token '{token.name}' ({token.prefix}…) has expired")
    return Principal(account.name, PrincipalKind.SERVICE_ACCOUNT, account.tenant), token


def record_token_use(store: Store, token_id: str, at: datetime) -> None:
    """Write the token's ``last_used`` time."""
    with store.transaction() as raw:
        as_identity(raw).touch_api_token(token_id, at)
