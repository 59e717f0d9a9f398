"""Looking into one execution: its graph (Kestra's ``FlowGraph``) and an expression evaluated in
its context (``/eval``, with the body as ``text/plain``).

Kestra 1.x evaluates at ``/executions/{id}/eval/{taskRunId}``; its 1.x Python SDK posts to
``/executions/{id}/eval`` and the 2.x SDK to ``/executions/{id}/actions/eval[/{taskRunId}]``:
all four answer the same. Reading the execution is enough for both routes; an evaluation reads
the execution only (see :mod:`perch.engine.service.inspect`: no ``secret()``, ``kv()``,
``read()``, SECRET values masked).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import execution_in, non_null, task_run_json
from perch.api.routes.actions import NO_NUL, ExecutionId
from perch.api.shapes import ERRORS, ErrorShape, OmitUnsetRoute, Shape
from perch.engine import service
from perch.engine.flowgraph import FlowGraph, GraphCluster, GraphEdge, GraphNode
from perch.engine.model import Execution
from perch.engine.service import inspect
from perch.engine.service.inspect import MAX_EXPRESSION
from perch.errors import BodyTooLarge, InvalidRequest

router = APIRouter(tags=["Executions"], route_class=OmitUnsetRoute)

TaskRunId = Annotated[
    str, Path(alias="taskRunId", pattern=NO_NUL, description="The task run whose context to use")
]
TEXT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/plain": {"schema": {"type": "string", "maxLength": MAX_EXPRESSION}}},
    }
}
"""The OpenAPI body of an evaluation: the expression, as plain text."""
_MAX_BODY = MAX_EXPRESSION * 4  # UTF-8: up to 4 bytes a character


class NodeShape(Shape):
    uid: str
    type: str = Field(description="Kestra's class name: GraphTask, GraphClusterRoot…")
    error: bool = False


class EdgeShape(Shape):
    source: str
    target: str
    relation: dict[str, Any] = Field(description="`{relationType, value}`, when known")


class ClusterShape(Shape):
    cluster: dict[str, Any]
    nodes: list[str]
    parents: list[str]
    start: str
    end: str


class FlowGraphShape(Shape):
    nodes: list[NodeShape]
    edges: list[EdgeShape]
    clusters: list[ClusterShape]
    flowables: list[str]


class EvalShape(Shape):
    result: str | None = Field(default=None, description="The rendered expression")
    error: str | None = Field(default=None, description="Why it could not be rendered")


def _node_json(node: GraphNode, execution: Execution) -> dict[str, Any]:
    shown: dict[str, Any] = {"uid": node.uid, "type": node.kind.value, "error": node.error}
    if node.task is not None:
        shown["task"] = non_null(
            {"id": node.task.id, "type": node.task.type, "description": node.task.description}
        )
    if node.trigger is not None:
        shown["trigger"] = {"id": node.trigger.id, "type": node.trigger.type}
    if node.run is not None:
        shown["taskRun"] = task_run_json(execution, node.run)
        if node.run.value is not None:
            shown["values"] = [node.run.value]
    if node.relation is not None:
        shown["relationType"] = node.relation.value
    return shown


def _edge_json(edge: GraphEdge) -> dict[str, Any]:
    relation = non_null(
        {
            "relationType": None if edge.relation is None else edge.relation.value,
            "value": edge.value,
        }
    )
    return {"source": edge.source, "target": edge.target, "relation": relation}


def _cluster_json(cluster: GraphCluster, execution: Execution) -> dict[str, Any]:
    box: dict[str, Any] = {
        "uid": cluster.uid,
        "type": "io.kestra.core.models.hierarchies.GraphCluster",
        "error": cluster.error,
    }
    if cluster.relation is not None:
        box["relationType"] = cluster.relation.value
    if cluster.head is not None:
        box["taskNode"] = _node_json(cluster.head, execution)
    return {
        "cluster": box,
        "nodes": list(cluster.nodes),
        "parents": list(cluster.parents),
        "start": cluster.start,
        "end": cluster.end,
    }


def graph_json(graph: FlowGraph, execution: Execution) -> dict[str, Any]:
    """The graph as Kestra's ``FlowGraph`` JSON, each task node with its task run."""
    return {
        "nodes": [_node_json(n, execution) for n in graph.nodes],
        "edges": [_edge_json(e) for e in graph.edges],
        "clusters": [_cluster_json(c, execution) for c in graph.clusters],
        "flowables": list(graph.flowables),
    }


