"""Mounting the web UI on the application the REST API runs in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from perch.engine.ports import Store
from perch.identity.throttle import LoginThrottle
from perch.ui.render import page
from perch.ui.session import ExpiredForm, SignInRequired, UiState, login_url

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class UiSettings:
    """``public_url`` is where people reach Perch (links in pages); ``secure_cookies`` marks
    the session cookie Secure (on when ``public_url`` is https)."""

    public_url: str | None = None

    @property
    def secure_cookies(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))


def install_ui(
    app: FastAPI, store: Store, throttle: LoginThrottle, settings: UiSettings | None = None
) -> None:
    """Serve the pages under ``/ui`` (and ``/`` redirects there), sharing ``throttle`` with the
    API's sign-ins so that tries through either count together."""
    from perch.ui.routes import ROUTERS

    settings = settings or UiSettings()
    app.state.perch_ui = UiState(store, throttle, settings.secure_cookies)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for router in ROUTERS:
        app.include_router(router, prefix="/ui", include_in_schema=False)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/approvals", status_code=303)

    @app.exception_handler(SignInRequired)
    def sign_in(request: Request, exc: SignInRequired) -> Response:
        del exc
        return RedirectResponse(login_url(request), status_code=303)

    @app.exception_handler(ExpiredForm)
    def expired(request: Request, exc: ExpiredForm) -> Response:
        return page(request, "error.html", status_code=403, message=str(exc))
