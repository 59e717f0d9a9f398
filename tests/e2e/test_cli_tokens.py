"""``perch token create|list|revoke`` beside the API, in the order the README gives them."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.e2e.conftest import ADMIN, Server, perch


def test_the_readme_token_steps_work_in_order(
    server: Server, data_dir: Path, tmp_path: Path
) -> None:
    # 1. The CLI step: account "ci", created, and a token for it.
    cli = perch(
        data_dir, "token", "create", "--service-account", "ci", "--create", "--expires", "P90D"
    )
    cli_token = cli.stdout.strip()
    assert cli_token.startswith("perch_")
    # 2. The API step: account "deploy" and a token for it (not 409: another name).
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=60) as admin:
        account = admin.post("/api/v1/main/service-accounts", json={"name": "deploy"})
        assert account.status_code in (200, 201), account.text
        # An account may do nothing until it holds a role.
        bound = admin.post(
            "/api/v1/main/bindings",
            json={"type": "SERVICE_ACCOUNT", "externalId": "deploy", "roleId": "Launcher"},
        )
        assert bound.status_code == 200, bound.text
        made = admin.post(
            f"/api/v1/main/service-accounts/{account.json()['id']}/api-tokens",
            json={"name": "deploys", "maxAge": "P90D"},
        )
        assert made.status_code in (200, 201), made.text
        api_token = made.json()["token"]
    # 3. perch token list: both, never their values.
    listed = perch(data_dir, "token", "list")
    assert "2 API tokens" in listed.stdout
    assert "ci" in listed.stdout
    assert "deploy" in listed.stdout
    assert cli_token not in listed.stdout
    assert api_token not in listed.stdout
    only_ci = perch(data_dir, "token", "list", "--service-account", "ci")
    assert "1 API tokens" in only_ci.stdout
    token_id = next(
        line.split("│")[1].strip()
        for line in only_ci.stdout.splitlines()
        if "│" in line and " ci " in line
    )
    # 4. perch token revoke: refused at once.
    with httpx.Client(base_url=server.url, timeout=60) as client:
        bearer = {"Authorization": f"Bearer {cli_token}"}
        assert client.get("/api/v1/main/flows/search", headers=bearer).status_code == 200
        revoked = perch(data_dir, "token", "revoke", token_id)
        assert f"Revoked API token 'cli' ({token_id})" in revoked.stdout
        assert client.get("/api/v1/main/flows/search", headers=bearer).status_code == 401
        other = {"Authorization": f"Bearer {api_token}"}
        assert client.get("/api/v1/main/flows/search", headers=other).status_code == 200
    unknown = perch(data_dir, "token", "revoke", "no-such-token", check=False)
    assert unknown.returncode == 1
    assert "no API token 'no-such-token'" in unknown.stderr
