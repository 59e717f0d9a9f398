"""``/ui/login`` and ``/ui/logout``: signing in with a username (or e-mail) and a password."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch.errors import AccessError, TooManyAttempts
from perch.identity import check_password, has_superadmin
from perch.identity.sessions import end_session, start_session
from perch.ui.render import page
from perch.ui.session import COOKIE, StateDep, safe_next

router = APIRouter()

MAX_FIELD = 512


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep, next: str | None = None) -> Response:
    """The sign-in form (or, before an administrator exists, a pointer to the setup page)."""
    return page(
        request,
        "login.html",
        next=safe_next(next),
        setup=not has_superadmin(state.store),
        error=None,
        login="",
    )


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    state: StateDep,
    login: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    """Check the password (throttled like the API's sign-ins), start a session, and go where
    the person was going."""
    target = safe_next(next)
    address = _address(request)
    login = login.strip()
    try:
        state.throttle.check(login, address)
        user = await state.throttle.run_check_async(
            check_password, state.store, login, password, address=address
        )
    except TooManyAttempts as exc:
        return _refused(request, login, target, str(exc), 429)
    except AccessError:
        state.throttle.failed(login, address)
        return _refused(request, login, target, "Wrong username or password.", 401)
    state.throttle.succeeded(login)
    raw, _ = await anyio.to_thread.run_sync(
        lambda: start_session(
            state.store, user, address=address, user_agent=request.headers.get("user-agent")
        )
    )
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        COOKIE,
        raw,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
        path="/ui",
    )
    return answer


def _refused(request: Request, login: str, target: str, message: str, status: int) -> Response:
    return page(
        request,
        "login.html",
        status_code=status,
        next=target,
        setup=False,
        error=message,
        login=login,
    )


@router.post("/logout")
async def logout(request: Request, state: StateDep) -> Response:
    """End the session (a ``LOGOUT`` record) and forget the cookie."""
    raw = request.cookies.get(COOKIE)
    if raw:
        await anyio.to_thread.run_sync(
            lambda: end_session(state.store, raw, address=_address(request))
        )
    answer = RedirectResponse("/ui/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/ui")
    return answer
