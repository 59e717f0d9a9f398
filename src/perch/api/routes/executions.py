"""Executions: create (with multipart inputs), validate creation inputs, get, search, list by
flow, delete.

Literal paths (``/executions/search``, ``/executions/by-ids``) are declared before
``/executions/{executionId}`` so that they win. ``POST /executions/{namespace}/{flowId}`` is the
catch-all of this router: the routers mounted before it (resume, pause, kill…) take their
literal paths first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from perch.api.auth import PrincipalDep
from perch.api.context import ApiState, StateDep, StoreDep, TenantDep
from perch.api.convert import execution_in, shown_execution
from perch.api.filters import (
    FILTER_HELP,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    execution_query,
    query_from_params,
    readable_only,
)
from perch.api.inputchecks import ValidateInputsShape, validation_json
from perch.api.multipart import FORM_BODY, form_inputs, split_uploads
from perch.api.shapes import (
    ERRORS,
    BulkErrorShape,
    BulkReportShape,
    ErrorShape,
    ExecutionPageShape,
    ExecutionResponseShape,
    ExecutionShape,
    OmitUnsetRoute,
)
from perch.engine import service
from perch.engine.creation import CORRELATION_LABEL
from perch.engine.model import Execution, Label
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.service.files import read_file
from perch.engine.states import StateType
from perch.engine.watch import wait_for_async
from perch.errors import InvalidRequest

router = APIRouter(tags=["Executions"], route_class=OmitUnsetRoute)

WAIT_SECONDS = 60.0
"""The longest a ``wait=true`` creation holds the request; it then answers with the state the
execution is in."""
ESTIMATED_HEADER = "X-Total-Estimated"
"""``true`` when a search's ``total`` is an estimate (more matches than ``exact_count_limit``)."""
TOTAL_HELP = (
    "`total` is exact up to the server's exact-count limit (`PERCH_SEARCH_EXACT_COUNT`, "
    "10,000 by default) and an estimate beyond it: the answer then also holds "
    '`"totalEstimated": true`, and the `X-Total-Estimated` header says `true` (else '
    "`false`). The page itself is always exact."
)
"""How a search's total is counted, for the OpenAPI descriptions."""
ALLOWED_SYSTEM_LABELS = frozenset({CORRELATION_LABEL, "system.from"})
"""The ``system.`` labels a caller may set; the others are Perch's to write."""

# PostgreSQL text cannot hold NUL: such a value could never match, and must not reach a query.
NO_NUL = r"^[^\x00]+$"
ExecutionId = Annotated[str, Path(pattern=NO_NUL, description="The execution id")]
Namespace = Annotated[
    str, Path(pattern=NO_NUL, description="The flow namespace, e.g. `company.team`")
]
FlowId = Annotated[str, Path(pattern=NO_NUL, description="The flow id")]
Revision = Annotated[
    int | None,
    Query(ge=1, description="Run this revision of the flow instead of the latest one"),
]


# --- search ---------------------------------------------------------------------------------


@router.get(
    "/executions/search",
    summary="Search executions",
    description=FILTER_HELP + "\n" + TOTAL_HELP,
    response_model=ExecutionPageShape,
    responses=ERRORS,
)
def search(  # noqa: PLR0917 - the legacy parameters are declared for the OpenAPI document
    request: Request,
    api: StateDep,
    tenant: TenantDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="The page, from 1")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Results per page")] = 10,
    sort: Annotated[
        str | None,
        Query(
            description="`state.startDate`, `state.endDate`, `id`, `namespace`, `flowId` or "
            "`state.current`, then `:asc` or `:desc`"
        ),
    ] = None,
    namespace: Annotated[
        str | None, Query(description="Deprecated: the namespace and its children")
    ] = None,
    flowId: Annotated[str | None, Query(description="Deprecated: the flow id")] = None,
    state: Annotated[
        list[StateType] | None, Query(description="Deprecated: one of these states")
    ] = None,
    labels: Annotated[
        list[str] | None, Query(description="Deprecated: `key:value`, every one must match")
    ] = None,
    startDate: Annotated[
        datetime | None, Query(description="Deprecated: started at or after")
    ] = None,
    endDate: Annotated[datetime | None, Query(description="Deprecated: ended at or before")] = None,
    timeRange: Annotated[
        str | None, Query(description="Deprecated: started within this ISO-8601 duration")
    ] = None,
    q: Annotated[str | None, Query(description="Part of the id, namespace or flow id")] = None,
) -> JSONResponse:
    # The declared parameters document the API and are checked by FastAPI; the query string is
    # read whole by execution_query, which also understands `filters[field][OP]=value`.
    del page, size, sort, namespace, flowId, state, labels, startDate, endDate, timeRange, q
    return _page(api, execution_query(request, tenant))


