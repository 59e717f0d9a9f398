"""``/ui/admin/roles``: the tenant's roles with their permissions, and its bindings (who holds
which role, on a namespace or the whole tenant). Permissions as the API's: ROLE:READ to see the
roles, ROLE:CREATE and ROLE:DELETE for custom ones; BINDING:READ to see the bindings,
BINDING:CREATE and BINDING:DELETE to change them — all on the whole tenant.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch import identity
from perch.errors import NotFound
from perch.identity import roles
from perch.permissions import Action, Binding, BindingType, Resource, permissions_json
from perch.ui.access import (
    admin_page,
    attempt,
    denied,
    denied_text,
    forget_cached_grants,
    tenant_wide,
)
from perch.ui.session import FormViewerDep, Viewer, ViewerDep

router = APIRouter()

R, B = Resource.ROLE, Resource.BINDING
PAGE_SIZE = 50
_Field = Annotated[str, Form(max_length=1024)]
RESOURCES = tuple(r.value for r in Resource)
ACTIONS = tuple(a.value for a in Action)

DONE = {
    "role-created": "The role was created.",
    "role-deleted": "The role and its bindings were deleted.",
    "bound": "The role was given.",
    "unbound": "The binding was deleted.",
}


def _subject(store: Any, tenant: str, binding: Binding) -> str:
    """The name of who a binding is for (its id when it is gone)."""
    try:
        if binding.type is BindingType.USER:
            return identity.get_user(store, binding.external_id).username
        if binding.type is BindingType.GROUP:
            return identity.get_group(store, binding.external_id, tenant=tenant).name
        return identity.get_service_account(store, binding.external_id, tenant=tenant).name
    except NotFound:
        return binding.external_id


def _view(store: Any, viewer: Viewer, page_number: int) -> dict[str, Any]:
    may = {
        f"{r.value.lower()}_{a.value.lower()}": tenant_wide(viewer, r, a)
        for r in (R, B)
        for a in Action
    }
    found, _ = roles.search_roles(store, viewer.tenant, None, page=1, size=10_000)
    names = {r.id: r.name for r in found}
    bindings: list[tuple[Binding, str, str]] = []
    total = 0
    if may["binding_read"]:
        listed, total = roles.search_bindings(
            store, viewer.tenant, page=page_number, size=PAGE_SIZE
        )
        bindings = [
            (b, _subject(store, viewer.tenant, b), names.get(b.role_id, b.role_id)) for b in listed
        ]
    return {
        "may": may,
        "roles": [(r, permissions_json(r.permissions)) for r in found] if may["role_read"] else [],
        "role_names": sorted(names.items(), key=lambda item: item[1].lower()),
        "bindings": bindings,
        "total": total,
        "page_number": page_number,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "resources": RESOURCES,
        "actions": ACTIONS,
        "types": tuple(t.value for t in BindingType),
    }


async def _render(
    request: Request, viewer: Viewer, status: int = 200, page_number: int = 1, **extra: Any
) -> Response:
    store = request.app.state.perch_ui.store
    view = await anyio.to_thread.run_sync(_view, store, viewer, page_number)
    extra.setdefault("role_sent", {"name": "", "description": "", "perms": ()})
    extra.setdefault("binding_sent", {"type": "USER", "subject": "", "role": "", "namespace": ""})
    return admin_page(
        request,
        viewer,
        "admin_roles.html",
        status_code=status,
        done_messages=DONE,
        **view,
        **extra,
    )


@router.get("/admin/roles", response_class=HTMLResponse)
async def roles_page(
    request: Request,
    viewer: ViewerDep,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    if not (tenant_wide(viewer, R, Action.READ) or tenant_wide(viewer, B, Action.READ)):
        return denied(request, viewer, denied_text(R, Action.READ))
    return await _render(request, viewer, page_number=page_number)


async def _change(
    request: Request, viewer: Viewer, need: tuple[Resource, Action], done: str, change: Any
) -> str | Response:
    if not tenant_wide(viewer, *need):
        return denied(request, viewer, denied_text(*need))

    problem = await attempt(change)
    forget_cached_grants(request)
    if problem is None:
        return RedirectResponse(f"/ui/admin/roles?done={done}", status_code=303)
    return problem


@router.post("/admin/roles", response_class=HTMLResponse)
async def create_role(
    request: Request,
    viewer: FormViewerDep,
    name: _Field = "",
    description: _Field = "",
    perm: Annotated[list[str] | None, Form(max_length=len(RESOURCES) * len(ACTIONS))] = None,
) -> Response:
    """A custom role from the grid of resources and actions ticked."""
    store = request.app.state.perch_ui.store
    chosen = [p for p in (perm or []) if ":" in p]
    permissions: dict[str, list[str]] = {}
    for item in chosen:
        resource, _, action = item.partition(":")
        permissions.setdefault(resource, []).append(action)
    answer = await _change(
        request,
        viewer,
        (R, Action.CREATE),
        "role-created",
        lambda: roles.create_role(
            store,
            viewer.tenant,
            name,
            permissions,
            description=description.strip() or None,
            principal=viewer.principal,
        ),
    )
    if not isinstance(answer, str):
        return answer
    sent = {"name": name, "description": description, "perms": tuple(chosen)}
    return await _render(request, viewer, 422, error=answer, role_sent=sent)


@router.post("/admin/roles/{role_id}/delete", response_class=HTMLResponse)
async def delete_role(request: Request, role_id: str, viewer: FormViewerDep) -> Response:
    store = request.app.state.perch_ui.store
    answer = await _change(
        request,
        viewer,
        (R, Action.DELETE),
        "role-deleted",
        lambda: roles.delete_role(store, role_id, tenant=viewer.tenant, principal=viewer.principal),
    )
    if not isinstance(answer, str):
        return answer
    return await _render(request, viewer, 422, error=answer)


@router.post("/admin/bindings", response_class=HTMLResponse)
async def create_binding(  # noqa: PLR0917 - the form's fields
    request: Request,
    viewer: FormViewerDep,
    type: _Field = "USER",
    subject: _Field = "",
    role: _Field = "",
    namespace: _Field = "",
) -> Response:
    """Give a role to a user (username, e-mail or id), a group or a service account (name or
    id), on a namespace and its children or, left empty, the whole tenant."""
    store = request.app.state.perch_ui.store
    answer = await _change(
        request,
        viewer,
        (B, Action.CREATE),
        "bound",
        lambda: roles.create_binding(
            store,
            viewer.tenant,
            type,
            subject.strip(),
            role.strip(),
            namespace=namespace.strip() or None,
            principal=viewer.principal,
        ),
    )
    if not isinstance(answer, str):
        return answer
    sent = {"type": type, "subject": subject, "role": role, "namespace": namespace}
    return await _render(request, viewer, 422, error=answer, binding_sent=sent)


@router.post("/admin/bindings/{binding_id}/delete", response_class=HTMLResponse)
async def delete_binding(request: Request, binding_id: str, viewer: FormViewerDep) -> Response:
    store = request.app.state.perch_ui.store
    answer = await _change(
        request,
        viewer,
        (B, Action.DELETE),
        "unbound",
        lambda: roles.delete_binding(
            store, binding_id, tenant=viewer.tenant, principal=viewer.principal
        ),
    )
    if not isinstance(answer, str):
        return answer
    return await _render(request, viewer, 422, error=answer)
