"""Flows: create from YAML, update, read (JSON, with its source, or the YAML itself), delete,
search, validate, revisions and roll back, namespaces.

Literal paths (``/flows/search``, ``/flows/validate``, ``/flows/distinct-namespaces``) are declared
before ``/flows/{namespace}`` so that they win.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert_flows import check_json, flow_json
from perch.api.shapes import ERRORS, OmitUnsetRoute
from perch.api.shapes_flows import YAML_BODY, FlowPageShape, FlowShape, ValidateShape
from perch.engine.access import scope
from perch.engine.service import flows as service
from perch.engine.service.flowsearch import (
    DEFAULT_SORT,
    FlowFilter,
    FlowSearch,
    distinct_namespaces,
    flows_of_namespace,
    search_flows,
    validate_sources,
)
from perch.errors import FlowParseError, InvalidRequest, Problem
from perch.permissions import Action, Resource

router = APIRouter(tags=["Flows"], route_class=OmitUnsetRoute)

YAML = "application/x-yaml"
MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest YAML body read: far above any real flow (the parser stops at 500,000 characters
per flow), low enough that a runaway upload cannot exhaust memory."""


async def yaml_body(request: Request) -> str:
    """The request body as text, read in the event loop before the endpoint runs in a thread."""
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_BODY_BYTES:
            raise FlowParseError(
                [Problem("", f"the body is larger than {MAX_BODY_BYTES} bytes")],
                "The flow is too large",
            )
    try:
        return received.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start}"
        raise FlowParseError(
            [Problem("", f"the body is not UTF-8 text ({where})")], "The flow is not UTF-8 text"
        ) from exc


YamlBody = Annotated[str, Depends(yaml_body)]
Namespace = Annotated[str, Path(description="The flow namespace", examples=["company.team"])]
FlowId = Annotated[str, Path(description="The flow id", examples=["hello"])]

_FILTER = re.compile(r"^filters\[([^\]]+)\]\[([^\]]+)\](?:\[([^\]]+)\])?$")


def _filters(request: Request) -> list[FlowFilter]:
    """Kestra 1.x's ``filters[field][OPERATION]=value`` (``filters[labels][EQUALS][key]=v``)."""
    found: list[FlowFilter] = []
    for name, value in request.query_params.multi_items():
        if not name.startswith("filters"):
            continue
        match = _FILTER.match(name)
        if match is None or match.group(1) in ("or", "and"):
            raise InvalidRequest(
                f"Unsupported filter '{name}': use filters[field][OPERATION]=value "
                "(grouping with or/and is not supported)"
            )
        found.append(FlowFilter(match.group(1), match.group(2), value, match.group(3)))
    return found


def _label_filters(labels: list[str]) -> list[FlowFilter]:
    found: list[FlowFilter] = []
    for label in labels:
        key, colon, value = label.partition(":")
        if not colon or not key:
            raise InvalidRequest(f"Invalid label filter '{label}': expected key:value")
        found.append(FlowFilter("labels", "EQUALS", value, key))
    return found


def _sort(sort: list[str]) -> tuple[tuple[str, bool], ...]:
    order: list[tuple[str, bool]] = []
    for item in sort:
        name, _, direction = item.partition(":")
        direction = direction.lower() or "asc"
        if direction not in ("asc", "desc"):
            raise InvalidRequest(f"Invalid sort '{item}': expected field:asc or field:desc")
        order.append(("id" if name == "flowId" else name, direction == "desc"))
    return tuple(order)


def _json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


@router.post(
    "/flows/validate",
    summary="Validate flows (documents separated by ---) without saving them",
    response_model=list[ValidateShape],
    responses={401: ERRORS[401], 422: ERRORS[422]},
    openapi_extra=YAML_BODY,
)
def validate(store: StoreDep, tenant: TenantDep, text: YamlBody) -> JSONResponse:
    """One verdict per document: every problem with its path, line (in the whole body) and
    column; ``constraints`` is null for a valid flow."""
    return _json([check_json(c) for c in validate_sources(store, text, tenant=tenant)])


@router.get(
    "/flows/search",
    summary="Search flows",
    response_model=FlowPageShape,
    responses={401: ERRORS[401], 422: ERRORS[422]},
)
def search(
    *,
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="The page, from 1")] = 1,
    size: Annotated[int, Query(ge=1, le=10_000, description="Flows per page")] = 10,
    sort: Annotated[
        list[str] | None, Query(description="`field:asc|desc` on id, namespace, revision")
    ] = None,
    q: Annotated[str | None, Query(description="Part of the namespace or id")] = None,
    namespace: Annotated[
        str | None, Query(description="A namespace and its children (prefix)")
    ] = None,
    labels: Annotated[list[str] | None, Query(description="Labels as `key:value`")] = None,
) -> JSONResponse:
    """The latest revision of each matching flow. Filters also come in Kestra 1.x's form:
    ``filters[namespace][PREFIX]=``, ``filters[flowId][CONTAINS]=``, ``filters[q][EQUALS]=``,
    ``filters[labels][EQUALS][key]=value``."""
    filters = _filters(request) + _label_filters(labels or [])
    if q:
        filters.append(FlowFilter("q", "EQUALS", q))
    if namespace:
        filters.append(FlowFilter("namespace", "PREFIX", namespace))
    query = FlowSearch(
        tenant=tenant,
        filters=tuple(filters),
        page=page,
        size=size,
        sort=_sort(sort) if sort else DEFAULT_SORT,
        namespace_scope=scope(principal, Resource.FLOW, Action.READ),
    )
    found, total = search_flows(store, query)
    return _json({"results": [flow_json(s, f) for s, f in found], "total": total})


