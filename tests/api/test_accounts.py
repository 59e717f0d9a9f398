"""Service accounts and API tokens through the REST API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Api
from tests.api.hitl import bind


def test_service_account_lifecycle(api: Api) -> None:
    api.add_tenant("other")
    client = api.client
    created = client.post(
        "/api/v1/main/service-accounts", json={"name": "ci", "description": "builds"}
    )
    assert created.status_code == 200, created.text
    account = created.json()
    assert account["name"] == "ci"
    assert account["description"] == "builds"
    assert account["tenantId"] == "main"
    assert account["createdAt"].endswith("Z")

    # The un-prefixed routes are the default tenant's; another tenant is separate.
    assert client.get("/api/v1/service-accounts").json() == [account]
    assert client.get("/api/v1/other/service-accounts").json() == []
    assert client.get(f"/api/v1/service-accounts/{account['id']}").json() == account
    assert client.get(f"/api/v1/other/service-accounts/{account['id']}").status_code == 404
    assert client.post("/api/v1/other/service-accounts", json={"name": "ci"}).status_code == 200

    duplicate = client.post("/api/v1/service-accounts", json={"name": "ci"})
    assert duplicate.status_code == 409
    assert duplicate.json()["message"].startswith("Conflict: ")

    assert client.delete(f"/api/v1/other/service-accounts/{account['id']}").status_code == 404
    assert client.delete(f"/api/v1/service-accounts/{account['id']}").status_code == 204
    assert client.get(f"/api/v1/service-accounts/{account['id']}").status_code == 404
    assert client.get("/api/v1/service-accounts").json() == []


def test_bad_service_account_requests(sqlite_api: Api) -> None:
    client = sqlite_api.client
    assert client.post("/api/v1/service-accounts", json={}).status_code == 422
    assert client.post("/api/v1/service-accounts", json={"name": ""}).status_code == 422
    assert client.post("/api/v1/service-accounts", content=b"nope").status_code == 422
    assert client.get("/api/v1/service-accounts/unknown").status_code == 404
    assert (
        client.post("/api/v1/service-accounts/unknown/api-tokens", json={"name": "t"}).status_code
        == 404
    )


def test_tokens_are_shown_once_and_listed_without_their_value(api: Api) -> None:
    client = api.client
    account = client.post("/api/v1/service-accounts", json={"name": "ci"}).json()
    tokens_path = f"/api/v1/service-accounts/{account['id']}/api-tokens"
    before = datetime.now(UTC)
    created = client.post(tokens_path, json={"name": "deploys", "maxAge": "P30D"})
    assert created.status_code == 200, created.text
    token = created.json()
    assert token["token"].startswith("perch_")
    assert token["fullToken"] == token["token"]
    assert token["token"].startswith(token["prefix"])
    assert len(token["prefix"]) < len(token["token"]) // 3
    expires = datetime.fromisoformat(token["expiresAt"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)
    assert token["expired"] is False

    forever = client.post(tokens_path, json={"name": "forever"}).json()
    assert "expiresAt" not in forever  # no value: left out, as Kestra
    capped = client.post(
        tokens_path,
        json={
            "name": "capped",
            "maxAge": "P30D",
            "expiresAt": (before + timedelta(days=2)).isoformat(),
        },
    ).json()
    assert datetime.fromisoformat(capped["expiresAt"]) < before + timedelta(days=3)

    listed = client.get(tokens_path)
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()] == ["deploys", "forever", "capped"]
    for shown in listed.json():
        assert "token" not in shown
        assert "fullToken" not in shown
        for value in shown.values():
            assert value not in (token["token"], forever["token"], capped["token"])
    assert listed.json()[0]["tokenPrefix"] == token["prefix"]

    assert client.delete(f"{tokens_path}/{token['id']}").status_code == 204
    assert client.delete(f"{tokens_path}/{token['id']}").status_code == 204  # still revoked
    (revoked,) = [t for t in client.get(tokens_path).json() if t["id"] == token["id"]]
    assert revoked["revokedAt"] is not None
    assert client.delete(f"{tokens_path}/unknown").status_code == 404


def test_bad_token_requests(sqlite_api: Api) -> None:
    client = sqlite_api.client
    account = client.post("/api/v1/service-accounts", json={"name": "ci"}).json()
    other = client.post("/api/v1/service-accounts", json={"name": "cd"}).json()
    path = f"/api/v1/service-accounts/{account['id']}/api-tokens"
    for body in [
        {"name": "t", "maxAge": "thirty days"},
        {"name": "t", "maxAge": "-P1D"},
        {"name": "t", "expiresAt": "2001-01-01T00:00:00Z"},
        {"name": ""},
        {},
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 422, (body, response.text)
    token = client.post(path, json={"name": "t"}).json()
    # A token is revoked through its own account only.
    wrong = client.delete(f"/api/v1/service-accounts/{other['id']}/api-tokens/{token['id']}")
    assert wrong.status_code == 404


def test_deleting_an_account_stops_its_tokens(api: Api) -> None:
    account = api.client.post("/api/v1/service-accounts", json={"name": "ci"}).json()
    bind(api, "SERVICE_ACCOUNT", account["id"], "Viewer")
    path = f"/api/v1/service-accounts/{account['id']}/api-tokens"
    token = api.client.post(path, json={"name": "t"}).json()
    with api.as_token(token["token"]) as client:
        assert client.get("/api/v1/me").status_code == 200
        assert api.client.delete(f"/api/v1/service-accounts/{account['id']}").status_code == 204
        assert client.get("/api/v1/me").status_code == 401


def test_the_routes_are_in_the_api_document(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/{tenant}/service-accounts",
        "/api/v1/{tenant}/service-accounts/{id}",
        "/api/v1/{tenant}/service-accounts/{id}/api-tokens",
        "/api/v1/{tenant}/service-accounts/{id}/api-tokens/{tokenId}",
        "/api/v1/service-accounts",
        "/api/v1/me",
    ):
        assert path in paths, path
    assert "/setup" not in paths
    created = paths["/api/v1/service-accounts/{id}/api-tokens"]["post"]["responses"]["200"]
    assert "CreatedApiTokenShape" in str(created)
