"""Service accounts and their API tokens (Kestra Enterprise's paths), and ``GET /me``.

Only superadmin users manage accounts and tokens until roles arrive with the identity issue;
a service account calling these routes gets 403. A token's value appears once, in the answer
to its creation; lists show its ``prefix`` only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from perch import identity
from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import iso, non_null
from perch.api.shapes import ERRORS, ErrorShape, OmitUnsetRoute, Shape
from perch.durations import parse_duration
from perch.identity import ApiToken, ServiceAccount

router = APIRouter(tags=["Service accounts"], route_class=OmitUnsetRoute)

_403: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorShape, "description": "Only a superadmin may do this"}
}
_ERRORS = {**ERRORS, **_403}


class ServiceAccountIn(Shape):
    name: str = Field(min_length=1, max_length=255, description="Unique in the tenant")
    description: str | None = None


class ServiceAccountShape(Shape):
    id: str
    name: str
    description: str | None = None
    tenantId: str
    createdAt: str


class ApiTokenIn(Shape):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    maxAge: str | None = Field(
        default=None, description="How long the token stays valid, e.g. P30D (ISO-8601)"
    )
    expiresAt: datetime | None = Field(
        default=None, description="When the token stops working (the earlier of both wins)"
    )


class ApiTokenShape(Shape):
    id: str
    name: str
    description: str | None = None
    prefix: str = Field(description="The start of the token, to recognise it")
    createdAt: str
    expiresAt: str | None = None
    lastUsed: str | None = None
    revokedAt: str | None = None
    expired: bool
    # Kestra's names for the same facts, so its tooling reads these too.
    tokenId: str
    tokenPrefix: str
    iat: str
    exp: str | None = None


class CreatedApiTokenShape(ApiTokenShape):
    token: str = Field(description="The token itself: shown this once, never again")
    fullToken: str = Field(description="The same as `token` (Kestra's name)")


class MeShape(Shape):
    username: str
    kind: str = Field(description="USER or SERVICE_ACCOUNT")
    superadmin: bool


def _account_json(account: ServiceAccount) -> dict[str, Any]:
    return non_null(
        {
            "id": account.id,
            "name": account.name,
            "description": account.description,
            "tenantId": account.tenant,
            "createdAt": iso(account.created),
        }
    )


def _token_json(token: ApiToken, now: datetime) -> dict[str, Any]:
    expires = iso(token.expires) if token.expires else None
    return non_null(
        {
            "id": token.id,
            "name": token.name,
            "description": token.description,
            "prefix": token.prefix,
            "createdAt": iso(token.created),
            "expiresAt": expires,
            "lastUsed": iso(token.last_used) if token.last_used else None,
            "revokedAt": iso(token.revoked) if token.revoked else None,
            "expired": token.expires is not None and now >= token.expires,
            "tokenId": token.id,
            "tokenPrefix": token.prefix,
            "iat": iso(token.created),
            "exp": expires,
        }
    )


@router.get("/me", response_model=MeShape, responses=ERRORS, summary="Who is calling")
def me(store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """The principal these credentials stand for."""
    return {
        "username": principal.name,
        "kind": principal.kind.value,
        "superadmin": identity.is_superadmin(store, principal),
    }


@router.post(
    "/service-accounts",
    response_model=ServiceAccountShape,
    responses=_ERRORS,
    summary="Create a service account",
)
def create_service_account(
    body: ServiceAccountIn, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A new service account of this tenant (409 when the name is taken)."""
    account = identity.create_service_account(
        store, tenant, body.name, description=body.description, principal=principal
    )
    return _account_json(account)


@router.get(
    "/service-accounts",
    response_model=list[ServiceAccountShape],
    responses=_ERRORS,
    summary="List the service accounts",
)
def list_service_accounts(
    store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """This tenant's service accounts, by name."""
    return [_account_json(a) for a in identity.list_service_accounts(store, tenant)]


@router.get(
    "/service-accounts/{id}",
    response_model=ServiceAccountShape,
    responses=_ERRORS,
    summary="Get a service account",
)
def get_service_account(
    id: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One service account of this tenant."""
    return _account_json(identity.get_service_account(store, id, tenant=tenant))


@router.delete(
    "/service-accounts/{id}",
    status_code=204,
    response_class=Response,
    responses=_ERRORS,
    summary="Delete a service account and its tokens",
)
def delete_service_account(
    id: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    """Delete the account; its tokens stop working at once."""
    identity.delete_service_account(store, id, tenant=tenant, principal=principal)
    return Response(status_code=204)


@router.post(
    "/service-accounts/{id}/api-tokens",
    response_model=CreatedApiTokenShape,
    responses=_ERRORS,
    summary="Create an API token (its value is shown once)",
)
def create_api_token(
    id: str, body: ApiTokenIn, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A new bearer token of the service account; ``token`` is in this answer only."""
    account = identity.get_service_account(store, id, tenant=tenant)
    expires_at = body.expiresAt
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)  # a time without a zone is read as UTC
    token, raw = identity.create_api_token(
        store,
        account.id,
        body.name,
        expires_at=expires_at,
        max_age=parse_duration(body.maxAge) if body.maxAge else None,
        description=body.description,
        principal=principal,
    )
    return {**_token_json(token, token.created), "token": raw, "fullToken": raw}


@router.get(
    "/service-accounts/{id}/api-tokens",
    response_model=list[ApiTokenShape],
    responses=_ERRORS,
    summary="List a service account's API tokens (without their values)",
)
def list_api_tokens(
    id: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """The account's tokens, revoked and expired ones included."""
    account = identity.get_service_account(store, id, tenant=tenant)
    now = datetime.now(UTC)
    return [_token_json(t, now) for t in identity.list_api_tokens(store, account.id)]


@router.delete(
    "/service-accounts/{id}/api-tokens/{tokenId}",
    status_code=204,
    response_class=Response,
    responses=_ERRORS,
    summary="Revoke an API token",
)
def revoke_api_token(
    id: str, tokenId: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    """Revoke the token: the next request with it gets 401."""
    account = identity.get_service_account(store, id, tenant=tenant)
    identity.revoke_api_token(store, tokenId, service_account_id=account.id, principal=principal)
    return Response(status_code=204)
