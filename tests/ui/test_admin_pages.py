"""The Administration pages of the web UI, on SQLite and PostgreSQL: users (superadmins only),
groups and members, service accounts with a token shown once, roles and bindings, the audit
log's filters and export; each refused with 403 naming the permission the API needs; names
typed by people shown as text."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
from tests.api.conftest import ADMIN, Api, api, backend
from tests.api.hitl import bind
from tests.ui.test_pages import browser, csrf_of, sign_in

from perch import identity

__all__ = ["api", "backend"]

NASTY = "<script>alert('x')</script> {{ 7*7 }}"
SHOWN = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; {{ 7*7 }}"


def _as_admin(client: httpx.Client) -> str:
    """Sign ``client`` in as the administrator; the session's CSRF token."""
    sign_in(client, *ADMIN)
    return csrf_of(client.get("/ui/admin/users").text)


def _id_in(html: str, action: str) -> str:
    found = re.search(rf'action="/ui/admin/[a-z-]+/([^/"]+)/{action}"', html)
    assert found, f"no form for {action}"
    return found.group(1)


def test_users_are_created_disabled_reset_and_deleted(api: Api) -> None:
    with browser(api) as client:
        token = _as_admin(client)
        assert client.get("/ui/admin").headers["location"] == "/ui/admin/users"
        created = client.post(
            "/ui/admin/users",
            data={
                "csrf": token,
                "username": "dora",
                "password": "dora-password-1",
                "email": "dora@example.com",
                "display_name": NASTY,
            },
        )
        assert created.status_code == 303
        html = client.get(created.headers["location"]).text
        assert "The user was created." in html
        assert SHOWN in html
        assert "<script>alert" not in html
        weak = client.post(
            "/ui/admin/users", data={"csrf": token, "username": "eve", "password": "Zq9-x"}
        )
        assert weak.status_code == 422
        assert 'value="eve"' in weak.text
        assert "Zq9-x" not in weak.text  # the password is not sent back
        taken = client.post(
            "/ui/admin/users",
            data={"csrf": token, "username": "dora", "password": "another-password"},
        )
        assert taken.status_code == 422

        dora = identity.find_user(api.store, "dora")
        assert dora is not None
        page = client.get("/ui/admin/users", params={"q": "dora"}).text
        assert 'data-confirm="Delete the user dora? This cannot be undone."' in page
        disabled = client.post(f"/ui/admin/users/{dora.id}/disable", data={"csrf": token})
        assert disabled.status_code == 303
        user = identity.get_user(api.store, dora.id)
        assert user.disabled
        assert ">disabled</span>" in client.get("/ui/admin/users?q=dora").text
        client.post(f"/ui/admin/users/{dora.id}/enable", data={"csrf": token})
        assert not identity.get_user(api.store, dora.id).disabled
        reset = client.post(
            f"/ui/admin/users/{dora.id}/password",
            data={"csrf": token, "password": "brand-new-password"},
        )
        assert reset.status_code == 303
        with browser(api) as other:
            assert sign_in(other, "dora", "dora-password-1").status_code == 401
            assert sign_in(other, "dora", "brand-new-password").status_code == 303
        last = client.post(f"/ui/admin/users/{_admin_id(api)}/disable", data={"csrf": token})
        assert last.status_code == 422  # the last superadmin stays
        deleted = client.post(f"/ui/admin/users/{dora.id}/delete", data={"csrf": token})
        assert deleted.status_code == 303
        assert identity.find_user(api.store, "dora") is None
        forged = client.post(f"/ui/admin/users/{_admin_id(api)}/delete", data={})
        assert forged.status_code == 403


def _admin_id(api: Api) -> str:
    admin = identity.find_user(api.store, ADMIN[0])
    assert admin is not None
    return admin.id


def test_a_group_with_a_member(api: Api) -> None:
    member = identity.create_user(api.store, "gus", "gus-password-12", display_name=NASTY)
    with browser(api) as client:
        token = _as_admin(client)
        created = client.post(
            "/ui/admin/groups", data={"csrf": token, "name": NASTY, "description": "on call"}
        )
        assert created.status_code == 303
        html = client.get("/ui/admin/groups").text
        assert SHOWN in html
        assert "<script>alert" not in html
        group_id = _id_in(html, "members")
        added = client.post(
            f"/ui/admin/groups/{group_id}/members", data={"csrf": token, "user": "gus"}
        )
        assert added.status_code == 303
        html = client.get(added.headers["location"]).text
        assert "The member was added." in html
        assert "<code>gus</code>" in html
        members = identity.group_members(api.store, group_id, tenant="main")
        assert [u.username for u in members] == ["gus"]
        unknown = client.post(
            f"/ui/admin/groups/{group_id}/members", data={"csrf": token, "user": "nobody"}
        )
        assert unknown.status_code == 422
        assert "User &#39;nobody&#39; not found" in unknown.text
        removed = client.post(
            f"/ui/admin/groups/{group_id}/members/remove",
            data={"csrf": token, "user": member.id},
        )
        assert removed.status_code == 303
        assert identity.group_members(api.store, group_id, tenant="main") == []
        gone = client.post(f"/ui/admin/groups/{group_id}/delete", data={"csrf": token})
        assert gone.status_code == 303
        assert "No group yet." in client.get("/ui/admin/groups").text


