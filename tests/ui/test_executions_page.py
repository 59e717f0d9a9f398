"""The executions list of the web UI, on SQLite and PostgreSQL: filters and paging, and bulk
actions reporting each row they did not change."""

from __future__ import annotations

import re

from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.api.hitl import create
from tests.ui.test_pages import browser, csrf_of, sign_in

__all__ = ["api", "backend"]

GATE = """\
id: gate
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: note
        type: STRING
        defaults: fine
"""
STRICT = """\
id: strict
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
"""
QUICK = """\
id: quick
namespace: company.other
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def test_filter_then_bulk_resume_reports_the_rows_it_skipped(api: Api) -> None:
    for source in (GATE, STRICT, QUICK):
        api.deploy(source)
    paused = [create(api, "company.team", "gate") for _ in range(3)]
    strict = create(api, "company.team", "strict")
    done = create(api, "company.other", "quick")
    for execution_id in [*paused, strict]:
        api.wait(execution_id, state_is("PAUSED"))
    api.wait(done, state_is("SUCCESS"))
    with browser(api) as client:
        sign_in(client, *ADMIN)
        listed = client.get("/ui/executions", params={"state": "PAUSED"})
        assert listed.status_code == 200
        shown = set(re.findall(r'name="ids" value="([^"]+)"', listed.text))
        assert shown == {*paused, strict}
        by_flow = client.get("/ui/executions", params={"namespace": "company.other"}).text
        assert re.findall(r'name="ids" value="([^"]+)"', by_flow) == [done]
        picked = [paused[0], done, strict]
        answer = client.post(
            "/ui/executions/bulk",
            data={"csrf": csrf_of(listed.text), "action": "resume", "ids": picked},
        )
    assert answer.status_code == 200
    assert "Resume: 1 done, 2 not" in answer.text
    assert f"<code>{done}</code>:" in answer.text
    assert f"<code>{strict}</code>:" in answer.text
    api.wait(paused[0], state_is("SUCCESS"))
    for execution_id in (paused[1], strict):
        api.wait(execution_id, state_is("PAUSED"))


def test_bulk_kill_of_everything_matching_the_filter(api: Api) -> None:
    api.deploy(GATE)
    paused = [create(api, "company.team", "gate") for _ in range(3)]
    for execution_id in paused:
        api.wait(execution_id, state_is("PAUSED"))
    with browser(api) as client:
        sign_in(client, *ADMIN)
        listed = client.get("/ui/executions", params={"flow": "gate", "size": 25}).text
        answer = client.post(
            "/ui/executions/bulk",
            data={"csrf": csrf_of(listed), "action": "kill", "all": "1", "flow": "gate"},
        )
        assert "Kill: 3 done" in answer.text
        assert (
            client.post(
                "/ui/executions/bulk", data={"csrf": csrf_of(listed), "action": "kill"}
            ).status_code
            == 422
        )
    for execution_id in paused:
        api.wait(execution_id, state_is("KILLED"))
