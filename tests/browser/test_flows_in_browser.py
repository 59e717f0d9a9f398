"""A flow's author in headless Chromium: a new flow typed into the editor shows its typo with
its line as it is typed, and no problem once fixed; Save leads to the flow's page with its graph;
the Execute form refuses a bad value next to its field, then starts the execution and leads to
its page. The revisions diff and the roll back confirmation are looked at too. Every page is
saved as a screenshot (desktop and 375 px) and checked with axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.browser.conftest import DESKTOP, serious_violations, snapshot

__all__ = ["api", "backend"]

pytestmark = pytest.mark.browser

SOURCE = """\
id: greet
namespace: company.team
description: Greets someone, a few times
labels:
  team: docs
inputs:
  - id: name
    type: STRING
    displayName: Who to greet
  - id: times
    type: INT
    min: 1
    max: 5
    defaults: 2
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    mesage: "Hello {{ inputs.name }}"  # the typo
  - id: repeat
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2]
    tasks:
      - id: check
        type: io.kestra.plugin.core.flow.If
        condition: "{{ inputs.times > 1 }}"
        then:
          - id: again
            type: io.kestra.plugin.core.log.Log
            message: again
        else:
          - id: once
            type: io.kestra.plugin.core.log.Log
            message: once
"""
TYPO_LINE = 18


def _sign_in(page: Any, login: str, password: str) -> None:
    page.get_by_label("Username or e-mail").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _accessible(page: Any) -> None:
    assert serious_violations(page) == []


def test_write_save_look_at_and_execute_a_flow(api: Api, chromium: Any) -> None:
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{api.url}/ui/flows")
    _sign_in(page, *ADMIN)
    page.wait_for_url("**/ui/flows")
    assert "No flow matches." in page.inner_text("main")
    page.get_by_role("link", name="New flow").click()
    page.wait_for_url("**/ui/flows/new")
    page.locator(".code .highlight").wait_for()  # the editor is enhanced
    page.locator("#problems-status", has_text="No problems found.").wait_for()

    editor = page.get_by_label("Flow source (YAML)")
    editor.fill(SOURCE)
    problem = page.locator("#problem-list li", has_text="mesage")
    problem.wait_for()
    assert f"Line {TYPO_LINE}, column 5" in problem.inner_text()
    assert "did you mean 'message'?" in problem.inner_text()
    assert page.locator(".code .gutter .bad").all_inner_texts() == ["16", "18"]
    assert page.locator(".tok-expr").first.inner_text() == "{{ inputs.name }}"
    assert page.locator(".tok-comment").first.inner_text() == "# the typo"
    assert editor.get_attribute("aria-invalid") == "true"
    snapshot(page, "flow-editor-problem")
    _accessible(page)
    problem.get_by_role("button").click()  # goes to the line
    assert editor.evaluate("a => a.value.slice(a.selectionStart, a.selectionEnd)") == (
        '    mesage: "Hello {{ inputs.name }}"  # the typo'
    )

    editor.fill(SOURCE.replace("mesage", "message"))
    page.locator("#problems-status", has_text="No problems found.").wait_for()
    assert page.locator("#problem-list li").count() == 0
    snapshot(page, "flow-editor-valid")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/ui/flows/company.team/greet?saved=1")
    assert "Saved as revision 1." in page.inner_text("main")
    graph = page.locator("svg.graph")
    assert graph.is_visible()
    assert graph.locator("g.node").count() == 5
    assert page.get_by_role("img", name="Task check, type io.kestra.plugin.core.flow.If").count()
    snapshot(page, "flow-page")
    _accessible(page)

    page.get_by_role("link", name="Execute").click()
    page.wait_for_url("**/ui/flows/company.team/greet/execute")
    assert page.get_by_label("times").input_value() == "2"  # the default
    assert page.get_by_label("times").get_attribute("max") == "5"  # the browser checks too
    page.get_by_label("times").fill("3")
    page.get_by_role("button", name="Execute").click()  # without a name
    error = page.locator("#i-name-error")
    error.wait_for()
    assert "required" in error.inner_text().lower()
    assert page.get_by_label("Who to greet").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("times").input_value() == "3"  # what was sent is kept
    snapshot(page, "flow-execute-error")
    _accessible(page)
    page.get_by_label("Who to greet").fill("Zoë")
    page.get_by_role("button", name="Execute").click()
    page.wait_for_url("**/ui/executions/company.team/greet/*")
    execution_id = page.url.rsplit("/", 1)[1]
    done = api.wait(execution_id, state_is("SUCCESS"))
    assert done["inputs"] == {"name": "Zoë", "times": 3}
    page.reload()
    assert page.locator("#state").inner_text() == "SUCCESS"
    context.close()


def test_compare_revisions_and_roll_back(api: Api, chromium: Any) -> None:
    first = SOURCE.replace("mesage", "message")
    api.deploy(first)
    second = first.replace("message: again", "message: once more")
    answer = api.client.put(
        "/api/v1/flows/company.team/greet",
        content=second,
        headers={"Content-Type": "application/x-yaml"},
    )
    assert answer.status_code == 200, answer.text
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{api.url}/ui/flows")
    _sign_in(page, *ADMIN)
    page.wait_for_url("**/ui/flows")
    page.get_by_label("Namespace", exact=True).fill("company")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/ui/flows?namespace=company&q=")
    row = page.locator("table.flows tbody tr")
    assert row.count() == 1
    assert "team: docs" in row.inner_text()
    snapshot(page, "flows")
    _accessible(page)
    page.get_by_role("link", name="greet").click()
    page.get_by_role("link", name="Revisions").click()
    page.wait_for_url("**/ui/flows/company.team/greet/revisions")
    removed = page.locator("table.diff tr.removed")
    added = page.locator("table.diff tr.added")
    assert "message: again" in removed.inner_text()
    assert "message: once more" in added.inner_text()
    snapshot(page, "flow-revisions")
    _accessible(page)
    page.get_by_role("link", name="Roll back to 1").click()
    page.wait_for_url("**/revisions/1/restore")
    snapshot(page, "flow-restore")
    _accessible(page)
    page.get_by_role("button", name="Roll back").click()
    page.wait_for_url("**/ui/flows/company.team/greet?restored=1")
    assert "Revision 1 restored as revision 3." in page.inner_text("main")
    context.close()
