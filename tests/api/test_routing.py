"""Which route a request reaches: the default tenant and the ``{tenant}`` mounts, a known path
with another method (405), an unknown path (404), a trailing slash. Each included router
rejects at once the paths none of its routes matches (perch.api.routeguard); none of these
answers may change because of it."""

from __future__ import annotations

from tests.api.conftest import Api, state_is

FLOW = """
id: gate
namespace: perch.routing
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


def test_a_create_on_either_mount_reaches_the_same_tenant(api: Api) -> None:
    api.deploy(FLOW)
    on_tenant = api.client.post("/api/v1/main/executions/perch.routing/gate?labels=k:v")
    assert on_tenant.status_code == 200, on_tenant.text
    created = on_tenant.json()
    assert created["url"].endswith(f"/ui/main/executions/perch.routing/gate/{created['id']}")
    assert {"key": "k", "value": "v"} in created["labels"]
    on_default = api.client.post("/api/v1/executions/perch.routing/gate")
    assert on_default.status_code == 200, on_default.text
    # Each is found through the other mount.
    assert api.client.get(f"/api/v1/executions/{created['id']}").json()["id"] == created["id"]
    other = on_default.json()["id"]
    assert api.client.get(f"/api/v1/main/executions/{other}").json()["id"] == other
    api.wait(other, state_is("PAUSED"))


def test_a_create_with_wait_answers_once_paused(api: Api) -> None:
    api.deploy(FLOW)
    response = api.client.post("/api/v1/main/executions/perch.routing/gate?wait=true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"]["current"] == "PAUSED"
    assert body["url"].endswith(f"/executions/perch.routing/gate/{body['id']}")


def test_wrong_method_unknown_path_and_unknown_tenant(api: Api) -> None:
    for prefix in ("/api/v1", "/api/v1/main"):
        response = api.client.request("PATCH", f"{prefix}/executions/perch.routing/gate")
        assert response.status_code == 405, (prefix, response.text)
        assert "POST" in response.headers["allow"]
    for path in ("/api/v1/no-such-thing/at/all", "/api/v1/main/no-such-thing/at/all/here"):
        response = api.client.get(path)
        assert response.status_code == 404, (path, response.text)
    api.add_tenant("second")
    response = api.client.post("/api/v1/nowhere/executions/perch.routing/gate")
    assert response.status_code == 404, response.text
