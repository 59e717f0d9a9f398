"""The Namespaces pages of the web UI, on SQLite and PostgreSQL: the list of namespaces holding
flows, KV pairs or secrets; setting and deleting KV pairs (values shown, as text) and secrets
(values never shown, on any page); the permission each part needs."""

from __future__ import annotations

from tests.api.conftest import ADMIN, Api, api, backend
from tests.api.hitl import bind
from tests.ui.test_pages import browser, csrf_of, sign_in

from perch import identity

__all__ = ["api", "backend"]

FLOW = """\
id: hello
namespace: company.flows
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
SECRET_VALUE = "s3cr3t-Value-never-shown-9f1c"
NASTY = "<script>alert('kv')</script> {{ 7*7 }}"


def _no_secret_anywhere(client: object, pages: list[str]) -> None:
    for path in pages:
        html = client.get(path).text  # type: ignore[attr-defined]
        assert SECRET_VALUE not in html, path


def test_set_and_delete_kv_pairs_and_secrets(api: Api) -> None:
    api.deploy(FLOW)
    with browser(api) as client:
        sign_in(client, *ADMIN)
        listed = client.get("/ui/namespaces")
        assert listed.status_code == 200
        assert '<a href="/ui/namespaces/company.flows">company.flows</a>' in listed.text
        opened = client.get("/ui/namespaces/open", params={"name": "company.data"})
        assert opened.status_code == 303
        assert opened.headers["location"] == "/ui/namespaces/company.data"
        html = client.get("/ui/namespaces/company.data").text
        assert "No KV pair in this namespace." in html
        token = csrf_of(html)

        forged = client.post("/ui/namespaces/company.data/kv", data={"key": "x", "value": "1"})
        assert forged.status_code == 403
        saved = client.post(
            "/ui/namespaces/company.data/kv",
            data={"csrf": token, "key": "greeting", "type": "STRING", "value": NASTY},
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == "/ui/namespaces/company.data?done=kv-set"
        number = client.post(
            "/ui/namespaces/company.data/kv",
            data={"csrf": token, "key": "limit", "type": "NUMBER", "value": "42", "ttl": "PT1H"},
        )
        assert number.status_code == 303
        bad = client.post(
            "/ui/namespaces/company.data/kv",
            data={"csrf": token, "key": "n", "type": "NUMBER", "value": "not a number"},
        )
        assert bad.status_code == 422
        assert "is not a number" in bad.text
        assert 'value="n"' in bad.text  # the form keeps what was sent
        bad_ttl = client.post(
            "/ui/namespaces/company.data/kv",
            data={"csrf": token, "key": "t", "type": "STRING", "value": "v", "ttl": "soon"},
        )
        assert bad_ttl.status_code == 422
        assert "Invalid ttl" in bad_ttl.text

        page = client.get("/ui/namespaces/company.data?done=kv-set").text
        assert "The KV pair was saved." in page
        assert "&lt;script&gt;alert(" in page
        assert "{{ 7*7 }}" in page
        assert "<script>alert" not in page
        assert "<td>NUMBER</td>" in page
        assert "<code>42</code>" in page
        assert api.client.get("/api/v1/namespaces/company.data/kv/limit").json() == {
            "type": "NUMBER",
            "value": 42,
        }

        secret = client.post(
            "/ui/namespaces/company.data/secrets",
            data={
                "csrf": token,
                "key": "DB_PASSWORD",
                "value": SECRET_VALUE,
                "description": "the <b>db</b>",
            },
        )
        assert secret.status_code == 303
        shown = client.get(secret.headers["location"]).text
        assert "<code>DB_PASSWORD</code>" in shown
        assert "the &lt;b&gt;db&lt;/b&gt;" in shown
        refused = client.post(
            "/ui/namespaces/company.data/secrets",
            data={"csrf": token, "key": "bad key!", "value": SECRET_VALUE},
        )
        assert refused.status_code == 422
        assert "Invalid secret key" in refused.text
        assert SECRET_VALUE not in refused.text  # not even in the form sent back
        listed = client.get("/ui/namespaces").text
        assert '<a href="/ui/namespaces/company.data">company.data</a>' in listed
        _no_secret_anywhere(
            client,
            [
                "/ui/namespaces",
                "/ui/namespaces/company.data",
                "/ui/admin/audit",
                "/ui/dashboard",
            ],
        )

        deleted = client.post(
            "/ui/namespaces/company.data/kv/delete", data={"csrf": token, "key": "greeting"}
        )
        assert deleted.status_code == 303
        gone = client.post(
            "/ui/namespaces/company.data/secrets/delete",
            data={"csrf": token, "key": "DB_PASSWORD"},
        )
        assert gone.status_code == 303
        after = client.get("/ui/namespaces/company.data").text
        assert "greeting" not in after
        assert "DB_PASSWORD" not in after
        assert 'data-confirm="Delete the KV pair limit?"' in after
    listed_secrets = api.client.get("/api/v1/namespaces/company.data/secrets").json()
    assert listed_secrets["total"] == 0


def test_each_part_needs_its_permission(api: Api) -> None:
    api.client.put(
        "/api/v1/namespaces/team.a/kv/colour",
        content="blue",
        headers={"Content-Type": "text/plain"},
    )
    api.client.put(
        "/api/v1/namespaces/team.a/secrets/TOKEN",
        json={"value": SECRET_VALUE},
    )
    reader = identity.create_user(api.store, "rita", "rita-password-123")
    bind(api, "USER", reader.id, "Viewer", namespace="team.a")  # KVSTORE:READ, no SECRET
    nobody = identity.create_user(api.store, "nils", "nils-password-123")
    bind(api, "USER", nobody.id, "Viewer", namespace="elsewhere")
    with browser(api) as client:
        sign_in(client, "rita", "rita-password-123")
        html = client.get("/ui/namespaces/team.a").text
        assert "<code>colour</code>" in html
        assert "Access denied: requires SECRET:READ on namespace team.a" in html
        assert "TOKEN" not in html
        assert "Save KV pair" not in html  # no KVSTORE:UPDATE
        assert ">Delete</button>" not in html
        token = csrf_of(client.get("/ui/executions").text)  # a page with a form
        refused = client.post(
            "/ui/namespaces/team.a/kv", data={"csrf": token, "key": "k", "value": "v"}
        )
        assert refused.status_code == 403
        assert "requires KVSTORE:UPDATE on namespace team.a" in refused.text
        refused = client.post(
            "/ui/namespaces/team.a/secrets/delete", data={"csrf": token, "key": "TOKEN"}
        )
        assert refused.status_code == 403
        assert "requires SECRET:DELETE on namespace team.a" in refused.text
        other = client.get("/ui/namespaces/team.b")
        assert other.status_code == 403
        assert "requires KVSTORE:READ or SECRET:READ on namespace team.b" in other.text
        listed = client.get("/ui/namespaces").text
        assert "team.a" in listed
    with browser(api) as client:
        sign_in(client, "nils", "nils-password-123")
        assert "team.a" not in client.get("/ui/namespaces").text
        assert client.get("/ui/namespaces/team.a").status_code == 403
