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


@pytest.mark.parametrize("header", ["Basic !!notbase64", "Basic Zm9v", "Basic"])
def test_malformed_basic_credentials_get_the_usual_401(sqlite_api: Api, header: str) -> None:
    with sqlite_api.anonymous() as anonymous:
        response = anonymous.get("/api/v1/flows/search", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["message"].startswith("Unauthorized:")
    assert response.headers["www-authenticate"].startswith('Basic realm="Perch"')
