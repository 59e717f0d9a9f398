"""The approver's path in headless Chromium, through the browser only: the link from a message
leads through the login to the execution; the Resume form refuses a missing answer next to its
field, then resumes; the outputs and the audit record show the decision. Bulk resume reports the
row that was not paused; a kill asks first; a HumanTask shows its assignee the form and everyone
else why not. Every page is saved as a screenshot (desktop and 375 px) and checked with axe-core.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.api.hitl import bind, create
from tests.browser.conftest import DESKTOP, serious_violations, snapshot

from perch import identity

__all__ = ["api", "backend"]

pytestmark = pytest.mark.browser

VACATION = """\
id: vacation_approval
namespace: hr.operations
inputs:
  - id: employee
    type: STRING
tasks:
  - id: await_decision
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        description: Approve this request?
      - id: reason
        type: STRING
        description: Decision notes
  - id: log_result
    type: io.kestra.plugin.core.log.Log
    message: "Decision: {{ outputs.await_decision.onResume }}"
"""
DONE = """\
id: quick
namespace: hr.operations
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello
"""
HUMAN = """\
id: vm_provisioning_approval
namespace: infrastructure
tasks:
  - id: it_admin_approval
    type: io.kestra.plugin.ee.flow.HumanTask
    assignment:
      users: [ana@example.com]
"""


def _sign_in(page: Any, login: str, password: str) -> None:
    page.get_by_label("Username or e-mail").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _accessible(page: Any) -> None:
    assert serious_violations(page) == []


def test_an_approver_decides_from_the_link(api: Api, chromium: Any) -> None:
    api.deploy(VACATION)
    execution_id = create(api, "hr.operations", "vacation_approval", {"employee": "Zoë"})
    api.wait(execution_id, state_is("PAUSED"))
    link = f"{api.url}/ui/executions/hr.operations/vacation_approval/{execution_id}"
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(link)
    assert "/ui/login" in page.url
    snapshot(page, "login")
    _accessible(page)
    _sign_in(page, *ADMIN)
    page.wait_for_url(link)
    assert page.locator("#state").inner_text() == "PAUSED"
    snapshot(page, "execution-paused")
    _accessible(page)

    page.get_by_label("Approve this request?").uncheck()
    page.get_by_role("button", name="Resume").click()
    error = page.locator("#r-reason-error")
    assert "required" in error.inner_text().lower()
    assert page.get_by_label("Decision notes").get_attribute("aria-invalid") == "true"
    snapshot(page, "execution-resume-error")
    assert api.client.get(f"/api/v1/executions/{execution_id}").json()["state"]["current"] == (
        "PAUSED"
    )

    page.get_by_label("Decision notes").fill("Team is short that week")
    page.get_by_role("button", name="Resume").click()
    page.wait_for_url(link)
    api.wait(execution_id, state_is("SUCCESS"))
    page.reload()
    assert page.locator("#state").inner_text() == "SUCCESS"
    outputs = page.locator("section", has_text="Outputs").inner_text()
    assert '"reason": "Team is short that week"' in outputs
    assert '"approved": false' in outputs
    audit = page.locator("table.audit").inner_text()
    assert "RESUME" in audit
    assert "UI" in audit
    snapshot(page, "execution-done")
    _accessible(page)
    context.close()


def test_bulk_resume_and_kill_from_the_executions_page(api: Api, chromium: Any) -> None:
    bulk = VACATION.replace("description: Decision notes", "defaults: bulk")
    api.deploy(bulk.replace("description: Approve this request?", "defaults: true"))
    api.deploy(DONE)
    paused = [
        create(api, "hr.operations", "vacation_approval", {"employee": "x"}) for _ in range(3)
    ]
    finished = create(api, "hr.operations", "quick")
    for execution_id in paused:
        api.wait(execution_id, state_is("PAUSED"))
    api.wait(finished, state_is("SUCCESS"))
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{api.url}/ui/executions")
    _sign_in(page, *ADMIN)
    page.wait_for_url("**/ui/executions")
    snapshot(page, "executions")
    _accessible(page)
    for execution_id in (*paused[:2], finished):
        page.get_by_label(f"Select {execution_id}").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resume").click()
    report = page.locator(".report")
    report.wait_for()
    assert "Resume: 2 done, 1 not" in report.inner_text()
    assert finished in report.inner_text()
    snapshot(page, "executions-bulk-report")
    for execution_id in paused[:2]:
        api.wait(execution_id, state_is("SUCCESS"))

    page.goto(f"{api.url}/ui/executions/hr.operations/vacation_approval/{paused[2]}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Kill").click()
    assert page.locator("#state").inner_text() == "PAUSED"  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Kill").click()
    api.wait(paused[2], state_is("KILLED"))
    context.close()


def test_only_the_assignee_sees_the_resume_button(api: Api, chromium: Any) -> None:
    api.deploy(HUMAN)
    ana = identity.create_user(api.store, "ana", "ana-password-123", email="ana@example.com")
    bob = identity.create_user(api.store, "bob", "bob-password-123")
    for user in (ana, bob):
        bind(api, "USER", user.id, "Admin")
    execution_id = create(api, "infrastructure", "vm_provisioning_approval")
    api.wait(execution_id, state_is("PAUSED"))
    url = f"{api.url}/ui/executions/infrastructure/vm_provisioning_approval/{execution_id}"

    as_bob = chromium.new_context(viewport=DESKTOP)
    page = as_bob.new_page()
    page.goto(f"{api.url}/ui/approvals")
    _sign_in(page, "bob", "bob-password-123")
    page.wait_for_url("**/ui/approvals")
    assert "Nothing is waiting for your decision." in page.inner_text("main")
    page.goto(url)
    assert "Access denied to resume this execution" in page.inner_text("main")
    assert page.get_by_role("button", name="Resume").count() == 0
    snapshot(page, "human-task-not-assigned")
    as_bob.close()

    as_ana = chromium.new_context(viewport={"width": 375, "height": 740})
    page = as_ana.new_page()
    page.goto(f"{api.url}/ui/approvals")
    _sign_in(page, "ana@example.com", "ana-password-123")
    page.wait_for_url("**/ui/approvals")
    assert execution_id in page.inner_text("main")
    snapshot(page, "inbox")
    _accessible(page)
    page.get_by_role("button", name="Resume").click()
    ended = api.wait(execution_id, state_is("SUCCESS"))
    assert ended["taskRunList"][0]["outputs"]["resumed"]["by"] == "ana"
    as_ana.close()