def test_a_service_account_token_is_shown_once(api: Api) -> None:
    with browser(api) as client:
        token = _as_admin(client)
        created = client.post("/ui/admin/service-accounts", data={"csrf": token, "name": "ci-bot"})
        assert created.status_code == 303
        html = client.get("/ui/admin/service-accounts").text
        account_id = _id_in(html, "tokens")
        answer = client.post(
            f"/ui/admin/service-accounts/{account_id}/tokens",
            data={"csrf": token, "name": "deploys", "max_age": "P30D"},
        )
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        found = re.search(
            r'id="new-token-value" class="secretvalue" readonly value="([^"]+)"', answer.text
        )
        assert found
        raw = found.group(1)
        assert "this is the only time it is shown" in answer.text
        again = client.get("/ui/admin/service-accounts").text
        assert raw not in again
        assert "deploys" in again
        assert raw[:8] in again  # the prefix, to recognise it
        bad_age = client.post(
            f"/ui/admin/service-accounts/{account_id}/tokens",
            data={"csrf": token, "name": "x", "max_age": "forever"},
        )
        assert bad_age.status_code == 422
    bind(api, "SERVICE_ACCOUNT", account_id, "Viewer")
    with api.as_token(raw) as bot:
        assert bot.get("/api/v1/me").json()["username"] == "ci-bot"
    token_id = identity.list_api_tokens(api.store, account_id)[0].id
    with browser(api) as client:
        sign_in(client, *ADMIN)
        html = client.get("/ui/admin/service-accounts").text
        assert "Revoke the token deploys?" in html
        revoked = client.post(
            f"/ui/admin/service-accounts/{account_id}/tokens/{token_id}/revoke",
            data={"csrf": csrf_of(html)},
        )
        assert revoked.status_code == 303
        assert "<td>revoked</td>" in client.get("/ui/admin/service-accounts").text
    with api.as_token(raw) as bot:
        assert bot.get("/api/v1/me").status_code == 401


def test_a_custom_role_bound_on_a_namespace(api: Api) -> None:
    kim = identity.create_user(api.store, "kim", "kim-password-123")
    with browser(api) as client:
        token = _as_admin(client)
        html = client.get("/ui/admin/roles").text
        assert "<strong>Developer</strong>" in html
        assert "<code>AUDITLOG</code>: READ" in html
        created = client.post(
            "/ui/admin/roles",
            data={
                "csrf": token,
                "name": "KV keeper",
                "perm": ["KVSTORE:READ", "KVSTORE:UPDATE", "NAMESPACE:READ"],
            },
        )
        assert created.status_code == 303
        html = client.get("/ui/admin/roles").text
        assert "<code>KVSTORE</code>: READ, UPDATE" in html
        role_id = re.search(r'<option value="([^"]+)" >KV keeper</option>', html)
        assert role_id
        bound = client.post(
            "/ui/admin/bindings",
            data={
                "csrf": token,
                "type": "USER",
                "subject": "kim",
                "role": role_id.group(1),
                "namespace": "team.kv",
            },
        )
        assert bound.status_code == 303
        html = client.get("/ui/admin/roles").text
        assert "namespace <code>team.kv</code>" in html
        assert "Take the role KV keeper from kim?" in html
        refused = client.post(
            "/ui/admin/bindings",
            data={"csrf": token, "type": "USER", "subject": "ghost", "role": "viewer"},
        )
        assert refused.status_code == 422
        assert "no user &#39;ghost&#39;" in refused.text
    with browser(api) as as_kim:
        sign_in(as_kim, "kim", "kim-password-123")
        assert as_kim.get("/ui/namespaces/team.kv").status_code == 200
        assert as_kim.get("/ui/namespaces/team.other").status_code == 403
        denied = as_kim.get("/ui/admin/roles")
        assert denied.status_code == 403
        assert "Access denied: requires ROLE:READ on the tenant" in denied.text
        assert ">Administration</a>" not in denied.text
    binding = identity.roles.search_bindings(api.store, "main", external_id=kim.id)[0][0]
    with browser(api) as client:
        sign_in(client, *ADMIN)
        page = client.get("/ui/admin/roles").text
        assert ">Administration</a>" in page
        gone = client.post(f"/ui/admin/bindings/{binding.id}/delete", data={"csrf": csrf_of(page)})
        assert gone.status_code == 303
    with browser(api) as as_kim:
        sign_in(as_kim, "kim", "kim-password-123")
        assert as_kim.get("/ui/namespaces/team.kv").status_code == 403


