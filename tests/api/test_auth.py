"""Authentication over real HTTP: Basic (username or e-mail), Bearer tokens, expiry and
revocation, the principal the engine records, and the setup page."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import (
    ADMIN,
    Api,
    open_test_store,
    start_api,
    state_is,
    stop_api,
)
from tests.api.hitl import bind

from perch import identity
from perch.identity import roles

# A sample of routes of every kind; each must refuse a caller without valid credentials.
PROTECTED = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/main/me"),
    ("GET", "/api/v1/flows/search"),
    ("POST", "/api/v1/flows"),
    ("GET", "/api/v1/executions/search"),
    ("GET", "/api/v1/main/executions/some-id"),
    ("POST", "/api/v1/executions/some-id/resume"),
    ("DELETE", "/api/v1/executions/some-id/kill"),
    ("GET", "/api/v1/logs/some-id"),
    ("GET", "/api/v1/service-accounts"),
    ("POST", "/api/v1/other/service-accounts"),
]


def _token(api: Api, account: str = "ci", role: str = "Editor", **body: Any) -> dict[str, Any]:
    """A new token of the service account ``account`` (created when missing, with ``role`` on
    the tenant), via the API."""
    existing = {a["name"]: a for a in api.client.get("/api/v1/service-accounts").json()}
    if account in existing:
        account_id = existing[account]["id"]
    else:
        created = api.client.post("/api/v1/service-accounts", json={"name": account})
        assert created.status_code == 200, created.text
        account_id = created.json()["id"]
        bind(api, "SERVICE_ACCOUNT", account_id, role)
    response = api.client.post(
        f"/api/v1/service-accounts/{account_id}/api-tokens", json={"name": "t", **body}
    )
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    token["accountId"] = account_id
    return token


def _assert_401(response: httpx.Response, match: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json()["message"].startswith("Unauthorized: ")
    assert match in response.json()["message"]


def test_every_route_needs_credentials(sqlite_api: Api) -> None:
    with sqlite_api.anonymous() as anonymous:
        for method, path in PROTECTED:
            _assert_401(anonymous.request(method, path), "Credentials are missing")
        assert anonymous.get("/health").status_code == 200
        configs = anonymous.get("/api/v1/configs")
        assert configs.status_code == 200
        assert configs.json()["isSetupRequired"] is False


def test_wrong_credentials_are_refused(sqlite_api: Api) -> None:
    attempts: list[tuple[str, str]] = [
        ("admin", "admin-password-2"),
        ("nobody", ADMIN[1]),
        ("ADMIN", ADMIN[1]),
        ("", ""),
    ]
    for login in attempts:
        with httpx.Client(base_url=sqlite_api.url, auth=login) as client:
            _assert_401(client.get("/api/v1/me"), "wrong username or password")
    with sqlite_api.as_token("perch_not-a-real-token") as client:
        _assert_401(client.get("/api/v1/me"), "not valid")
    with httpx.Client(
        base_url=sqlite_api.url, headers={"Authorization": "Basic !!!not-base64"}
    ) as client:
        assert client.get("/api/v1/me").status_code == 401


def test_a_user_signs_in_with_username_or_email(api: Api) -> None:
    ana = identity.create_user(api.store, "ana", "correct horse", email="ana@example.org")
    roles.create_binding(api.store, "main", "USER", ana.id, "Viewer")
    for login in ("ana", "ana@example.org", "Ana@Example.ORG"):
        with httpx.Client(base_url=api.url, auth=(login, "correct horse")) as client:
            me = client.get("/api/v1/main/me")
            assert me.status_code == 200, me.text
            assert me.json() == {"username": "ana", "kind": "USER", "superadmin": False}
    assert api.client.get("/api/v1/me").json() == {
        "username": "admin",
        "kind": "USER",
        "superadmin": True,
    }


def test_a_remembered_password_check_never_lets_a_wrong_password_in(sqlite_api: Api) -> None:
    # The first success is remembered; a different password must still be checked.
    assert sqlite_api.client.get("/api/v1/me").status_code == 200
    with httpx.Client(base_url=sqlite_api.url, auth=(ADMIN[0], ADMIN[1] + "x")) as client:
        assert client.get("/api/v1/me").status_code == 401


def test_a_bearer_token_acts_as_its_service_account(api: Api) -> None:
    token = _token(api, "deployer")
    with api.as_token(token["token"]) as client:
        me = client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json() == {"username": "deployer", "kind": "SERVICE_ACCOUNT", "superadmin": False}
    (listed,) = api.client.get(f"/api/v1/service-accounts/{token['accountId']}/api-tokens").json()
    assert listed["lastUsed"] is not None


def test_an_expired_token_is_refused(api: Api) -> None:
    token = _token(api, expiresAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    # Let it expire without waiting: move its expiry into the past in the database.
    from sqlalchemy import update

    from perch.store.schema import api_tokens

    with api.store.transaction() as tx:  # type: ignore[attr-defined]
        tx.connection.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token["id"])
            .values(expires=datetime.now(UTC) - timedelta(seconds=1))
        )
    with api.as_token(token["token"]) as client:
        response = client.get("/api/v1/me")
    _assert_401(response, "has expired")
    assert token["token"] not in response.text


def test_a_revoked_token_is_refused_at_once(api: Api) -> None:
    token = _token(api)
    with api.as_token(token["token"]) as client:
        assert client.get("/api/v1/me").status_code == 200
        revoked = api.client.delete(
            f"/api/v1/service-accounts/{token['accountId']}/api-tokens/{token['id']}"
        )
        assert revoked.status_code == 204
        _assert_401(client.get("/api/v1/me"), "revoked")


def test_a_service_account_cannot_manage_accounts(sqlite_api: Api) -> None:
    token = _token(sqlite_api)
    with sqlite_api.as_token(token["token"]) as client:
        for method, path, body in [
            ("GET", "/api/v1/service-accounts", None),
            ("POST", "/api/v1/service-accounts", {"name": "escalated"}),
            ("GET", f"/api/v1/service-accounts/{token['accountId']}", None),
            ("POST", f"/api/v1/service-accounts/{token['accountId']}/api-tokens", {"name": "x"}),
            (
                "DELETE",
                f"/api/v1/service-accounts/{token['accountId']}/api-tokens/{token['id']}",
                None,
            ),
        ]:
            response = client.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert "requires SERVICE_ACCOUNT:" in response.json()["message"]
    # A plain user may not either.
    identity.create_user(sqlite_api.store, "bob", "long enough")
    with httpx.Client(base_url=sqlite_api.url, auth=("bob", "long enough")) as client:
        assert client.get("/api/v1/service-accounts").status_code == 403


PAUSING = """
id: approve
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""