@router.get(
    "/executions/{executionId}/graph",
    summary="The graph of an execution's flow, with its task runs",
    response_model=FlowGraphShape,
    responses=ERRORS,
)
def graph(
    execution_id: ExecutionId, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Kestra's ``FlowGraph`` of the revision the execution ran: ``nodes`` (tasks, triggers,
    the start and end of each cluster), ``edges`` with their relation, ``clusters`` (each
    flowable task with what it holds) and ``flowables``. SECRET values are masked."""
    execution = execution_in(store, tenant, execution_id, principal)
    shown = graph_json(inspect.execution_graph(store, execution), execution)
    return JSONResponse(service.mask_secrets(shown))


async def _expression(request: Request) -> str:
    kind = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    if kind not in {"text/plain", ""}:
        raise InvalidRequest(f"the expression is sent as text/plain, not {kind}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise BodyTooLarge(f"the expression is larger than {_MAX_BODY} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the expression is not UTF-8 text") from None


async def _evaluate(
    request: Request,
    *,
    store: StoreDep,
    tenant: str,
    principal: PrincipalDep,
    execution_id: str,
    task_run_id: str | None,
) -> JSONResponse:
    expression = await _expression(request)
    execution = await run_in_threadpool(execution_in, store, tenant, execution_id, principal)
    found = await run_in_threadpool(inspect.evaluate, store, execution, expression, task_run_id)
    return JSONResponse(non_null({"result": found.result, "error": found.error}))


_EVAL: dict[str, Any] = {
    "response_model": EvalShape,
    "responses": {**ERRORS, 413: {"model": ErrorShape, "description": "Expression too long"}},
    "openapi_extra": TEXT_BODY,
}
_EVAL_HELP = (
    "The body is the expression (`text/plain`), rendered as a task of the execution would; "
    "`{result}` or, when it cannot be rendered, `{error}` (200 either way). `secret()`, `kv()` "
    "and `read()` are refused; SECRET values are masked."
)


@router.post(
    "/executions/{executionId}/eval/{taskRunId}",
    summary="Evaluate an expression in a task run's context",
    description=_EVAL_HELP,
    **_EVAL,
)
@router.post(
    "/executions/{executionId}/actions/eval/{taskRunId}",
    name="eval_task_run_action",
    summary="Evaluate an expression in a task run's context (Kestra 2.x path)",
    description=_EVAL_HELP,
    **_EVAL,
)
async def eval_task_run(
    *,
    execution_id: ExecutionId,
    task_run_id: TaskRunId,
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> JSONResponse:
    return await _evaluate(
        request,
        store=store,
        tenant=tenant,
        principal=principal,
        execution_id=execution_id,
        task_run_id=task_run_id,
    )


@router.post(
    "/executions/{executionId}/eval",
    summary="Evaluate an expression in an execution's context",
    description=_EVAL_HELP,
    **_EVAL,
)
@router.post(
    "/executions/{executionId}/actions/eval",
    name="eval_execution_action",
    summary="Evaluate an expression in an execution's context (Kestra 2.x path)",
    description=_EVAL_HELP,
    **_EVAL,
)
async def eval_execution(
    *,
    execution_id: ExecutionId,
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> JSONResponse:
    return await _evaluate(
        request,
        store=store,
        tenant=tenant,
        principal=principal,
        execution_id=execution_id,
        task_run_id=None,
    )
