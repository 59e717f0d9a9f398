"""Who is looking at a page: the session cookie, the CSRF check of forms, the grants.

A page of someone not signed in redirects to the login page with ``next`` set to the page they
asked for, so the link in a Slack message leads to its execution after the login. ``next`` is
only ever a path under ``/ui/`` of this server.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import quote, urlsplit

import anyio.to_thread
from fastapi import Depends, Form, Request

from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.errors import PerchError, Unauthenticated
from perch.identity.roles import grants_of
from perch.identity.sessions import SignedIn, csrf_matches, find_session
from perch.identity.throttle import LoginThrottle

COOKIE = "perch_session"


class SignInRequired(PerchError):
    """The page needs a signed-in user (answered with a redirect to the login page)."""


class ExpiredForm(PerchError):
    """A form came without its session's CSRF token (answered 403 with a page saying so)."""


@dataclass(frozen=True, slots=True)
class UiState:
    """Held by the application (``app.state.perch_ui``)."""

    store: Store
    throttle: LoginThrottle
    secure_cookies: bool


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a request, with their grants in the tenant shown."""

    signed_in: SignedIn
    principal: Principal
    tenant: str

    @property
    def csrf(self) -> str:
        return self.signed_in.session.csrf

    @property
    def username(self) -> str:
        return self.signed_in.user.username

    @property
    def label(self) -> str:
        user = self.signed_in.user
        return user.display_name or user.username

    @property
    def administers(self) -> bool:
        """Whether any Administration page is open to them (the menu's link)."""
        from perch.ui.access import administers

        return administers(self)


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.perch_ui
    return state


def safe_next(target: str | None) -> str:
    """``target`` when it is a path of this UI, else the inbox (never another site)."""
    if not target:
        return "/ui/approvals"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/") or "\\" in target:
        return "/ui/approvals"
    if parts.path.startswith(("/ui/login", "/ui/logout", "/ui/static/")):
        return "/ui/approvals"
    return target


def login_url(request: Request) -> str:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/ui/login?next={quote(safe_next(wanted), safe='')}"


def _signed_in(store: Store, raw: str) -> Viewer:
    found = find_session(store, raw)
    principal = found.principal
    grants = grants_of(store, principal, DEFAULT_TENANT)
    return Viewer(found, replace(principal, grants=grants), DEFAULT_TENANT)


async def viewer(request: Request) -> Viewer:
    """The signed-in user; :class:`SignInRequired` (a redirect to the login page) otherwise."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignInRequired("sign in first")
    try:
        return await anyio.to_thread.run_sync(_signed_in, ui_state(request).store, raw)
    except Unauthenticated as exc:
        raise SignInRequired(str(exc)) from exc


async def form_viewer(request: Request, csrf: Annotated[str | None, Form()] = None) -> Viewer:
    """:func:`viewer` for a form post, which must carry the session's CSRF token."""
    found = await viewer(request)
    if not csrf_matches(found.signed_in, csrf):
        raise ExpiredForm("This form has expired: reload the page and try again.")
    return found


ViewerDep = Annotated[Viewer, Depends(viewer)]
FormViewerDep = Annotated[Viewer, Depends(form_viewer)]
StateDep = Annotated[UiState, Depends(ui_state)]
