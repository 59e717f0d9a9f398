"""The instance's services (Kestra Enterprise's ``/api/v1/instance/services/search``): the
worker processes alive, with their worker group, task types, namespaces and concurrency.

Mounted once, without a tenant, for superadmins only. Perch lists its workers here (the other
roles keep no registry): ``type`` filters to ``WORKER``, any other type finds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep
from perch.api.convert import iso
from perch.api.filters import MAX_PAGE, MAX_PAGE_SIZE
from perch.api.routes.users import ADMIN_ERRORS, require_superadmin
from perch.api.shapes import OmitUnsetRoute, Shape
from perch.engine.context import reading
from perch.engine.ports import WorkerInfo

router = APIRouter(tags=["Instance"], route_class=OmitUnsetRoute)

Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Size = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Filter = Annotated[list[str] | None, Query(max_length=16)]


class ServerShape(Shape):
    hostname: str
    pid: int


class ServiceShape(Shape):
    id: str
    type: str
    state: str
    server: ServerShape
    createdAt: str
    updatedAt: str
    props: dict[str, Any]


class ServicePageShape(Shape):
    results: list[ServiceShape]
    total: int


def service_json(worker: WorkerInfo) -> dict[str, Any]:
    return {
        "id": worker.id,
        "type": "WORKER",
        "state": "RUNNING",
        "server": {"hostname": worker.hostname, "pid": worker.pid},
        "createdAt": iso(worker.started),
        "updatedAt": iso(worker.heartbeat),
        "props": {
            "workerGroup": worker.filter.group,
            "taskTypes": list(worker.filter.task_types),
            "namespaces": list(worker.filter.namespaces),
            "concurrency": worker.concurrency,
            "expiresAt": iso(worker.expires),
        },
    }


@router.get(
    "/instance/services/search",
    response_model=ServicePageShape,
    responses=ADMIN_ERRORS,
    summary="Search the services (the workers alive)",
)
def search_services(  # noqa: PLR0917 - one parameter per query parameter
    store: StoreDep,
    principal: PrincipalDep,
    page: Page = 1,
    size: Size = 10,
    type: Filter = None,
    state: Filter = None,
) -> dict[str, Any]:
    """The workers whose heartbeat has not expired, oldest first."""
    require_superadmin(store, principal, "see the instance's services")
    with reading(store) as tx:
        workers = tx.list_workers(datetime.now(UTC))
    if (type and "WORKER" not in {t.upper() for t in type}) or (
        state and "RUNNING" not in {s.upper() for s in state}
    ):
        workers = []
    start = (page - 1) * size
    return {
        "results": [service_json(w) for w in workers[start : start + size]],
        "total": len(workers),
    }
