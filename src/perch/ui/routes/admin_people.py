"""``/ui/admin``: the Administration menu; ``/ui/admin/users`` (superadmins only, as the API's
instance-level user routes) and ``/ui/admin/groups`` (GROUP permissions on the whole tenant:
READ to see them and their members, CREATE, UPDATE for members, DELETE).

A change is done with a form post and answered with a redirect to the list carrying a fixed
``?done=`` message; a refused change shows the list again with why. Passwords typed here are
never sent back in a page.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch import identity
from perch.permissions import Action, Resource
from perch.ui.access import (
    admin_page,
    attempt,
    denied,
    denied_text,
    forget_cached_grants,
    sections,
    superadmin,
    tenant_wide,
)
from perch.ui.session import FormViewerDep, Viewer, ViewerDep

router = APIRouter()

PAGE_SIZE = 25
_Field = Annotated[str, Form(max_length=1024)]
_Search = Annotated[str, Query(max_length=255)]
_Page = Annotated[int, Query(alias="page", ge=1, le=100_000)]

USER_DONE = {
    "created": "The user was created.",
    "disabled": "The user was disabled: their sessions have ended.",
    "enabled": "The user was enabled.",
    "password": "The password was changed: the user's sessions have ended.",
    "deleted": "The user was deleted.",
}
GROUP_DONE = {
    "created": "The group was created.",
    "added": "The member was added.",
    "removed": "The member was removed.",
    "deleted": "The group was deleted.",
}
USERS_DENIED = "Access denied: only a superadmin may manage users"


@router.get("/admin", response_class=HTMLResponse)
async def admin(request: Request, viewer: ViewerDep) -> Response:
    """The first Administration page open to the viewer."""
    open_to = sections(viewer)
    if not open_to:
        return denied(request, viewer, "Access denied: no Administration page is open to you")
    return RedirectResponse(open_to[0].path, status_code=303)


# --- users ---------------------------------------------------------------------------------


def _users_view(store: Any, q: str, page_number: int) -> dict[str, Any]:
    found, total = identity.search_users(store, q or None, page=page_number, size=PAGE_SIZE)
    return {
        "users": found,
        "total": total,
        "q": q,
        "page_number": page_number,
        "pages": max(1, -(-total // PAGE_SIZE)),
    }


async def _users(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    q: str = "",
    page_number: int = 1,
    **form: Any,
) -> Response:
    store = request.app.state.perch_ui.store
    view = await anyio.to_thread.run_sync(_users_view, store, q, page_number)
    form.setdefault("sent", {"username": "", "email": "", "display_name": ""})
    return admin_page(
        request,
        viewer,
        "admin_users.html",
        status_code=status,
        done_messages=USER_DONE,
        **view,
        **form,
    )


async def _may_manage_users(request: Request, viewer: Viewer) -> bool:
    store = request.app.state.perch_ui.store
    return superadmin(viewer) and await anyio.to_thread.run_sync(
        identity.is_superadmin, store, viewer.principal
    )


@router.get("/admin/users", response_class=HTMLResponse)
async def users(
    request: Request, viewer: ViewerDep, q: _Search = "", page_number: _Page = 1
) -> Response:
    if not await _may_manage_users(request, viewer):
        return denied(request, viewer, USERS_DENIED)
    return await _users(request, viewer, q=q.strip(), page_number=page_number)


@router.post("/admin/users", response_class=HTMLResponse)
async def create_user(  # noqa: PLR0917 - the form's fields
    request: Request,
    viewer: FormViewerDep,
    username: _Field = "",
    password: _Field = "",
    email: _Field = "",
    display_name: _Field = "",
    superadmin_flag: Annotated[str | None, Form(alias="superadmin")] = None,
) -> Response:
    if not await _may_manage_users(request, viewer):
        return denied(request, viewer, USERS_DENIED)
    store = request.app.state.perch_ui.store

    problem = await attempt(
        identity.create_user,
        store,
        username,
        password,
        email=email.strip() or None,
        display_name=display_name.strip() or None,
        superadmin=bool(superadmin_flag),
        principal=viewer.principal,
    )
    if problem is None:
        return RedirectResponse("/ui/admin/users?done=created", status_code=303)
    sent = {"username": username, "email": email, "display_name": display_name}
    return await _users(request, viewer, 422, error=problem, sent=sent)


async def _change_user(
    request: Request, viewer: Viewer, user_id: str, changes: identity.UserChanges, done: str
) -> Response:
    if not await _may_manage_users(request, viewer):
        return denied(request, viewer, USERS_DENIED)
    store = request.app.state.perch_ui.store

    problem = await attempt(
        identity.update_user, store, user_id, changes, principal=viewer.principal
    )
    forget_cached_grants(request)
    if problem is None:
        return RedirectResponse(f"/ui/admin/users?done={done}", status_code=303)
    return await _users(request, viewer, 422, error=problem)


@router.post("/admin/users/{user_id}/disable", response_class=HTMLResponse)
async def disable_user(request: Request, user_id: str, viewer: FormViewerDep) -> Response:
    changes = identity.UserChanges(disabled=True)
    return await _change_user(request, viewer, user_id, changes, "disabled")


@router.post("/admin/users/{user_id}/enable", response_class=HTMLResponse)
async def enable_user(request: Request, user_id: str, viewer: FormViewerDep) -> Response:
    changes = identity.UserChanges(disabled=False)
    return await _change_user(request, viewer, user_id, changes, "enabled")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
async def reset_password(
    request: Request, user_id: str, viewer: FormViewerDep, password: _Field = ""
) -> Response:
    changes = identity.UserChanges(password=password)
    return await _change_user(request, viewer, user_id, changes, "password")


@router.post("/admin/users/{user_id}/delete", response_class=HTMLResponse)
async def delete_user(request: Request, user_id: str, viewer: FormViewerDep) -> Response:
    if not await _may_manage_users(request, viewer):
        return denied(request, viewer, USERS_DENIED)
    store = request.app.state.perch_ui.store

    problem = await attempt(identity.delete_user, store, user_id, principal=viewer.principal)
    forget_cached_grants(request)
    if problem is None:
        return RedirectResponse("/ui/admin/users?done=deleted", status_code=303)
    return await _users(request, viewer, 422, error=problem)


# --- groups --------------------------------------------------------------------------------

G = Resource.GROUP


def _groups_view(store: Any, viewer: Viewer, q: str, page_number: int) -> dict[str, Any]:
    found, total = identity.search_groups(
        store, viewer.tenant, q or None, page=page_number, size=PAGE_SIZE
    )
    return {
        "groups": [(g, identity.group_members(store, g.id, tenant=viewer.tenant)) for g in found],
        "total": total,
        "q": q,
        "page_number": page_number,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "may": {a.value.lower(): tenant_wide(viewer, G, a) for a in Action},
    }


async def _groups(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    q: str = "",
    page_number: int = 1,
    **form: Any,
) -> Response:
    store = request.app.state.perch_ui.store
    view = await anyio.to_thread.run_sync(_groups_view, store, viewer, q, page_number)
    form.setdefault("sent", {"name": "", "description": ""})
    return admin_page(
        request,
        viewer,
        "admin_groups.html",
        status_code=status,
        done_messages=GROUP_DONE,
        **view,
        **form,
    )


@router.get("/admin/groups", response_class=HTMLResponse)
async def groups(
    request: Request, viewer: ViewerDep, q: _Search = "", page_number: _Page = 1
) -> Response:
    if not tenant_wide(viewer, G, Action.READ):
        return denied(request, viewer, denied_text(G, Action.READ))
    return await _groups(request, viewer, q=q.strip(), page_number=page_number)


async def _group_change(
    request: Request, viewer: Viewer, action: Action, done: str, change: Any
) -> Response:
    """Run ``change()`` when the viewer holds GROUP:``action`` on the tenant."""
    if not tenant_wide(viewer, G, action):
        return denied(request, viewer, denied_text(G, action))

    problem = await attempt(change)
    forget_cached_grants(request)
    if problem is None:
        return RedirectResponse(f"/ui/admin/groups?done={done}", status_code=303)
    return await _groups(request, viewer, 422, error=problem)


@router.post("/admin/groups", response_class=HTMLResponse)
async def create_group(
    request: Request, viewer: FormViewerDep, name: _Field = "", description: _Field = ""
) -> Response:
    if not tenant_wide(viewer, G, Action.CREATE):
        return denied(request, viewer, denied_text(G, Action.CREATE))
    store = request.app.state.perch_ui.store

    problem = await attempt(
        identity.create_group,
        store,
        viewer.tenant,
        name,
        description=description.strip() or None,
        principal=viewer.principal,
    )
    if problem is None:
        return RedirectResponse("/ui/admin/groups?done=created", status_code=303)
    sent = {"name": name, "description": description}
    return await _groups(request, viewer, 422, error=problem, sent=sent)


@router.post("/admin/groups/{group_id}/members", response_class=HTMLResponse)
async def add_member(
    request: Request, group_id: str, viewer: FormViewerDep, user: _Field = ""
) -> Response:
    """Add a user by username, e-mail or id."""
    store = request.app.state.perch_ui.store
    return await _group_change(
        request,
        viewer,
        Action.UPDATE,
        "added",
        lambda: identity.set_membership(
            store, group_id, user.strip(), True, tenant=viewer.tenant, principal=viewer.principal
        ),
    )


@router.post("/admin/groups/{group_id}/members/remove", response_class=HTMLResponse)
async def remove_member(
    request: Request, group_id: str, viewer: FormViewerDep, user: _Field = ""
) -> Response:
    store = request.app.state.perch_ui.store
    return await _group_change(
        request,
        viewer,
        Action.UPDATE,
        "removed",
        lambda: identity.set_membership(
            store, group_id, user, False, tenant=viewer.tenant, principal=viewer.principal
        ),
    )


@router.post("/admin/groups/{group_id}/delete", response_class=HTMLResponse)
async def delete_group(request: Request, group_id: str, viewer: FormViewerDep) -> Response:
    store = request.app.state.perch_ui.store
    return await _group_change(
        request,
        viewer,
        Action.DELETE,
        "deleted",
        lambda: identity.delete_group(
            store, group_id, tenant=viewer.tenant, principal=viewer.principal
        ),
    )
