"""Triggers: Kestra's trigger API. Search, list a flow's triggers, update one (``disabled``, or
a new ``backfill``), pause, resume or delete a backfill, disable or enable many.

A trigger is shown in Kestra's shape (``tenantId``, ``namespace``, ``flowId``, ``triggerId``,
``date`` of the last execution started, ``nextExecutionDate``, ``backfill``, ``disabled``,
``executionId``, ``updatedDate``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import iso, non_null
from perch.api.filters import MAX_PAGE_SIZE
from perch.api.shapes import ERRORS, OmitUnsetRoute
from perch.engine.ports import TriggerRow
from perch.engine.service import triggers as service
from perch.errors import InvalidRequest
from perch.permissions import Action

router = APIRouter(tags=["Triggers"], route_class=OmitUnsetRoute)


def trigger_json(row: TriggerRow) -> dict[str, Any]:
    """A trigger's context as Kestra shows it, without the properties that have no value."""
    return non_null(
        {
            "tenantId": row.tenant,
            "namespace": row.namespace,
            "flowId": row.flow_id,
            "triggerId": row.trigger_id,
            "type": row.type,
            # As Kestra's: the last execution's date, or when the trigger was recorded.
            "date": None if (when := row.last_date or row.updated) is None else iso(when),
            "nextExecutionDate": None if row.next_date is None else iso(row.next_date),
            "backfill": row.backfill,
            "disabled": row.disabled,
            "executionId": row.last_execution_id,
            "updatedDate": None if row.updated is None else iso(row.updated),
        }
    )


def trigger_state_json(row: TriggerRow) -> dict[str, Any]:
    """A trigger's state in Kestra 2.x's shape (``ApiTriggerState``)."""
    updated = row.updated or row.last_date or row.next_date
    return non_null(
        {
            "namespace": row.namespace,
            "flowId": row.flow_id,
            "triggerId": row.trigger_id,
            "updatedAt": None if updated is None else iso(updated),
            "nextEvaluationDate": None if row.next_date is None else iso(row.next_date),
            "lastTriggeredDate": None if row.last_date is None else iso(row.last_date),
            "backfill": row.backfill,
            "disabled": row.disabled,
            "executionId": row.last_execution_id,
        }
    )


def _search_item(definition: Any, row: TriggerRow) -> dict[str, Any]:
    # Kestra 1.x answers {abstractTrigger, triggerContext}, 2.x {trigger, state}: both are
    # given, so that either generation of clients finds what it reads.
    declared = (
        None
        if definition is None
        else definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    return non_null(
        {
            "abstractTrigger": declared,
            "triggerContext": trigger_json(row),
            "trigger": declared,
            "state": trigger_state_json(row),
        }
    )


def _key(tenant: str, body: dict[str, Any]) -> service.TriggerKey:
    try:
        return (tenant, str(body["namespace"]), str(body["flowId"]), str(body["triggerId"]))
    except KeyError as missing:
        raise InvalidRequest(
            f"a trigger is named by namespace, flowId and triggerId: {missing} is missing"
        ) from None


def _page(items: list[Any], page: int, size: int) -> dict[str, Any]:
    start = (page - 1) * size
    return {"results": items[start : start + size], "total": len(items)}


JsonBody = Annotated[dict[str, Any], Body()]
Page = Annotated[int, Query(ge=1, le=100_000)]
Size = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


@router.get("/triggers/search", summary="Search triggers", responses=ERRORS)
async def search(  # noqa: PLR0917 - query parameters
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    page: Page = 1,
    size: Size = 10,
    q: Annotated[str | None, Query(max_length=256)] = None,
    namespace: Annotated[str | None, Query(max_length=255)] = None,
    flowId: Annotated[str | None, Query(max_length=255)] = None,
) -> dict[str, Any]:
    views = await run_in_threadpool(
        service.search_triggers, store, principal, tenant, namespace, flowId, q
    )
    items = [_search_item(view.definition, view.row) for view in views]
    return _page(items, page, size)


@router.get("/triggers/{namespace}/{flowId}", summary="The triggers of a flow", responses=ERRORS)
async def of_flow(  # noqa: PLR0917 - path and query parameters
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    namespace: str,
    flowId: str,
    page: Page = 1,
    size: Size = 10,
) -> dict[str, Any]:
    views = await run_in_threadpool(
        service.search_triggers, store, principal, tenant, None, flowId, None
    )
    rows = [trigger_json(v.row) for v in views if v.row.namespace == namespace]
    return _page(rows, page, size)


@router.put(
    "/triggers",
    summary="Update a trigger: disable or enable it, or start a backfill",
    responses=ERRORS,
)
async def update(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    key = _key(tenant, body)
    row = await run_in_threadpool(service.trigger_row, store, principal, key, Action.UPDATE)
    backfill = body.get("backfill")
    if isinstance(backfill, dict) and backfill.get("start") and row.backfill is None:
        row = await run_in_threadpool(service.start_backfill, store, principal, key, backfill)
    disabled = body.get("disabled")
    if disabled is not None and bool(disabled) != row.disabled:
        row = await run_in_threadpool(service.set_disabled, store, principal, key, bool(disabled))
    return trigger_json(row)


async def _backfill(
    store: StoreDep, tenant: str, principal: Any, body: dict[str, Any], action: str
) -> dict[str, Any]:
    row = await run_in_threadpool(
        service.backfill_action, store, principal, _key(tenant, body), action
    )
    return trigger_json(row)


@router.put("/triggers/backfill/pause", summary="Pause a trigger's backfill", responses=ERRORS)
async def pause_backfill(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    return await _backfill(store, tenant, principal, body, "pause")


@router.put("/triggers/backfill/unpause", summary="Resume a trigger's backfill", responses=ERRORS)
async def unpause_backfill(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    return await _backfill(store, tenant, principal, body, "unpause")


@router.post("/triggers/backfill/delete", summary="Delete a trigger's backfill", responses=ERRORS)
async def delete_backfill(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    return await _backfill(store, tenant, principal, body, "delete")


@router.post(
    "/triggers/set-disabled/by-triggers",
    summary="Disable or enable the triggers listed",
    responses=ERRORS,
)
async def set_disabled_by_triggers(
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, int]:
    listed = body.get("triggers")
    if not isinstance(listed, list) or len(listed) > 1000:
        raise InvalidRequest("`triggers` is a list of at most 1000 triggers")
    keys = [_key(tenant, item) for item in listed if isinstance(item, dict)]
    count = await run_in_threadpool(
        service.set_many_disabled, store, principal, keys, bool(body.get("disabled", True))
    )
    return {"count": count}


@router.post(
    "/triggers/set-disabled/by-query",
    summary="Disable or enable the triggers matching a filter",
    responses=ERRORS,
)
async def set_disabled_by_query(  # noqa: PLR0917 - query parameters
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(max_length=256)] = None,
    namespace: Annotated[str | None, Query(max_length=255)] = None,
    disabled: bool = True,
) -> dict[str, int]:
    views = await run_in_threadpool(
        service.search_triggers, store, principal, tenant, namespace, None, q
    )
    count = await run_in_threadpool(
        service.set_many_disabled, store, principal, [v.row.key for v in views], disabled
    )
    return {"count": count}
