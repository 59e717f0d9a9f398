"""The Namespaces, Administration and Dashboard pages in headless Chromium after a login: each
saved as a screenshot (desktop and 375 px) and checked with axe-core; a KV pair and a secret set
through the forms, a delete confirmed in a dialog, a token shown once."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.api.hitl import HOLD, create
from tests.browser.conftest import DESKTOP, serious_violations, snapshot

from perch import identity

__all__ = ["api", "backend"]

pytestmark = pytest.mark.browser

QUICK = """\
id: quick
namespace: company.bulk
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def _sign_in(page: Any, login: str, password: str) -> None:
    page.get_by_label("Username or e-mail").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _check(page: Any, name: str) -> None:
    snapshot(page, name)
    assert serious_violations(page) == [], name


def test_every_page_after_login(api: Api, chromium: Any) -> None:
    api.deploy(QUICK)
    api.deploy(HOLD)
    for _ in range(3):
        api.wait(create(api, "company.bulk", "quick"), state_is("SUCCESS"))
    held = create(api, "company.bulk", "hold")
    api.wait(held, state_is("PAUSED"))
    assert api.client.post(f"/api/v1/executions/{held}/resume").status_code == 204
    api.wait(create(api, "company.bulk", "hold"), state_is("PAUSED"))
    identity.create_user(api.store, "ana", "ana-password-123", display_name="Ana <b>Ops</b>")

    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{api.url}/ui/dashboard")
    _sign_in(page, *ADMIN)
    page.wait_for_url("**/ui/dashboard")
    assert "1 approval" in page.locator(".tiles").inner_text()
    assert page.locator("svg.chart rect").count() >= 2
    _check(page, "dashboard")

    page.get_by_role("link", name="Namespaces").click()
    page.wait_for_url("**/ui/namespaces")
    _check(page, "namespaces")
    page.get_by_label("Namespace").fill("company.bulk")
    page.get_by_role("button", name="Open namespace").click()
    page.wait_for_url("**/ui/namespaces/company.bulk")
    page.get_by_label("Key").fill("region")
    page.locator("#kv-value").fill("eu-west-1")
    page.get_by_role("button", name="Save KV pair").click()
    page.wait_for_url("**?done=kv-set")
    page.get_by_label("Name", exact=True).fill("API_KEY")
    page.locator("#secret-value").fill("never-shown-value")
    page.get_by_role("button", name="Save secret").click()
    page.wait_for_url("**?done=secret-set")
    assert "never-shown-value" not in page.content()
    assert "eu-west-1" in page.locator("table.list").first.inner_text()
    _check(page, "namespace")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete KV pair region").click()
    assert "eu-west-1" in page.content()  # dismissed: nothing happened

    page.get_by_role("link", name="Administration").click()
    page.wait_for_url("**/ui/admin/users")
    assert "Ana <b>Ops</b>" in page.inner_text("main")
    _check(page, "admin-users")

    page.get_by_role("link", name="Groups").click()
    page.get_by_label("Name", exact=True).fill("approvers")
    page.get_by_role("button", name="Create group").click()
    page.wait_for_url("**?done=created")
    page.get_by_label("Add a member to approvers").fill("ana")
    page.get_by_role("button", name="Add member").click()
    page.wait_for_url("**?done=added")
    _check(page, "admin-groups")

    page.get_by_role("link", name="Service accounts").click()
    page.get_by_label("Name", exact=True).fill("ci-bot")
    page.get_by_role("button", name="Create service account").click()
    page.wait_for_url("**?done=created")
    page.get_by_label("Token name").fill("deploys")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token-value").input_value()
    assert shown
    _check(page, "admin-service-accounts")
    page.goto(f"{api.url}/ui/admin/service-accounts")
    assert shown not in page.content()

    page.get_by_role("link", name="Roles and bindings").click()
    page.get_by_label("Who", exact=True).fill("ana")
    page.get_by_label("Role", exact=True).select_option(label="Launcher")
    page.get_by_label("Namespace (optional)").fill("company.bulk")
    page.get_by_role("button", name="Give role").click()
    page.wait_for_url("**?done=bound")
    _check(page, "admin-roles")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("KV_CREATED")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**action=KV_CREATED**")
    assert "region" in page.locator("table.audit").inner_text()
    _check(page, "admin-audit")
    with page.expect_download() as download:
        page.get_by_role("link", name="JSON lines").click()
    assert download.value.suggested_filename == "auditlogs.jsonl"
    context.close()
