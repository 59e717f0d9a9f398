"""HTTP edges common to every route: the Allow header of a 405, NUL characters."""

from __future__ import annotations

import pytest
from tests.api.conftest import Api

FLOW = """
id: hello
namespace: perch.edges
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def test_a_405_lists_every_method_of_the_path(sqlite_api: Api) -> None:
    sqlite_api.deploy(FLOW)
    response = sqlite_api.client.request("PATCH", "/api/v1/flows/perch.edges/hello")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "PUT", "DELETE"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/executions/abc%00def",
        "/api/v1/flows/perch%00edges/hello",
        "/api/v1/executions/search?q=a%00b",
        "/api/v1/logs/x%00y",
    ],
)
def test_a_nul_character_is_refused_with_422(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["message"]
