"""Interactive API documentation (Swagger UI) served from this machine.

FastAPI's default page loads Swagger UI from a CDN; Perch often runs where the internet is out
of reach (and should not tell a CDN who browses its docs), so the assets come from the
``swagger-ui-bundle`` package and are served here. The page needs credentials like every other
route: the browser asks for them (HTTP Basic) and sends them on to ``openapi.json``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from perch.api.auth import authenticated
from perch.engine.principal import Principal

DOCS_PATH = "/api/v1/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"


def _docs(request: Request, _: Annotated[Principal, Depends(authenticated)]) -> HTMLResponse:
    # Module level: a function made per app would be kept, with its app, by FastAPI's caches.
    return get_swagger_ui_html(
        openapi_url=request.app.state.perch_openapi_url,
        title="Perch API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
    )


def install_docs(app: FastAPI, openapi_url: str) -> None:
    """Serve Swagger UI at :data:`DOCS_PATH` with local assets."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="swagger-assets")
    app.state.perch_openapi_url = openapi_url
    router = APIRouter(include_in_schema=False)
    router.add_api_route(DOCS_PATH, _docs, methods=["GET"], response_class=HTMLResponse)
    app.include_router(router)
