"""``/ui/namespaces``: the namespaces holding flows, KV pairs or secrets, and one namespace's KV
pairs (with their values: they are not secret) and secrets (names and descriptions only — a
secret's value is written here and never shown, not even in the form sent back on an error).

Each part needs what the API's route needs on the namespace: KVSTORE:READ to list the pairs,
KVSTORE:UPDATE to set one, KVSTORE:DELETE to delete one; SECRET:READ, SECRET:UPDATE and
SECRET:DELETE for secrets. A part the viewer may not read is replaced by the permission it
needs; a namespace where they may read neither is a 403 page.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch.engine.access import scope
from perch.engine.kvtypes import KvType, parse_ttl
from perch.engine.service import kv, overview, secretstore
from perch.engine.service.kv import KvEntry
from perch.engine.service.secretstore import NAMESPACE_PATTERN
from perch.errors import KvError, SecretError
from perch.permissions import Action, Resource
from perch.ui.access import anywhere, attempt, denied, denied_text, on
from perch.ui.render import page
from perch.ui.session import FormViewerDep, Viewer, ViewerDep

router = APIRouter()

KV, SECRET = Resource.KVSTORE, Resource.SECRET
TYPES = tuple(t.value for t in KvType)
MAX_TEXT = 1_100_000
SHOWN_VALUE = 300
"""Characters of a KV value shown in the list (the rest behind "more")."""

DONE = {
    "kv-set": "The KV pair was saved.",
    "kv-deleted": "The KV pair was deleted.",
    "secret-set": "The secret was saved. Its value is not shown.",
    "secret-deleted": "The secret was deleted.",
}


def _url(namespace: str) -> str:
    return f"/ui/namespaces/{namespace}"


@router.get("/namespaces", response_class=HTMLResponse)
async def namespaces(request: Request, viewer: ViewerDep) -> Response:
    """Every namespace holding something the viewer may read: flows (FLOW:READ), KV pairs
    (KVSTORE:READ) or secrets (SECRET:READ)."""
    readable = [r for r in (Resource.FLOW, KV, SECRET) if anywhere(viewer, r, Action.READ)]
    if not readable:
        return denied(
            request,
            viewer,
            "Access denied: requires FLOW:READ, KVSTORE:READ or SECRET:READ on a namespace",
        )
    store = request.app.state.perch_ui.store

    def scopes(resource: Resource) -> tuple[str, ...] | None:
        return scope(viewer.principal, resource, Action.READ) if resource in readable else ()

    found = await anyio.to_thread.run_sync(
        lambda: overview.namespaces(
            store,
            viewer.tenant,
            flow_scope=scopes(Resource.FLOW),
            kv_scope=scopes(KV),
            secret_scope=scopes(SECRET),
        )
    )
    return page(
        request, "namespaces.html", viewer=viewer, section="namespaces", rows=found, error=None
    )


@router.get("/namespaces/open")
async def open_namespace(
    request: Request, viewer: ViewerDep, name: Annotated[str, Query(max_length=255)] = ""
) -> Response:
    """The form "Open a namespace": its page, even when it holds nothing yet."""
    name = name.strip()
    if NAMESPACE_PATTERN.match(name):
        return RedirectResponse(_url(name), status_code=303)
    return page(
        request,
        "namespaces.html",
        status_code=422,
        viewer=viewer,
        section="namespaces",
        rows=[],
        error=f"'{name}' is not a namespace: use lower-case letters, digits, '.', '_' and '-'.",
    )


def _view(store: Any, viewer: Viewer, namespace: str) -> dict[str, Any]:
    may = {
        f"{r.value.lower()}_{a.value.lower()}": on(viewer, r, a, namespace)
        for r in (KV, SECRET)
        for a in (Action.READ, Action.UPDATE, Action.DELETE)
    }
    entries = overview.kv_values(store, viewer.tenant, namespace) if may["kvstore_read"] else []
    secrets = (
        secretstore.list_secrets(store, viewer.tenant, namespace) if may["secret_read"] else []
    )
    return {
        "namespace": namespace,
        "may": may,
        "entries": [(e, _shown(e)) for e in entries],
        "secrets": secrets,
        "kv_refused": denied_text(KV, Action.READ, namespace),
        "secret_refused": denied_text(SECRET, Action.READ, namespace),
        "types": TYPES,
    }


def _shown(entry: KvEntry) -> tuple[str, bool]:
    """The value as people read it — a text as itself, anything else as JSON — cut short."""
    value = entry.value
    text = value if isinstance(value, str) else (entry.value_json or "")
    return (text[:SHOWN_VALUE], len(text) > SHOWN_VALUE)


def _blank_forms() -> dict[str, Any]:
    return {
        "kv_form": {"key": "", "type": "STRING", "value": "", "ttl": "", "description": ""},
        "secret_form": {"key": "", "description": ""},
        "kv_error": None,
        "secret_error": None,
    }


async def _render(
    request: Request, viewer: Viewer, namespace: str, status: int = 200, **forms: Any
) -> Response:
    if not NAMESPACE_PATTERN.match(namespace):
        message = f"No namespace '{namespace}'"
        return page(request, "error.html", status_code=404, viewer=viewer, message=message)
    if not (on(viewer, KV, Action.READ, namespace) or on(viewer, SECRET, Action.READ, namespace)):
        message = f"Access denied: requires KVSTORE:READ or SECRET:READ on namespace {namespace}"
        return denied(request, viewer, message)
    store = request.app.state.perch_ui.store
    view = await anyio.to_thread.run_sync(_view, store, viewer, namespace)
    notice = DONE.get(request.query_params.get("done", ""))
    context = {**_blank_forms(), **forms}
    return page(
        request,
        "namespace.html",
        status_code=status,
        viewer=viewer,
        section="namespaces",
        notice=notice,
        **view,
        **context,
    )


@router.get("/namespaces/{namespace}", response_class=HTMLResponse)
async def namespace_page(request: Request, namespace: str, viewer: ViewerDep) -> Response:
    return await _render(request, viewer, namespace)


_Text = Annotated[str, Form(max_length=MAX_TEXT)]
_Short = Annotated[str, Form(max_length=1024)]


@router.post("/namespaces/{namespace}/kv", response_class=HTMLResponse)
async def set_kv(  # noqa: PLR0917 - the form's fields
    request: Request,
    namespace: str,
    viewer: FormViewerDep,
    key: _Short = "",
    type: _Short = "STRING",
    value: _Text = "",
    ttl: _Short = "",
    description: _Short = "",
) -> Response:
    """Create or replace a pair: the value read as its type, an optional ISO-8601 TTL."""
    if not on(viewer, KV, Action.UPDATE, namespace):
        return denied(request, viewer, denied_text(KV, Action.UPDATE, namespace))
    store = request.app.state.perch_ui.store
    key, ttl = key.strip(), ttl.strip()

    def save() -> str | None:
        try:
            kv.put_value(
                store,
                viewer.tenant,
                namespace,
                key,
                value,
                kv_type=type,
                ttl=parse_ttl(ttl or None),
                description=description.strip() or None,
                principal=viewer.principal,
            )
        except (KvError, SecretError) as exc:
            return str(exc)
        return None

    problem = await anyio.to_thread.run_sync(save)
    if problem is None:
        return RedirectResponse(f"{_url(namespace)}?done=kv-set", status_code=303)
    sent = {"key": key, "type": type, "value": value, "ttl": ttl, "description": description}
    return await _render(request, viewer, namespace, 422, kv_form=sent, kv_error=problem)


@router.post("/namespaces/{namespace}/kv/delete", response_class=HTMLResponse)
async def delete_kv(
    request: Request, namespace: str, viewer: FormViewerDep, key: _Short = ""
) -> Response:
    if not on(viewer, KV, Action.DELETE, namespace):
        return denied(request, viewer, denied_text(KV, Action.DELETE, namespace))
    store = request.app.state.perch_ui.store

    problem = await attempt(
        kv.delete_key, store, viewer.tenant, namespace, key, principal=viewer.principal
    )
    if problem is None:
        return RedirectResponse(f"{_url(namespace)}?done=kv-deleted", status_code=303)
    return await _render(request, viewer, namespace, 422, kv_error=problem)


@router.post("/namespaces/{namespace}/secrets", response_class=HTMLResponse)
async def set_secret(  # noqa: PLR0917 - the form's fields
    request: Request,
    namespace: str,
    viewer: FormViewerDep,
    key: _Short = "",
    value: _Text = "",
    description: _Short = "",
) -> Response:
    """Create or replace a secret. On an error the form comes back with its key and
    description, never the value."""
    if not on(viewer, SECRET, Action.UPDATE, namespace):
        return denied(request, viewer, denied_text(SECRET, Action.UPDATE, namespace))
    store = request.app.state.perch_ui.store
    key = key.strip()

    def save() -> str | None:
        if not value:
            return "Give the secret a value."
        try:
            secretstore.set_secret(
                store,
                viewer.tenant,
                namespace,
                key,
                value,
                description=description.strip() or None,
                principal=viewer.principal,
            )
        except SecretError as exc:
            return str(exc)
        return None

    problem = await anyio.to_thread.run_sync(save)
    if problem is None:
        return RedirectResponse(f"{_url(namespace)}?done=secret-set", status_code=303)
    sent = {"key": key, "description": description}
    return await _render(request, viewer, namespace, 422, secret_form=sent, secret_error=problem)


@router.post("/namespaces/{namespace}/secrets/delete", response_class=HTMLResponse)
async def delete_secret(
    request: Request, namespace: str, viewer: FormViewerDep, key: _Short = ""
) -> Response:
    if not on(viewer, SECRET, Action.DELETE, namespace):
        return denied(request, viewer, denied_text(SECRET, Action.DELETE, namespace))
    store = request.app.state.perch_ui.store

    problem = await attempt(
        secretstore.delete_secret, store, viewer.tenant, namespace, key, principal=viewer.principal
    )
    if problem is None:
        return RedirectResponse(f"{_url(namespace)}?done=secret-deleted", status_code=303)
    return await _render(request, viewer, namespace, 422, secret_error=problem)