@router.get(
    "/executions",
    summary="List the executions of one flow",
    description="The executions of the flow `namespace`.`flowId`, newest first; the filters of "
    "`GET /executions/search` apply too.\n\n" + TOTAL_HELP,
    response_model=ExecutionPageShape,
    responses=ERRORS,
)
def list_by_flow(  # noqa: PLR0917 - query parameters
    request: Request,
    api: StateDep,
    tenant: TenantDep,
    namespace: Annotated[str, Query(description="The flow namespace (exactly)")],
    flowId: Annotated[str, Query(description="The flow id")],
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
) -> JSONResponse:
    del page, size, flowId  # read with the other filters from the query string
    # Here `namespace` names the flow's namespace exactly, not a prefix as in the search.
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "namespace"]
    params.append(("filters[namespace][EQUALS]", namespace))
    return _page(api, readable_only(request, query_from_params(params, tenant)))


def _page(api: ApiState, query: ExecutionQuery) -> JSONResponse:
    store = api.store
    query = replace(query, count_limit=api.settings.exact_count_limit)
    found = service.search_executions(store, query)
    results = [shown_execution(store, execution) for execution in found.results]
    body: dict[str, Any] = {"results": results, "total": found.total}
    if found.estimated:
        # An extra field: Kestra's clients keep what they do not know (kestrapy's
        # `additional_properties`); the header tells those that read headers only.
        body["totalEstimated"] = True
    return JSONResponse(body, headers={ESTIMATED_HEADER: str(found.estimated).lower()})


# --- bulk delete ----------------------------------------------------------------------------


@router.delete(
    "/executions/by-ids",
    summary="Delete terminated executions",
    description="Deletes every listed execution, or none: when one does not exist or is not "
    "terminated, answers 400 listing each such execution and why. Those the caller may see "
    "but not delete are listed in `invalids`; the others are deleted.",
    response_model=BulkReportShape,
    responses={
        **ERRORS,
        400: {"model": BulkErrorShape, "description": "Some executions cannot be deleted"},
    },
)
def delete_by_ids(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    ids: Annotated[
        list[Annotated[str, StringConstraints(pattern=NO_NUL)]],
        Body(description="Execution ids", max_length=10_000),
    ],
) -> JSONResponse:
    count, refused = service.delete_executions(store, ids, principal, tenant=tenant)
    invalids = [{"invalidValue": i, "message": why} for i, why in refused]
    return JSONResponse({"count": count, "invalids": invalids})


# --- one execution --------------------------------------------------------------------------


@router.get(
    "/executions/{executionId}",
    summary="Get an execution",
    response_model=ExecutionShape,
    responses=ERRORS,
)
def get_execution(
    store: StoreDep, tenant: TenantDep, principal: PrincipalDep, executionId: ExecutionId
) -> JSONResponse:
    return JSONResponse(shown_execution(store, execution_in(store, tenant, executionId, principal)))


@router.delete(
    "/executions/{executionId}",
    summary="Delete a terminated execution",
    description="Deletes the execution and its logs; its audit records stay. A running or "
    "paused execution must be killed first (409).",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
)
def delete_execution(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    executionId: ExecutionId,
) -> Response:
    service.delete_execution(store, executionId, principal, tenant=tenant)
    return Response(status_code=204)


@router.get(
    "/executions/{executionId}/file",
    summary="Download a file of an execution",
    description="The bytes of a file input, by the `kestra:///…` URI its value holds.",
    response_class=Response,
    responses={
        **ERRORS,
        200: {"content": {"application/octet-stream": {}}, "description": "The file"},
    },
)
def download_file(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    executionId: ExecutionId,
    path: Annotated[str, Query(pattern=NO_NUL, description="The file's `kestra:///` URI")],
) -> Response:
    execution = execution_in(store, tenant, executionId, principal)
    content = read_file(store, execution, path)
    filename = path.rsplit("/", 1)[-1]
    # RFC 5987: the name may hold any character; never let it break the header.
    disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": disposition},
    )


