"""The one-time setup page: creating the first administrator.

When Perch starts without an administrator (and without ``PERCH_ADMIN_USERNAME`` and
``PERCH_ADMIN_PASSWORD``), the server prints a link with a random token. ``GET /setup`` shows a
form; ``POST /setup`` (the form, or JSON) with that token creates a superadmin, after which the
token stops working and the API accepts that user's credentials. These routes need no
credentials and are left out of the API document: they are a page for a person, used once.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from perch.api.auth import Authenticator
from perch.api.errors import status_of
from perch.api.shapes import OmitUnsetRoute
from perch.errors import IdentityError, InvalidRequest, PerchError

router = APIRouter(include_in_schema=False, route_class=OmitUnsetRoute)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set up Perch</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 26rem; margin: 4rem auto;
       padding: 0 1rem; }}
label {{ display: block; margin-top: 1rem; }}
input {{ width: 100%; padding: .4rem; font: inherit; box-sizing: border-box; }}
button {{ margin-top: 1.5rem; padding: .5rem 1.2rem; font: inherit; }}
.error {{ color: #a00; }}
</style></head>
<body><h1>Set up Perch</h1>
{body}
</body></html>
"""

_FORM = """<p>Create the administrator. You will sign in to the API and the web interface with
this username (or e-mail) and password.</p>
{error}
<form method="post" action="setup">
<input type="hidden" name="token" value="{token}">
<label>Username <input name="username" required autocomplete="username" value="{username}">
</label>
<label>E-mail (optional) <input name="email" type="email" autocomplete="email" value="{email}">
</label>
<label>Password (8 characters or more)
<input name="password" type="password" required minlength="8" autocomplete="new-password">
</label>
<label>Password again
<input name="confirm" type="password" required minlength="8" autocomplete="new-password">
</label>
<button type="submit">Create the administrator</button>
</form>
"""


def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.perch.authenticator
    return authenticator


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=status)


def _form(fields: dict[str, str], error: str | None = None, status: int = 200) -> HTMLResponse:
    shown = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return _page(
        _FORM.format(
            error=shown,
            token=html.escape(fields.get("token", ""), quote=True),
            username=html.escape(fields.get("username", ""), quote=True),
            email=html.escape(fields.get("email", ""), quote=True),
        ),
        status,
    )


_DONE = "<p>Perch already has an administrator. Sign in with its username and password.</p>"


@router.get("/setup")
def setup_page(request: Request, token: str = "") -> HTMLResponse:
    """The form that creates the first administrator."""
    if _authenticator(request).ready():
        return _page(_DONE, 409)
    return _form({"token": token})


async def _fields(request: Request) -> tuple[dict[str, str], bool]:
    """The submitted fields, and whether they came as JSON."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data: Any = await request.json()
        except ValueError as exc:
            raise InvalidRequest("the body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise InvalidRequest("the body must be a JSON object")
        return {k: v for k, v in data.items() if isinstance(v, str)}, True
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}, False


@router.post("/setup")
async def setup(request: Request) -> Response:
    """Create the first administrator: fields ``token``, ``username``, ``password`` and
    optionally ``email`` (and ``confirm``, the password typed again, from the form)."""
    fields, as_json = await _fields(request)
    authenticator = _authenticator(request)
    try:
        if "confirm" in fields and fields["confirm"] != fields.get("password"):
            raise IdentityError("the two passwords differ")
        principal = await run_in_threadpool(
            authenticator.create_admin,
            fields.get("token", ""),
            fields.get("username", ""),
            fields.get("password", ""),
            fields.get("email") or None,
        )
    except PerchError as exc:
        if as_json:
            raise
        status, _ = status_of(exc)
        if authenticator.ready():
            return _page(_DONE, status)
        return _form(fields, exc.message, status)
    if as_json:
        return JSONResponse({"username": principal.name, "kind": principal.kind.value}, 201)
    name = html.escape(principal.name)
    return _page(
        f"<p>Perch is set up. Sign in as <strong>{name}</strong>.</p>"
        '<p>The API is at <a href="api/v1/docs">/api/v1</a>.</p>',
        201,
    )
