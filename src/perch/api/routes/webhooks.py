"""Webhook triggers: ``GET|POST|PUT /executions/webhook/{namespace}/{flowId}/{key}``.

Mounted without credentials (the key is the secret, :mod:`perch.engine.service.webhooks`), under
``/api/v1`` and ``/api/v1/{tenant}``. The answer is the execution started (Kestra's shape), 204
when the trigger's conditions refused the call, 404 for an unknown flow or key, 409 for a
disabled flow. A body is at most 1 MiB.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from perch.api.context import StateDep, TenantDep
from perch.api.convert import shown_execution
from perch.api.shapes import ERRORS, ExecutionShape, OmitUnsetRoute
from perch.engine.model import Execution
from perch.engine.service.webhooks import WebhookCall, fire_webhook
from perch.engine.watch import wait_for_async

router = APIRouter(tags=["Executions"], route_class=OmitUnsetRoute)

WAIT_SECONDS = 60.0
NO_NUL = r"^[^\x00]+$"
MAX_HEADERS = 100


def _ended(execution: Execution) -> bool:
    return execution.state.current.is_terminated


async def webhook(  # noqa: PLR0917 - path parameters
    request: Request,
    state: StateDep,
    tenant: TenantDep,
    namespace: Annotated[str, Path(pattern=NO_NUL, description="The flow namespace")],
    flowId: Annotated[str, Path(pattern=NO_NUL, description="The flow id")],
    key: Annotated[str, Path(pattern=NO_NUL, max_length=256, description="The webhook key")],
) -> Response:
    body = await request.body()
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        if name.lower() in ("authorization", "cookie"):
            continue  # credentials a client sends anyway are not the flow's to read
        if len(headers) < MAX_HEADERS or name in headers:
            headers.setdefault(name, []).append(value)
    parameters: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        parameters.setdefault(name, []).append(value)
    call = WebhookCall(request.method, body, headers, parameters)
    store = state.store
    answer = await run_in_threadpool(fire_webhook, store, tenant, namespace, flowId, key, call)
    if answer.execution is None:
        return Response(status_code=204)
    execution = answer.execution
    if answer.wait:
        execution = await wait_for_async(store, execution.id, _ended, WAIT_SECONDS)
        if answer.return_outputs:
            return JSONResponse(dict(execution.outputs or {}))
    return JSONResponse(await run_in_threadpool(shown_execution, store, execution))


for method in ("GET", "POST", "PUT"):
    router.add_api_route(
        "/executions/webhook/{namespace}/{flowId}/{key}",
        webhook,
        methods=[method],
        name=f"webhook_{method.lower()}",
        summary=f"Start an execution by a {method} to a Webhook trigger",
        description=(
            "No credentials: the key of the flow's Webhook trigger is the secret. The body "
            "(JSON or text, at most 1 MiB), headers and query parameters are the execution's "
            "`trigger.body`, `trigger.headers` and `trigger.parameters`."
        ),
        response_model=ExecutionShape,
        responses={**ERRORS, 204: {"description": "The trigger's conditions refused the call"}},
    )