def test_a_resume_with_a_token_records_the_service_account(api: Api) -> None:
    api.deploy(PAUSING)
    token = _token(api, "release-bot")
    with api.as_token(token["token"]) as client:
        created = client.post("/api/v1/executions/company.team/approve")
        assert created.status_code == 200, created.text
        execution_id = created.json()["id"]
        labels = {label["key"]: label["value"] for label in created.json()["labels"]}
        assert labels.get("system.username") == "release-bot"
        api.wait(execution_id, state_is("PAUSED"))
        resumed = client.post(f"/api/v1/executions/{execution_id}/resume")
        assert resumed.status_code == 204, resumed.text
    done = api.wait(execution_id, state_is("SUCCESS"))
    (wait,) = [run for run in done["taskRunList"] if run["taskId"] == "wait"]
    assert wait["outputs"]["resumed"]["by"] == "release-bot"


# --- setup ----------------------------------------------------------------------------------


@pytest.fixture
def unset_api(tmp_path: Path) -> Iterator[tuple[Api, str]]:
    """A server with no administrator yet, and its setup token."""
    setup_token = secrets.token_urlsafe(16)
    running = start_api(open_test_store("sqlite", tmp_path), admin=False, setup_token=setup_token)
    yield running, setup_token
    stop_api(running)


def test_until_set_up_only_the_setup_page_and_health_answer(unset_api: tuple[Api, str]) -> None:
    api, setup_token = unset_api
    with api.anonymous() as anonymous:
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/api/v1/configs").json()["isSetupRequired"] is True
        for method, path in PROTECTED:
            _assert_401(anonymous.request(method, path), "setup link")
        _assert_401(api.client.get("/api/v1/me"), "setup link")

        page = anonymous.get("/setup", params={"token": setup_token})
        assert page.status_code == 200
        assert f'value="{setup_token}"' in page.text
        assert 'name="password"' in page.text

        refused = anonymous.post(
            "/setup", json={"token": "wrong", "username": "root", "password": "long enough"}
        )
        assert refused.status_code == 403
        weak = anonymous.post(
            "/setup", json={"token": setup_token, "username": "root", "password": "short"}
        )
        assert weak.status_code == 422
        assert "at least 8" in weak.json()["message"]

        created = anonymous.post(
            "/setup",
            json={
                "token": setup_token,
                "username": "root",
                "password": "long enough",
                "email": "root@example.org",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json() == {"username": "root", "kind": "USER"}

        again = anonymous.post(
            "/setup", json={"token": setup_token, "username": "evil", "password": "long enough"}
        )
        assert again.status_code == 409
        assert anonymous.get("/setup", params={"token": setup_token}).status_code == 409
        assert anonymous.get("/api/v1/configs").json()["isSetupRequired"] is False

    with httpx.Client(base_url=api.url, auth=("root@example.org", "long enough")) as client:
        assert client.get("/api/v1/me").json()["superadmin"] is True
    assert identity.find_user(api.store, "evil") is None


def test_the_setup_form_creates_the_admin(unset_api: tuple[Api, str]) -> None:
    api, setup_token = unset_api
    form = {
        "token": setup_token,
        "username": "root",
        "email": "",
        "password": "long enough",
        "confirm": "long enuogh",
    }
    with api.anonymous() as anonymous:
        mismatch = anonymous.post("/setup", data=form)
        assert mismatch.status_code == 422
        assert "differ" in mismatch.text
        assert 'value="root"' in mismatch.text  # the form comes back filled in
        form["confirm"] = form["password"]
        done = anonymous.post("/setup", data=form)
        assert done.status_code == 201
        assert "Perch is set up" in done.text
    with httpx.Client(base_url=api.url, auth=("root", "long enough")) as client:
        assert client.get("/api/v1/me").status_code == 200
