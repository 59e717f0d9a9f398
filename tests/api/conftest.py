"""The real API over real HTTP: uvicorn on a loopback port, the engine's loops running beside it,
a real database (SQLite, and PostgreSQL for tests marked or parametrised so).

``api`` is a fresh server per test with an administrator ``admin``/``admin-password-1``;
``api.client`` is an ``httpx.Client`` logged in as that administrator with HTTP Basic.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from perch.api import ApiSettings
from perch.engine.ports import Store
from perch.httpserver import HttpServer
from perch.server import LocalRuntime

ADMIN = ("admin", "admin-password-1")


def open_test_store(kind: str, tmp_path: Path) -> Store:
    from perch.store import open_store

    if kind == "sqlite":
        return open_store(None, data_dir=tmp_path / "data")
    url = os.environ["PERCH_TEST_POSTGRES_URL"]
    return open_store(url, schema=f"api_{uuid.uuid4().hex[:12]}")


@dataclass
class Api:
    """A running API: its base URL, an authenticated client, the store behind it."""

    url: str
    client: httpx.Client
    store: Store
    server: HttpServer

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def as_token(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )

    def add_tenant(self, *tenants: str) -> None:
        """Create tenants: until a second one exists, any tenant in a path means ``main``."""
        for tenant in tenants:
            response = self.client.post("/api/v1/tenants", json={"id": tenant})
            assert response.status_code == 200, response.text

    def deploy(self, source: str, tenant: str | None = None) -> dict[str, Any]:
        """Create or update a flow from YAML through the API."""
        prefix = f"/api/v1/{tenant}" if tenant else "/api/v1"
        response = self.client.post(
            f"{prefix}/flows", content=source, headers={"Content-Type": "application/x-yaml"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(
        self,
        execution_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 15.0,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """Poll GET /executions/{id} until ``predicate`` holds (tests only)."""
        prefix = f"/api/v1/{tenant}" if tenant else "/api/v1"
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get(f"{prefix}/executions/{execution_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if predicate(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; execution is {body['state']['current']}")
            time.sleep(0.02)


def state_is(*states: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body["state"]["current"] in states


def start_api(
    store: Store,
    *,
    admin: bool = True,
    setup_token: str | None = None,
    linked: bool = True,
    settings: ApiSettings | None = None,
) -> Api:
    """An API server on ``store`` with the engine's loops; ``linked=False`` leaves appLink()
    without an address (as an embedding that wires none); ``settings`` replace the defaults
    (``setup_token`` then goes unused)."""
    from perch.identity import create_user

    if admin:
        create_user(store, ADMIN[0], ADMIN[1], superadmin=True)
    address: dict[str, str] = {}
    # appLink() links to the API's own address, as `perch server local` wires it.
    runtime = LocalRuntime(
        store, workers=2, public_url=(lambda: address.get("url")) if linked else None
    )
    runtime.start()
    # Routes built on first use: a server per test need not pay for all of them.
    settings = settings or ApiSettings(setup_token=setup_token)
    server = HttpServer(store, port=0, settings=settings, prepare=False)
    server.start()
    url = address["url"] = f"http://127.0.0.1:{server.port}"
    client = httpx.Client(base_url=url, auth=ADMIN, timeout=30)
    api = Api(url=url, client=client, store=store, server=server)
    api._runtime = runtime  # type: ignore[attr-defined]
    return api


def stop_api(api: Api) -> None:
    api.client.close()
    api.server.stop()
    api._runtime.stop()  # type: ignore[attr-defined]
    api.store.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def api(backend: str, tmp_path: Path) -> Iterator[Api]:
    """A fresh API server on each backend, with an administrator."""
    running = start_api(open_test_store(backend, tmp_path))
    yield running
    stop_api(running)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """A fresh API server on SQLite only (for tests where the backend does not matter)."""
    running = start_api(open_test_store("sqlite", tmp_path))
    yield running
    stop_api(running)
