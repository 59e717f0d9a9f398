"""``appLink()`` renders the current execution's page: through ``perch server local`` (with
PERCH_URL, and without it the server's own address), and in a Slack message sent to a
recording server. The same server reads PERCH_HTTP_DENY_NETWORKS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import Api, open_test_store, start_api, stop_api
from tests.e2e.conftest import ADMIN, Server
from tests.integrations.conftest import Receiver, errors_of, run_flow, task_run

LINK_FLOW = """\
id: linked
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "Approve at {{ appLink() }}"
  - id: links
    type: io.kestra.plugin.core.output.OutputValues
    values:
      current: "{{ appLink() }}"
      app: "{{ appLink('someId') }}"
      path: "{{ appLink(baseUrl=false) }}"
  - id: denied
    type: io.kestra.plugin.core.http.Request
    uri: "http://127.0.0.2:9/"
    allowFailure: true
"""


class _ConfiguredServer(Server):
    def __init__(self, data_dir: Path, log_path: Path, env: dict[str, str]) -> None:
        super().__init__(data_dir, log_path)
        self.extra = env

    def _env(self) -> dict[str, str]:
        return {**super()._env(), **self.extra}


def _run_on_server(
    tmp_path: Path, env: dict[str, str]
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    data = tmp_path / "data"
    data.mkdir()
    server = _ConfiguredServer(data, tmp_path / "server.log", env)
    server.start()
    try:
        with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as client:
            deployed = client.post(
                "/api/v1/flows",
                content=LINK_FLOW,
                headers={"Content-Type": "application/x-yaml"},
            )
            assert deployed.status_code == 200, deployed.text
            started = client.post("/api/v1/main/executions/company.team/linked")
            assert started.status_code == 200, started.text
            execution_id = started.json()["id"]
            for _ in range(300):
                execution = client.get(f"/api/v1/executions/{execution_id}").json()
                if execution["state"]["current"] in ("SUCCESS", "WARNING", "FAILED"):
                    break
                time.sleep(0.05)
            logs = client.get(f"/api/v1/logs/{execution_id}").json()
            return server.url, execution, logs
    finally:
        server.stop()


def test_applink_names_the_execution_page_under_perch_url(tmp_path: Path) -> None:
    _, execution, logs = _run_on_server(
        tmp_path,
        {"PERCH_URL": "https://perch.example.com/", "PERCH_HTTP_DENY_NETWORKS": "127.0.0.2/32"},
    )
    page = f"https://perch.example.com/ui/executions/company.team/linked/{execution['id']}"
    assert execution["state"]["current"] == "WARNING"
    assert task_run(execution, "links")["outputs"]["values"] == {
        "current": page,
        "app": page,
        "path": f"/ui/executions/company.team/linked/{execution['id']}",
    }
    messages = {(line.get("taskId"), line["level"]): line["message"] for line in logs}
    assert messages["log", "INFO"] == f"Approve at {page}"
    assert messages["denied", "ERROR"] == (
        "Refused to connect to 127.0.0.2 on port 9: 127.0.0.2/32 is listed in "
        "PERCH_HTTP_DENY_NETWORKS"
    )


def test_without_perch_url_applink_uses_the_servers_own_address(tmp_path: Path) -> None:
    url, execution, _ = _run_on_server(tmp_path, {"PERCH_URL": ""})
    values = task_run(execution, "links")["outputs"]["values"]
    assert values["current"] == f"{url}/ui/executions/company.team/linked/{execution['id']}"


SEED_FLOW = """\
id: vacation_approval
namespace: company.team
inputs:
  - id: employee
    type: STRING
    defaults: Ann
tasks:
  - id: notify
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{url}/hr"
    payload: |
      {{
        "channel": "#vacation-approvals",
        "text": "From {{{{ inputs.employee }}}}\\nApprove: {{{{ appLink('appId') }}}}"
      }}
"""


def test_a_slack_message_carries_the_link(linked_api: Api, receiver: Receiver) -> None:
    execution = run_flow(linked_api, SEED_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS", errors_of(linked_api, execution, "notify")
    page = f"{linked_api.url}/ui/executions/company.team/vacation_approval/{execution['id']}"
    assert receiver.requests[0].json() == {
        "channel": "#vacation-approvals",
        "text": f"From Ann\nApprove: {page}",
    }


def test_without_a_wired_address_applink_fails_the_task(backend: str, tmp_path: Path) -> None:
    api = start_api(open_test_store(backend, tmp_path), linked=False)
    try:
        flow = LINK_FLOW.replace("linked", "unlinked")
        execution = run_flow(api, flow)
        assert execution["state"]["current"] == "FAILED"
        errors = errors_of(api, execution, "log")
        assert any("appLink() is not available here" in e for e in errors)
    finally:
        stop_api(api)