def test_each_admin_page_needs_the_api_permission(api: Api) -> None:
    lea = identity.create_user(api.store, "lea", "lea-password-123")
    bind(api, "USER", lea.id, "Developer", namespace="team.a")  # AUDITLOG:READ on team.a only
    with browser(api) as client:
        sign_in(client, "lea", "lea-password-123")
        for path, missing in (
            ("/ui/admin/users", "only a superadmin may manage users"),
            ("/ui/admin/groups", "requires GROUP:READ on the tenant"),
            ("/ui/admin/service-accounts", "requires SERVICE_ACCOUNT:READ on the tenant"),
            ("/ui/admin/roles", "requires ROLE:READ on the tenant"),
        ):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert missing in answer.text, path
        page = client.get("/ui/admin/audit")
        assert page.status_code == 200
        assert ">Administration</a>" in page.text  # the audit log is open to her
        assert "/ui/admin/users" not in page.text
        token = csrf_of(client.get("/ui/executions").text)
        for path in ("/ui/admin/users", "/ui/admin/groups", "/ui/admin/service-accounts"):
            assert client.post(path, data={"csrf": token, "name": "x"}).status_code == 403
        assert client.post("/ui/admin/roles", data={"csrf": token}).status_code == 403
        assert client.post("/ui/admin/bindings", data={"csrf": token}).status_code == 403
    nobody = identity.create_user(api.store, "ned", "ned-password-123")
    bind(api, "USER", nobody.id, "Viewer")
    with browser(api) as client:
        sign_in(client, "ned", "ned-password-123")
        assert client.get("/ui/admin").status_code == 403
        audit = client.get("/ui/admin/audit")
        assert audit.status_code == 403
        assert "requires AUDITLOG:READ on the tenant" in audit.text
        assert client.get("/ui/admin/audit/export").status_code == 403


def test_the_audit_log_filters_and_exports(api: Api) -> None:
    for namespace, key in (("team.a", "one"), ("team.a", "two"), ("team.b", "three")):
        answer = api.client.put(
            f"/api/v1/namespaces/{namespace}/kv/{key}",
            content="1",
            headers={"Content-Type": "text/plain"},
        )
        assert answer.status_code == 200
    with browser(api) as client:
        _as_admin(client)
        everything = client.get("/ui/admin/audit").text
        assert "<code>KV_CREATED</code>" in everything
        assert "<code>LOGIN</code>" in everything
        filtered = client.get(
            "/ui/admin/audit", params={"action": "kv_created", "namespace": "team.a"}
        ).text
        assert filtered.count("<code>KV_CREATED</code>") == 2
        assert "<code>LOGIN</code>" not in filtered
        assert '<h1>Audit log <span class="count">2</span></h1>' in filtered
        link = re.search(r'href="(/ui/admin/audit/export\?[^"]*format=jsonl[^"]*)"', filtered)
        assert link
        download = client.get(link.group(1).replace("&amp;", "&"))
        assert download.status_code == 200
        assert 'filename="auditlogs.jsonl"' in download.headers["content-disposition"]
        rows = [json.loads(line) for line in download.text.splitlines()]
        assert sorted(r["resourceId"] for r in rows) == ["one", "two"]
        assert {r["action"] for r in rows} == {"KV_CREATED"}
        api_export = api.client.get(
            "/api/v1/auditlogs/export", params={"action": "KV_CREATED", "namespace": "team.a"}
        )
        assert api_export.text == download.text  # the same file as the API's export
        as_csv = client.get(
            "/ui/admin/audit/export", params={"format": "csv", "user": "admin", "action": "LOGIN"}
        )
        table = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert table
        assert {r["action"] for r in table} == {"LOGIN"}
        assert {r["principalName"] for r in table} == {"admin"}
        by_user = client.get("/ui/admin/audit", params={"user": "nobody"}).text
        assert "No record matches." in by_user
        future = client.get("/ui/admin/audit", params={"start": "2999-01-01"}).text
        assert "No record matches." in future
        today = client.get(
            "/ui/admin/audit", params={"end": "2999-01-01", "action": "KV_CREATED"}
        ).text
        assert today.count("<code>KV_CREATED</code>") == 3
        paged = client.get("/ui/admin/audit", params={"action": "KV_CREATED", "size": 25}).text
        assert "Page 1 of" not in paged  # one page only
