"""Which pages of Namespaces and Administration a viewer may use, with the permission each
needs — the same one the matching API route needs (``perch.api.permissions.ROUTE_RULES``) —
and the 403 page naming the permission that is missing.

Users are instance-level, as in the API: only a superadmin manages them. Groups, service
accounts, roles and bindings need their permission on the whole tenant; the audit trail needs
AUDITLOG:READ somewhere (and shows only the namespaces it covers); KV pairs and secrets need
theirs on the namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import Request
from fastapi.responses import HTMLResponse

from perch.errors import PerchError
from perch.permissions import Action, Grants, Resource, missing
from perch.ui.render import page

if TYPE_CHECKING:
    from perch.ui.session import Viewer


def _grants(viewer: Viewer) -> Grants | None:
    return viewer.principal.grants


def superadmin(viewer: Viewer) -> bool:
    """A superadmin user (the session's user is read fresh on every request)."""
    user = viewer.signed_in.user
    return user.superadmin and not user.disabled


def tenant_wide(viewer: Viewer, resource: Resource, action: Action) -> bool:
    grants = _grants(viewer)
    return grants is not None and grants.tenant_wide(resource, action)


def anywhere(viewer: Viewer, resource: Resource, action: Action) -> bool:
    grants = _grants(viewer)
    return grants is not None and grants.anywhere(resource, action)


def on(viewer: Viewer, resource: Resource, action: Action, namespace: str) -> bool:
    grants = _grants(viewer)
    return grants is not None and grants.allows(resource, action, namespace)


@dataclass(frozen=True, slots=True)
class Section:
    path: str
    label: str
    opens: Callable[[Viewer], bool]


def _roles_page(viewer: Viewer) -> bool:
    return tenant_wide(viewer, Resource.ROLE, Action.READ) or tenant_wide(
        viewer, Resource.BINDING, Action.READ
    )


SECTIONS = (
    Section("/ui/admin/users", "Users", superadmin),
    Section("/ui/admin/groups", "Groups", lambda v: tenant_wide(v, Resource.GROUP, Action.READ)),
    Section(
        "/ui/admin/service-accounts",
        "Service accounts",
        lambda v: tenant_wide(v, Resource.SERVICE_ACCOUNT, Action.READ),
    ),
    Section("/ui/admin/roles", "Roles and bindings", _roles_page),
    Section("/ui/admin/audit", "Audit log", lambda v: anywhere(v, Resource.AUDITLOG, Action.READ)),
)


def sections(viewer: Viewer) -> list[Section]:
    """The Administration pages open to ``viewer``."""
    return [s for s in SECTIONS if s.opens(viewer)]


def administers(viewer: Viewer) -> bool:
    """Whether any Administration page is open to ``viewer`` (the link in the menu)."""
    return any(s.opens(viewer) for s in SECTIONS)


def denied_text(resource: Resource, action: Action, namespace: str | None = None) -> str:
    return f"Access denied: {missing(resource, action, namespace)}"


def denied(request: Request, viewer: Viewer, message: str, **context: Any) -> HTMLResponse:
    """The 403 page saying what is missing."""
    return page(request, "denied.html", status_code=403, viewer=viewer, message=message, **context)


def forget_cached_grants(request: Request) -> None:
    """After a change to users, groups, roles or bindings: the API application this UI is
    mounted in remembers credentials and grants briefly; have it forget them now, as its own
    routes do (looked up by name: the UI does not import the API)."""
    held = getattr(request.app.state, "perch", None)
    for name in ("grants", "authenticator"):
        forget = getattr(getattr(held, name, None), "forget", None)
        if callable(forget):
            forget()


def admin_page(
    request: Request, viewer: Viewer, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """An Administration page, with the menu of the sections open to the viewer and the notice
    of the action just done (``?done=`` names one of the page's fixed messages)."""
    done: dict[str, str] = context.pop("done_messages", {})
    context.setdefault("notice", done.get(request.query_params.get("done", "")))
    context.setdefault("error", None)
    return page(
        request,
        template,
        status_code=status_code,
        viewer=viewer,
        section="admin",
        admin_sections=sections(viewer),
        here=request.url.path,
        **context,
    )


async def attempt(call: Callable[..., object], *args: Any, **kwargs: Any) -> str | None:
    """Run ``call(*args, **kwargs)`` (a service call) off the event loop; the text of its
    refusal (a :class:`perch.errors.PerchError`), or None when it went through."""

    def run() -> str | None:
        try:
            call(*args, **kwargs)
        except PerchError as exc:
            return str(exc)
        return None

    return await anyio.to_thread.run_sync(run)