@router.get(
    "/flows/distinct-namespaces",
    summary="The namespaces that hold flows",
    response_model=list[str],
    responses={401: ERRORS[401], 422: ERRORS[422]},
)
def namespaces(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(description="Part of the namespace")] = None,
) -> JSONResponse:
    readable = scope(principal, Resource.FLOW, Action.READ)
    return _json(distinct_namespaces(store, tenant=tenant, q=q, scope=readable))


@router.post(
    "/flows",
    summary="Create a flow from its YAML source",
    response_model=FlowShape,
    responses={401: ERRORS[401], 422: ERRORS[422]},
    openapi_extra=YAML_BODY,
)
def create(
    *, store: StoreDep, tenant: TenantDep, principal: PrincipalDep, source: YamlBody
) -> JSONResponse:
    """Revision 1 of a new flow. 422 with every problem (path, line, column) when the flow is
    invalid, and "Flow id already exists" when it exists (update it with PUT)."""
    stored, flow = service.create_flow(store, source, principal, tenant=tenant)
    return _json(flow_json(stored, flow, source=True))


@router.get(
    "/flows/{namespace}",
    summary="The flows of a namespace (not of its children)",
    response_model=list[FlowShape],
    responses={401: ERRORS[401], 422: ERRORS[422]},
)
def of_namespace(store: StoreDep, tenant: TenantDep, namespace: Namespace) -> JSONResponse:
    return _json([flow_json(s, f) for s, f in flows_of_namespace(store, namespace, tenant=tenant)])


def _wants_yaml(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return YAML in accept or "text/yaml" in accept or "application/yaml" in accept


@router.get(
    "/flows/{namespace}/{id}",
    summary="Get a flow (JSON; its YAML source with Accept: application/x-yaml)",
    response_model=FlowShape,
    responses={
        200: {"content": {YAML: {"schema": {"type": "string"}}}},
        401: ERRORS[401],
        404: ERRORS[404],
        422: ERRORS[422],
    },
)
def get(
    *,
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    namespace: Namespace,
    id: FlowId,
    source: Annotated[bool, Query(description="Include the YAML source")] = False,
    revision: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="A revision; the latest by default")
    ] = None,
    allowDeleted: Annotated[
        bool, Query(description="Return the flow even if it is deleted")
    ] = False,
) -> Response:
    stored, flow = service.read_flow(
        store, namespace, id, tenant=tenant, revision=revision, allow_deleted=allowDeleted
    )
    if _wants_yaml(request):
        return Response(stored.source, media_type=YAML)
    return _json(flow_json(stored, flow, source=source))


@router.put(
    "/flows/{namespace}/{id}",
    summary="Update a flow from its YAML source",
    response_model=FlowShape,
    responses={401: ERRORS[401], 404: ERRORS[404], 422: ERRORS[422]},
    openapi_extra=YAML_BODY,
)
def update(
    *,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    namespace: Namespace,
    id: FlowId,
    source: YamlBody,
) -> JSONResponse:
    """A changed source becomes the next revision; the same source keeps the revision. The id
    and namespace in the YAML must be those of the URL (422 otherwise)."""
    stored, flow = service.update_flow(store, namespace, id, source, principal, tenant=tenant)
    return _json(flow_json(stored, flow, source=True))


@router.delete(
    "/flows/{namespace}/{id}",
    summary="Delete a flow",
    status_code=204,
    response_class=Response,
    responses={401: ERRORS[401], 404: ERRORS[404], 422: ERRORS[422]},
)
def delete(
    *,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    namespace: Namespace,
    id: FlowId,
) -> Response:
    """Executions already running or paused keep the revision they were started with."""
    service.delete_flow(store, namespace, id, principal, tenant=tenant)
    return Response(status_code=204)


@router.get(
    "/flows/{namespace}/{id}/revisions",
    summary="Every revision of a flow, oldest first",
    response_model=list[FlowShape],
    responses={401: ERRORS[401], 404: ERRORS[404], 422: ERRORS[422]},
)
def revisions(
    *,
    store: StoreDep,
    tenant: TenantDep,
    namespace: Namespace,
    id: FlowId,
) -> JSONResponse:
    found = service.flow_revisions(store, namespace, id, tenant=tenant)
    return _json([flow_json(s, f, source=True) for s, f in found])


@router.post(
    "/flows/{namespace}/{id}/revisions/{revision}/restore",
    summary="Roll back: save an earlier revision's source as the newest revision (Perch)",
    response_model=FlowShape,
    responses={401: ERRORS[401], 404: ERRORS[404], 422: ERRORS[422]},
)
def restore(
    *,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    namespace: Namespace,
    id: FlowId,
    revision: Annotated[int, Path(ge=1, le=2**31 - 1, description="The revision to restore")],
) -> JSONResponse:
    """Also brings back a deleted flow."""
    stored, flow = service.restore_revision(
        store, namespace, id, revision, principal, tenant=tenant
    )
    return _json(flow_json(stored, flow, source=True))
