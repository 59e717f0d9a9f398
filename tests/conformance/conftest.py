"""One real server per backend for the whole module: each conformance test deploys its own
flows (ids unique per test), so they need no fresh database each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import Api, open_test_store, start_api, stop_api


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    running = start_api(open_test_store(request.param, tmp_path_factory.mktemp("conformance")))
    yield running
    stop_api(running)
