"""The execution page follows its logs live in headless Chromium: a paused execution resumed
elsewhere (over the API) shows its new log lines without a reload, as text."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.browser.conftest import DESKTOP, snapshot
from tests.browser.test_approvals_in_browser import _sign_in

__all__ = ["api", "backend"]

pytestmark = pytest.mark.browser

GATED = """\
id: gated
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: before the pause
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "<img src=x onerror=alert(1)> after the pause"
"""


def test_logs_appear_while_the_page_is_open(api: Api, chromium: Any) -> None:
    api.deploy(GATED)
    started = api.client.post("/api/v1/main/executions/company.team/gated").json()
    api.wait(started["id"], state_is("PAUSED"))
    link = f"{api.url}/ui/executions/company.team/gated/{started['id']}"
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(link)
    _sign_in(page, *ADMIN)
    page.wait_for_url(link)
    logs = page.locator("ol.logs")
    assert "before the pause" in logs.inner_text()
    assert "after the pause" not in logs.inner_text()

    assert api.client.post(f"/api/v1/main/executions/{started['id']}/resume").status_code == 204
    line = logs.locator("li", has_text="after the pause")
    line.wait_for(timeout=10_000)
    assert "<img src=x onerror=alert(1)> after the pause" in line.inner_text()
    assert logs.locator("img").count() == 0
    assert logs.locator("li", has_text="before the pause").count() == 1
    snapshot(page, "execution-live-logs")
    context.close()
