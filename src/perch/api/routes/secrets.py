"""Namespace secrets (Kestra Enterprise's ``/api/v1/{tenant}/namespaces/{namespace}/secrets``).

A secret is written and deleted here, and listed by name; no route ever answers with a value.
A flow of ``company.team`` reads the secrets of ``company.team`` and of ``company`` with
``secret('NAME')``. The body of a ``PUT`` is read here, not by FastAPI's validation, so that a
malformed body is refused without being echoed back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from perch.api.auth import PrincipalDep
from perch.api.bodies import PARSED_JSON, checked_json
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import iso
from perch.api.shapes import ERRORS, OmitUnsetRoute, Shape
from perch.engine.service import secretstore
from perch.engine.service.secretstore import MAX_VALUE, SecretMeta
from perch.errors import InvalidRequest

router = APIRouter(tags=["Secrets"], route_class=OmitUnsetRoute)

_MAX_BODY = 4 * MAX_VALUE + 64 * 1024
"""Bytes of body a ``PUT`` may hold (the value, JSON-escaped, and the fields around it)."""


class SecretMetaShape(Shape):
    key: str
    namespace: str
    description: str | None = None
    created: str
    updated: str


class SecretListShape(Shape):
    readOnly: bool
    results: list[SecretMetaShape]
    total: int


class SecretIn(Shape):
    """The JSON form of a ``PUT`` body (a ``text/plain`` body is the value alone)."""

    key: str | None = None
    value: str
    description: str | None = None


def _meta_json(meta: SecretMeta) -> dict[str, Any]:
    return {
        "key": meta.key,
        "namespace": meta.namespace,
        "description": meta.description,
        "created": iso(meta.created),
        "updated": iso(meta.updated),
    }


async def _secret_body(request: Request) -> tuple[str, str | None, str | None]:
    """``(value, description, key)`` from a JSON object or a text body."""
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > _MAX_BODY:
            raise InvalidRequest("The secret is too large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        before = request.scope.get("state", {}).get(PARSED_JSON)
        try:
            if before is not None and before[0] == bytes(received):
                parsed = before[1]
            else:
                parsed = await checked_json(bytes(received))
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequest("The body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise InvalidRequest('The body must be a JSON object {"value": …}')
        value, description, key = (parsed.get(name) for name in ("value", "description", "key"))
        if not isinstance(value, str):
            raise InvalidRequest('The body must hold the secret as text in "value"')
        for name, field in (("description", description), ("key", key)):
            if field is not None and not isinstance(field, str):
                raise InvalidRequest(f'"{name}" must be text')
        return value, description, key
    try:
        return received.decode("utf-8"), None, None
    except UnicodeDecodeError:
        raise InvalidRequest("The secret is not UTF-8 text") from None


SecretBody = Annotated[tuple[str, str | None, str | None], Depends(_secret_body)]

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SecretIn.model_json_schema()},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@router.get(
    "/namespaces/{namespace}/secrets",
    response_model=SecretListShape,
    responses=ERRORS,
    summary="List a namespace's secrets (names only)",
)
def list_secrets(namespace: str, store: StoreDep, tenant: TenantDep) -> dict[str, Any]:
    """The namespace's own secrets, by key, with their description and dates; never a value.
    Secrets of parent namespaces are listed under their own namespace."""
    found = secretstore.list_secrets(store, tenant, namespace)
    return {"readOnly": False, "results": [_meta_json(m) for m in found], "total": len(found)}


@router.get(
    "/namespaces/{namespace}/secrets/{key}",
    response_model=SecretMetaShape,
    responses=ERRORS,
    summary="Describe a secret (never its value)",
)
def get_secret(namespace: str, key: str, store: StoreDep, tenant: TenantDep) -> dict[str, Any]:
    """The secret's key, namespace, description and dates (404 when the namespace has none)."""
    return _meta_json(secretstore.describe_secret(store, tenant, namespace, key))


@router.put(
    "/namespaces/{namespace}/secrets",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    summary="Create or replace the secret named in the body",
    openapi_extra=_BODY_DOC,
)
def put_named_secret(
    namespace: str, body: SecretBody, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    """As ``PUT …/secrets/{key}``, the key taken from the JSON body's ``key``."""
    value, description, named = body
    if named is None:
        raise InvalidRequest('The body must name the secret in "key"')
    secretstore.set_secret(
        store, tenant, namespace, named, value, description=description, principal=principal
    )
    return Response(status_code=204)


@router.put(
    "/namespaces/{namespace}/secrets/{key}",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    summary="Create or replace a secret",
    openapi_extra=_BODY_DOC,
)
def put_secret(
    *,
    namespace: str,
    key: str,
    body: SecretBody,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> Response:
    """Store the value encrypted; the answer holds nothing of it. A JSON body may repeat the
    key, which must then be the one in the path."""
    value, description, named = body
    if named is not None and named != key:
        raise InvalidRequest(f"The body names the secret '{named}', the path '{key}'")
    secretstore.set_secret(
        store, tenant, namespace, key, value, description=description, principal=principal
    )
    return Response(status_code=204)


@router.delete(
    "/namespaces/{namespace}/secrets/{key}",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    summary="Delete a secret",
)
def delete_secret(
    namespace: str, key: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    """Delete the secret (404 when the namespace has none of that key)."""
    secretstore.delete_secret(store, tenant, namespace, key, principal=principal)
    return Response(status_code=204)
