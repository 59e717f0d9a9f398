"""Nothing answers without credentials but ``/health``, ``/ready``, ``/metrics`` (counts and
timings only), ``/api/v1/configs``, the setup page and Webhook triggers (whose key is the
credential).

Every route of the application is tried (the list comes from the app itself, so a route added
later is covered without touching this file), with no credentials, a wrong password and an
unknown token: each must answer 401 with Kestra's error body and a Basic challenge. The
OpenAPI document and the docs page need credentials too (the browser sends the docs page's
credentials on to the document; the fuzzer fetches it logged in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from tests.api.conftest import ADMIN, Api, open_test_store, start_api, stop_api

from perch.identity.throttle import LoginThrottle

PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/configs"),
    ("GET", "/setup"),
    ("POST", "/setup"),
}
# Swagger UI's own JavaScript and CSS: static files that say nothing about this server.
PUBLIC_MOUNTS = ("/api/v1/docs/assets",)
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _fill(path: str) -> str:
    return _PARAM.sub(lambda m: "main" if m[1] == "tenant" else f"x-{m[1]}", path)


def _web_page(path: str) -> bool:
    # The web UI signs in with a session cookie, not credentials per request: its pages answer
    # a redirect to /ui/login (tests/ui checks that), never an API 401.
    return path == "/" or path.startswith("/ui")


def _webhook(path: str) -> bool:
    # A Webhook trigger's key is its credential (tests/integrations/test_webhook_trigger.py:
    # a wrong key is 404, whoever calls).
    return "/executions/webhook/" in path


def routes(api: Api) -> list[tuple[str, str]]:
    """Every (method, concrete path) the app serves, path parameters filled in."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(api.server.app.routes):
        path = route.path
        assert path is not None
        if path.startswith(PUBLIC_MOUNTS) or _web_page(path) or _webhook(path):
            continue
        concrete = _fill(path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, concrete))
    return found


def protected(api: Api) -> list[tuple[str, str]]:
    return [route for route in routes(api) if route not in PUBLIC]


def assert_refused(response: httpx.Response, method: str, path: str) -> None:
    where = f"{method} {path}"
    assert response.status_code == 401, f"{where}: {response.status_code} {response.text[:200]}"
    assert response.headers["www-authenticate"].startswith("Basic"), where
    body = response.json()
    assert body["message"].startswith("Unauthorized"), where
    assert body["_links"]["self"]["href"] == path, where


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the whole module (the routes do not change between tests)."""
    running = start_api(open_test_store("sqlite", Path(tmp_path_factory.mktemp("unauth"))))
    # This module sends wrong passwords to every router on purpose: failed sign-ins are not
    # throttled here (tests/security/test_logins.py covers the throttle).
    running.server.app.state.perch.authenticator.throttle = LoginThrottle(
        per_account=10_000, per_address=10_000
    )
    yield running
    stop_api(running)


def test_every_route_is_listed(served: Api) -> None:
    """A guard on the guard: the route list covers the whole OpenAPI document."""
    listed = set(routes(served))
    document = served.client.get("/api/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        if _webhook(path):
            continue
        concrete = _fill(path)
        for method in operations:
            assert (method.upper(), concrete) in listed
    assert ("GET", "/api/v1/openapi.json") in listed
    assert ("GET", "/api/v1/docs") in listed
    assert len(listed) > 80


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer perch_unknown"}, id="unknown-token"),
        pytest.param({"Authorization": "Bearer"}, id="empty-token"),
        pytest.param({"Authorization": "Token abc"}, id="other-scheme"),
    ],
)
def test_every_route_needs_credentials(served: Api, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=served.url, timeout=30, headers=headers) as client:
        for method, path in protected(served):
            assert_refused(client.request(method, path), method, path)


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({"auth": (ADMIN[0], "wrong-password")}, id="wrong-password"),
        pytest.param({"auth": ("nobody", ADMIN[1])}, id="unknown-user"),
        pytest.param({"headers": {"Authorization": "Basic !!notbase64"}}, id="garbled-basic"),
    ],
)
def test_wrong_passwords_are_refused(served: Api, credentials: dict[str, Any]) -> None:
    """A password check costs an argon2 hash by design, so one route per router is tried."""
    sample: dict[str, tuple[str, str]] = {}
    for route in iter_route_contexts(served.server.app.routes):
        endpoint = route.endpoint
        path = route.path or ""
        if (
            endpoint is None
            or path.startswith("/api/v1/{tenant}")
            or _web_page(path)
            or _webhook(path)
        ):
            continue
        method = sorted(route.methods or {"GET"})[0]
        concrete = _fill(path)
        if (method, concrete) not in PUBLIC:
            sample.setdefault(endpoint.__module__, (method, concrete))
    assert len(sample) >= 8
    with httpx.Client(base_url=served.url, timeout=30, **credentials) as client:
        for method, path in sample.values():
            response = client.request(method, path)
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"
            assert response.headers["www-authenticate"].startswith("Basic")
            assert response.json()["message"]


def test_public_routes_answer_without_credentials(served: Api) -> None:
    with served.anonymous() as anonymous:
        assert anonymous.get("/health").json() == {"status": "UP"}
        configs = anonymous.get("/api/v1/configs")
        assert configs.status_code == 200
        assert configs.json()["isSetupRequired"] is False
        assert anonymous.get("/api/v1/docs/assets/swagger-ui.css").status_code == 200
    # With credentials the document is there (the fuzzer reads it so).
    assert served.client.get("/api/v1/openapi.json").status_code == 200


def test_before_setup_only_health_configs_and_setup_answer(tmp_path: Path) -> None:
    """No administrator yet: even a request with credentials gets 401, naming the setup."""
    api = start_api(open_test_store("sqlite", tmp_path), admin=False, setup_token="t0ken")
    try:
        with api.anonymous() as anonymous:
            assert anonymous.get("/health").status_code == 200
            assert anonymous.get("/api/v1/configs").json()["isSetupRequired"] is True
            assert anonymous.get("/setup", params={"token": "t0ken"}).status_code == 200
        for method, path in protected(api):
            response = api.client.request(method, path)
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"
    finally:
        stop_api(api)
