"""The seeds' vacation approval told in headless Chromium, through the browser only: the flow is
written in the editor (a typo shown first, then fixed) and saved; it is started from its Execute
form with dates; it pauses and its Slack message (received by a server on loopback) carries the
link to the execution; that link leads to the decision, refused while the reason is missing,
then taken with approved=false; the page shows SUCCESS, the outputs and the audit record."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import ADMIN, Api, state_is
from tests.browser.conftest import DESKTOP, serious_violations, snapshot
from tests.integrations.conftest import Receiver, backend, linked_api, receiver

__all__ = ["backend", "linked_api", "receiver"]

pytestmark = pytest.mark.browser

FLOW = """\
id: vacation_request
namespace: hr.operations
inputs:
  - id: start_date
    type: DATE
    displayName: First day off
  - id: end_date
    type: DATE
    displayName: Last day off
tasks:
  - id: ask_manager
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{url}/services/hr"
    messageText: >-
      Vacation {{{{ inputs.start_date }}}} to {{{{ inputs.end_date }}}}: {{{{ appLink() }}}}
  - id: await_decision
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        displayName: Approve this request?
        defaults: true
      - id: reason
        type: STRING
        displayName: Reason
  - id: decision
    type: io.kestra.plugin.core.log.Log
    mesage: "{{{{ outputs.await_decision.onResume.approved ? 'APPROVED' : 'REJECTED' }}}}"
"""


def _sign_in(page: Any) -> None:
    page.get_by_label("Username or e-mail").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()


def test_the_vacation_request_from_editor_to_decision(
    linked_api: Api, receiver: Receiver, chromium: Any
) -> None:
    api = linked_api
    source = FLOW.format(url=receiver.url)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{api.url}/ui/flows/new")
    _sign_in(page)
    page.wait_for_url("**/ui/flows/new")
    page.locator(".code .highlight").wait_for()
    editor = page.get_by_label("Flow source (YAML)")
    editor.fill(source)
    page.locator("#problem-list li", has_text="mesage").wait_for()
    editor.fill(source.replace("mesage", "message"))
    page.locator("#problems-status", has_text="No problems found.").wait_for()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/ui/flows/hr.operations/vacation_request?saved=1")

    page.get_by_role("link", name="Execute").click()
    page.wait_for_url("**/ui/flows/hr.operations/vacation_request/execute")
    page.get_by_label("First day off").fill("2027-07-01")
    page.get_by_label("Last day off").fill("2027-07-09")
    page.get_by_role("button", name="Execute").click()
    page.wait_for_url("**/ui/executions/hr.operations/vacation_request/*")
    execution_id = page.url.rsplit("/", 1)[1]
    api.wait(execution_id, state_is("PAUSED"))

    [message] = receiver.at("/services/hr")
    text = message.json()["text"]
    assert text.startswith("Vacation 2027-07-01 to 2027-07-09: ")
    link = text.rsplit(": ", 1)[1]
    assert link == f"{api.url}/ui/executions/hr.operations/vacation_request/{execution_id}"

    page.goto(link)
    assert page.locator("#state").inner_text() == "PAUSED"
    page.get_by_label("Approve this request?").uncheck()
    page.get_by_role("button", name="Resume").click()
    assert "required" in page.locator("#r-reason-error").inner_text().lower()
    assert api.client.get(f"/api/v1/executions/{execution_id}").json()["state"]["current"] == (
        "PAUSED"
    )
    page.get_by_label("Reason").fill("The team is short that week")
    page.get_by_role("button", name="Resume").click()
    api.wait(execution_id, state_is("SUCCESS"))
    page.reload()
    assert page.locator("#state").inner_text() == "SUCCESS"
    outputs = page.locator("section", has_text="Outputs").inner_text()
    assert '"approved": false' in outputs
    assert '"reason": "The team is short that week"' in outputs
    assert "REJECTED" in page.locator("ol.logs").inner_text()
    audit = page.locator("table.audit").inner_text()
    assert "RESUME" in audit
    snapshot(page, "vacation-story-done")
    assert serious_violations(page) == []
    context.close()
