"""The server builds every route before it serves: FastAPI otherwise builds an included router's
routes (dependencies, pydantic schemas) on its first request, on the event loop, and every
request waiting there (``/health`` included) waits for that quarter of a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import open_test_store

from perch.api import ApiSettings
from perch.api.app import prepare_routes
from perch.httpserver import HttpServer


def _lazy_routers(routes: Any) -> list[Any]:
    found = []
    for route in routes:
        if callable(getattr(route, "effective_candidates", None)):
            found.append(route)
            found.extend(_lazy_routers(route.effective_candidates()))
    return found


def test_a_started_server_has_built_every_route_before_its_first_request(tmp_path: Path) -> None:
    store = open_test_store("sqlite", tmp_path)
    server = HttpServer(store, port=0, settings=ApiSettings())  # as `perch server` makes it
    try:
        _check_prepared(server)
    finally:
        store.close()  # type: ignore[attr-defined]


def _check_prepared(server: HttpServer) -> None:
    app = server.app
    top = [r for r in app.router.routes if callable(getattr(r, "effective_candidates", None))]
    if not top:
        pytest.skip("this FastAPI builds its routes when they are mounted")
    # Not one request was made: what is built was built by the server's start.
    assert all(getattr(r, "_effective_candidates_version", None) is not None for r in top)
    assert app.middleware_stack is not None
    assert prepare_routes(app) == len(_lazy_routers(app.router.routes))