# --- create ---------------------------------------------------------------------------------


FormInputs = Annotated[dict[str, Any], Depends(form_inputs)]
"""The submitted inputs, read from the body in the event loop before the endpoint's thread."""


@router.post(
    "/executions/{namespace}/{flowId}/validate",
    summary="Check creation inputs without creating anything",
    response_model=ValidateInputsShape,
    responses=ERRORS,
    openapi_extra=FORM_BODY,
)
def validate_inputs(  # noqa: PLR0917 - path and query parameters
    store: StoreDep,
    tenant: TenantDep,
    inputs: FormInputs,
    namespace: Namespace,
    flowId: FlowId,
    revision: Revision = None,
) -> JSONResponse:
    values, uploads = split_uploads(inputs)
    result = service.validate_create_inputs(
        store, tenant, namespace, flowId, values, revision, uploads
    )
    return JSONResponse(
        validation_json(result.flow.id, result.flow.namespace, result.declarations, result.checks)
    )


@router.post(
    "/executions/{namespace}/{flowId}",
    summary="Create an execution",
    description=(
        "Inputs are sent as `multipart/form-data`, one field per input id; a FILE input as a "
        "part with a filename (at most 10 MB). With `wait=true` "
        "the answer comes when the execution is terminated **or paused** (a pause may last "
        f"weeks), or after {WAIT_SECONDS:.0f} seconds with the state it is in then."
    ),
    response_model=ExecutionResponseShape,
    responses={**ERRORS, 413: {"model": ErrorShape, "description": "A file is too large"}},
    openapi_extra=FORM_BODY,
)
async def create(  # noqa: PLR0917 - path and query parameters
    request: Request,
    state: StateDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    inputs: FormInputs,
    namespace: Namespace,
    flowId: FlowId,
    labels: Annotated[
        list[str] | None,
        Query(description="`key:value`, repeated; `system.` keys are reserved"),
    ] = None,
    wait: Annotated[
        bool, Query(description="Answer once the execution is terminated or paused")
    ] = False,
    revision: Revision = None,
) -> JSONResponse:
    # A coroutine, so that a `wait=true` request holds no thread while it waits: the store
    # calls each borrow a worker thread for their own duration only.
    given, correlation_id = _labels(labels or [])
    values, uploads = split_uploads(inputs)
    store = state.store
    create = partial(
        service.create_execution,
        store,
        tenant,
        namespace,
        flowId,
        values,
        principal,
        given,
        correlation_id=correlation_id,
        revision=revision,
        uploads=uploads,
    )
    if wait:
        created = await run_in_threadpool(create)
        execution = await wait_for_async(store, created.id, _settled, WAIT_SECONDS)
        body = await run_in_threadpool(shown_execution, store, execution)
    else:
        # One worker thread for both: each hand-off to a thread costs as much as the answer.
        body = await run_in_threadpool(_created_and_shown, store, create)
    base = (state.settings.public_url or "").rstrip("/")
    body["url"] = f"{base}/ui/{tenant}/executions/{namespace}/{flowId}/{body['id']}"
    return JSONResponse(body)


def _created_and_shown(store: Store, create: Callable[[], Execution]) -> dict[str, Any]:
    return shown_execution(store, create())


def _settled(execution: Execution) -> bool:
    current = execution.state.current
    return current.is_terminated or current.is_paused


def _labels(texts: list[str]) -> tuple[list[Label], str | None]:
    labels: list[Label] = []
    correlation_id: str | None = None
    for text in texts:
        key, separator, value = text.partition(":")
        if not separator or not key:
            raise InvalidRequest(f"a label is written `key:value`, got `{text}`")
        if "\x00" in text:
            raise InvalidRequest("a label cannot contain a NUL character")
        if key.startswith("system.") and key not in ALLOWED_SYSTEM_LABELS:
            raise InvalidRequest(f"the label `{key}` is reserved: `system.` labels are Perch's")
        if key == CORRELATION_LABEL:
            correlation_id = value
        else:
            labels.append(Label(key, value))
    return labels, correlation_id
