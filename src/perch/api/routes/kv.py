"""The namespace KV store (Kestra's ``/api/v1/{tenant}/namespaces/{namespace}/kv``).

``PUT …/kv/{key}`` takes the value as its body: JSON (``application/json``: strict, so ``NaN``
is 422) or text, where a bare ``42`` is a NUMBER, ``2024-05-01`` a DATE, ``PT5M`` a DURATION and
anything else a STRING; the ``ttl`` header (an ISO-8601 duration) makes it expire and the
``description`` header describes it. ``GET …/kv/{key}`` answers ``{"type": …, "value": …}``:
404 for a missing key, 410 for an expired one. Bodies are read here, not by FastAPI's
validation, so that a bad body is refused without being echoed back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from perch.api.auth import PrincipalDep
from perch.api.bodies import PARSED_JSON, checked_json
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import iso, non_null
from perch.api.shapes import ERRORS, OmitUnsetRoute, Shape
from perch.engine.kvtypes import MAX_VALUE_BYTES, KvType, infer, infer_text, parse_ttl
from perch.engine.service import kv as service
from perch.engine.service.kv import KvEntry
from perch.errors import InvalidRequest, KvError

router = APIRouter(tags=["KV"], route_class=OmitUnsetRoute)

_MAX_BODY = MAX_VALUE_BYTES + 64 * 1024


class KvEntryShape(Shape):
    key: str
    description: str | None = None
    creationDate: str
    updateDate: str
    expirationDate: str | None = None


class TypedValueShape(Shape):
    type: str
    value: Any = None


class BulkKeysShape(Shape):
    keys: list[str]


def _entry_json(entry: KvEntry) -> dict[str, Any]:
    return non_null(
        {
            "key": entry.key,
            "description": entry.description,
            "creationDate": iso(entry.created),
            "updateDate": iso(entry.updated),
            "expirationDate": iso(entry.expiration) if entry.expiration else None,
        }
    )


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


async def _read(request: Request) -> bytes:
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > _MAX_BODY:
            raise KvError(f"The value is larger than {MAX_VALUE_BYTES} bytes")
    return bytes(received)


async def _parsed(request: Request, received: bytes) -> Any:
    before = request.scope.get("state", {}).get(PARSED_JSON)
    if before is not None and before[0] == received:
        return before[1]
    try:
        return await checked_json(received)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("Invalid JSON value: the body is not valid JSON") from None


async def _typed_body(request: Request) -> tuple[KvType, Any]:
    """The value of a ``PUT`` and its type."""
    received = await _read(request)
    if _is_json(request):
        return infer(await _parsed(request, received))
    try:
        text = received.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The value is not UTF-8 text") from None
    return infer_text(text)


TypedBody = Annotated[tuple[KvType, Any], Depends(_typed_body)]

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@router.get(
    "/namespaces/{namespace}/kv",
    response_model=list[KvEntryShape],
    responses=ERRORS,
    summary="List the KV pairs of a namespace",
)
def list_keys(namespace: str, store: StoreDep, tenant: TenantDep) -> list[dict[str, Any]]:
    """The namespace's unexpired pairs by key, with description and dates (no values)."""
    return [_entry_json(e) for e in service.list_entries(store, tenant, namespace)]


@router.get(
    "/namespaces/{namespace}/kv/{key}",
    response_model=TypedValueShape,
    responses={**ERRORS, 410: {"description": "The key has expired"}},
    summary="Get the typed value of a key",
)
def get_value(namespace: str, key: str, store: StoreDep, tenant: TenantDep) -> dict[str, Any]:
    """``{"type": …, "value": …}``; 404 when missing, 410 when expired."""
    entry = service.get_entry(store, tenant, namespace, key)
    return {"type": entry.type, "value": entry.value}


@router.put(
    "/namespaces/{namespace}/kv/{key}",
    status_code=200,
    response_class=Response,
    responses=ERRORS,
    summary="Put a KV pair",
    openapi_extra=_BODY_DOC,
)
def put_value(  # noqa: PLR0917 - FastAPI parameters
    namespace: str,
    key: str,
    body: TypedBody,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    ttl: Annotated[str | None, Header(description="ISO-8601 duration: expire after it")] = None,
    description: Annotated[str | None, Header(description="What the pair is for")] = None,
) -> Response:
    """Create or replace the pair; the answer is empty."""
    kv_type, value = body
    service.put_value(
        store,
        tenant,
        namespace,
        key,
        value,
        kv_type=kv_type,
        ttl=parse_ttl(ttl),
        description=description,
        principal=principal,
    )
    return Response(status_code=200)


@router.delete(
    "/namespaces/{namespace}/kv/{key}",
    response_model=bool,
    responses=ERRORS,
    summary="Delete a KV pair",
)
def delete_value(
    namespace: str, key: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """``true`` when the key existed, else ``false``."""
    deleted = service.delete_key(store, tenant, namespace, key, principal=principal)
    return JSONResponse(deleted)


async def _keys_body(request: Request) -> list[str]:
    parsed = await _parsed(request, await _read(request))
    keys = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InvalidRequest('The body must be {"keys": ["…", …]}')
    return keys


KeysBody = Annotated[list[str], Depends(_keys_body)]


@router.delete(
    "/namespaces/{namespace}/kv",
    response_model=BulkKeysShape,
    responses=ERRORS,
    summary="Delete several KV pairs",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BulkKeysShape.model_json_schema()}},
        }
    },
)
def delete_values(
    namespace: str, keys: KeysBody, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Delete the keys of ``{"keys": […]}``; answers the keys that existed."""
    deleted = service.delete_keys(store, tenant, namespace, keys, principal=principal)
    return {"keys": deleted}
