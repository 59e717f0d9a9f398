"""``/ui/admin/service-accounts``: the tenant's service accounts and their API tokens, with the
API's permissions on the whole tenant — SERVICE_ACCOUNT:READ to see them, CREATE for an
account, UPDATE to create or revoke a token, DELETE for an account.

A new token's value is in the answer to the form that created it and in no other page: the
list shows each token's prefix only (the store keeps a hash of the rest). That answer is a page,
not a redirect, and is not cached (``Cache-Control: no-store``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch import identity
from perch.durations import parse_duration
from perch.errors import InvalidDuration, PerchError
from perch.permissions import Action, Resource
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

SA = Resource.SERVICE_ACCOUNT
_Field = Annotated[str, Form(max_length=1024)]

DONE = {
    "created": "The service account was created.",
    "deleted": "The service account and its tokens were deleted.",
    "revoked": "The token was revoked: it no longer works.",
}


def _view(store: Any, viewer: Viewer) -> dict[str, Any]:
    now = datetime.now(UTC)
    accounts = identity.list_service_accounts(store, viewer.tenant)
    return {
        "accounts": [(a, identity.list_api_tokens(store, a.id)) for a in accounts],
        "now": now,
        "may": {a.value.lower(): tenant_wide(viewer, SA, a) for a in Action},
    }


async def _render(request: Request, viewer: Viewer, status: int = 200, **extra: Any) -> Response:
    store = request.app.state.perch_ui.store
    view = await anyio.to_thread.run_sync(_view, store, viewer)
    extra.setdefault("sent", {"name": "", "description": ""})
    extra.setdefault("new_token", None)
    return admin_page(
        request,
        viewer,
        "admin_accounts.html",
        status_code=status,
        done_messages=DONE,
        **view,
        **extra,
    )


@router.get("/admin/service-accounts", response_class=HTMLResponse)
async def service_accounts(request: Request, viewer: ViewerDep) -> Response:
    if not tenant_wide(viewer, SA, Action.READ):
        return denied(request, viewer, denied_text(SA, Action.READ))
    return await _render(request, viewer)


@router.post("/admin/service-accounts", response_class=HTMLResponse)
async def create_account(
    request: Request, viewer: FormViewerDep, name: _Field = "", description: _Field = ""
) -> Response:
    if not tenant_wide(viewer, SA, Action.CREATE):
        return denied(request, viewer, denied_text(SA, Action.CREATE))
    store = request.app.state.perch_ui.store

    problem = await attempt(
        identity.create_service_account,
        store,
        viewer.tenant,
        name,
        description=description.strip() or None,
        principal=viewer.principal,
    )
    if problem is None:
        return RedirectResponse("/ui/admin/service-accounts?done=created", status_code=303)
    sent = {"name": name, "description": description}
    return await _render(request, viewer, 422, error=problem, sent=sent)


@router.post("/admin/service-accounts/{account_id}/delete", response_class=HTMLResponse)
async def delete_account(request: Request, account_id: str, viewer: FormViewerDep) -> Response:
    if not tenant_wide(viewer, SA, Action.DELETE):
        return denied(request, viewer, denied_text(SA, Action.DELETE))
    store = request.app.state.perch_ui.store

    problem = await attempt(
        identity.delete_service_account,
        store,
        account_id,
        tenant=viewer.tenant,
        principal=viewer.principal,
    )
    forget_cached_grants(request)
    if problem is None:
        return RedirectResponse("/ui/admin/service-accounts?done=deleted", status_code=303)
    return await _render(request, viewer, 422, error=problem)


@router.post("/admin/service-accounts/{account_id}/tokens", response_class=HTMLResponse)
async def create_token(  # noqa: PLR0917 - the form's fields
    request: Request,
    account_id: str,
    viewer: FormViewerDep,
    name: _Field = "",
    description: _Field = "",
    max_age: _Field = "",
) -> Response:
    """A new token, shown on the page this answers with and never again."""
    if not tenant_wide(viewer, SA, Action.UPDATE):
        return denied(request, viewer, denied_text(SA, Action.UPDATE))
    store = request.app.state.perch_ui.store

    def create() -> tuple[dict[str, str] | None, str | None]:
        try:
            age = parse_duration(max_age.strip()) if max_age.strip() else None
        except (InvalidDuration, ValueError):
            return None, f"'{max_age[:64]}' is not an ISO-8601 duration such as P30D"
        try:
            account = identity.get_service_account(store, account_id, tenant=viewer.tenant)
            token, raw = identity.create_api_token(
                store,
                account.id,
                name,
                max_age=age,
                description=description.strip() or None,
                principal=viewer.principal,
            )
        except PerchError as exc:
            return None, str(exc)
        return {"account": account.name, "name": token.name, "value": raw}, None

    created, problem = await anyio.to_thread.run_sync(create)
    if problem is not None:
        return await _render(request, viewer, 422, error=problem)
    return await _render(request, viewer, new_token=created)


@router.post(
    "/admin/service-accounts/{account_id}/tokens/{token_id}/revoke", response_class=HTMLResponse
)
async def revoke_token(
    request: Request, account_id: str, token_id: str, viewer: FormViewerDep
) -> Response:
    if not tenant_wide(viewer, SA, Action.UPDATE):
        return denied(request, viewer, denied_text(SA, Action.UPDATE))
    store = request.app.state.perch_ui.store

    def revoke() -> str | None:
        try:
            account = identity.get_service_account(store, account_id, tenant=viewer.tenant)
            identity.revoke_api_token(
                store, token_id, service_account_id=account.id, principal=viewer.principal
            )
        except PerchError as exc:
            return str(exc)
        return None

    problem = await anyio.to_thread.run_sync(revoke)
    if problem is None:
        return RedirectResponse("/ui/admin/service-accounts?done=revoked", status_code=303)
    return await _render(request, viewer, 422, error=problem)
