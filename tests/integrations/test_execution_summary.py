"""SlackExecution, TeamsExecution and MailExecution through the real API and engine: in
``afterExecution`` of a flow that failed, each sends the summary (flow, namespace, execution,
final state, the task that failed, custom fields and message) with a link to the execution
page, to a recording HTTP server and a real SMTP server on loopback. An ``executionId`` that is
neither this execution nor its trigger fails; the trigger's execution is summarised from the
trigger variables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from perch.flows.tasks.notifications import SlackExecution
from perch.tasks.context import RunContext
from perch.tasks.summary import SummaryError, summarise
from tests.api.conftest import Api
from tests.integrations.conftest import Receiver, errors_of, run_flow, task_run
from tests.integrations.smtp import MailServer

SUMMARY_FLOW = """\
id: nightly_report
namespace: company.team
inputs:
  - id: employee
    type: STRING
    defaults: Ann
tasks:
  - id: prepare
    type: io.kestra.plugin.core.log.Log
    message: preparing
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
afterExecution:
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: "RECEIVER/slack"
    channel: "#alerts"
    username: Perch
    iconEmoji: ":bird:"
    customFields:
      Employee: "{{ inputs.employee }}"
    customMessage: "Report for {{ inputs.employee }}"
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsExecution
    url: "RECEIVER/teams"
    activityTitle: "Nightly report of {{ flow.id }}"
    themeColor: "#FF0000"
    customFields:
      Employee: "{{ inputs.employee }}"
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailExecution
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: ops@example.com
    customFields: '{"Run": "nightly"}'
    customMessage: "Report for {{ inputs.employee }}"
    templateUri: "kestra:///company/team/report.peb"
"""


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


def _facts(rows: list[dict[str, Any]], name: str, value: str) -> dict[str, str]:
    return {row[name]: row[value] for row in rows}


def test_the_summaries_name_the_execution_and_link_to_its_page(
    linked_api: Api, receiver: Receiver, smtp: MailServer
) -> None:
    flow = SUMMARY_FLOW.replace("RECEIVER", receiver.url).replace("PORT", str(smtp.port))
    execution = run_flow(linked_api, flow, inputs={"employee": "Zoë <b>&"})
    assert execution["state"]["current"] == "FAILED"
    for task_id in ("slack", "teams", "mail"):
        run = task_run(execution, task_id)
        assert run["state"]["current"] == "SUCCESS", errors_of(linked_api, execution, task_id)
    page = f"{linked_api.url}/ui/executions/company.team/nightly_report/{execution['id']}"

    [slack] = receiver.at("/slack")
    message = slack.json()
    assert message["channel"] == "#alerts"
    assert message["username"] == "Perch"
    assert message["icon_emoji"] == ":bird:"
    assert message["text"] == f"<{page}|company.team.nightly_report ➛ FAILED>"
    [attachment] = message["attachments"]
    assert attachment["title_link"] == page
    assert attachment["text"] == "Report for Zoë &lt;b&gt;&amp;"
    fields = _facts(attachment["fields"], "title", "value")
    assert fields["Namespace"] == "company.team"
    assert fields["Flow"] == "nightly_report"
    assert fields["Execution"] == execution["id"]
    assert fields["State"] == "FAILED"
    assert fields["Failed task"] == "boom"
    assert fields["Employee"] == "Zoë &lt;b&gt;&amp;"
    assert fields["Started"].endswith(" UTC")
    assert fields["Duration"].endswith(" s")

    [teams] = receiver.at("/teams")
    card = teams.json()
    assert card["@type"] == "MessageCard"
    assert card["themeColor"] == "FF0000"
    [section] = card["sections"]
    assert section["activityTitle"] == "Nightly report of nightly_report"
    assert section["activitySubtitle"] == f"Execution {execution['id']}"
    facts = _facts(section["facts"], "name", "value")
    assert facts["State"] == "FAILED"
    assert facts["Execution"] == execution["id"]
    assert facts["Employee"] == "Zoë <b>&"
    assert card["potentialAction"] == [
        {
            "@type": "OpenUri",
            "name": "Open the execution",
            "targets": [{"os": "default", "uri": page}],
        }
    ]

    [got] = smtp.wait()
    assert got.rcpt_tos == ["ops@example.com"]
    mail = got.message()
    assert mail["Subject"] == (
        f"company.team.nightly_report ➛ FAILED (execution {execution['id']})"
    )
    plain, html = list(mail.iter_parts())
    text = plain.get_content()
    assert "State: FAILED\n" in text
    assert "Failed task: boom\n" in text
    assert "Run: nightly\n" in text
    assert "Report for Zoë <b>&\n" in text
    assert f"Open the execution: {page}\n" in text
    markup = html.get_content()
    assert f'<a href="{page}">Open the execution</a>' in markup
    assert "Report for Zoë &lt;b&gt;&amp;" in markup
    assert "<b>&" not in markup
    lines = linked_api.client.get(f"/api/v1/logs/{execution['id']}").json()
    mail_lines = [
        (line["level"], line["message"]) for line in lines if line.get("taskId") == "mail"
    ]
    assert (
        "WARN",
        "templateUri and templateRenderMap are not supported; the built-in execution summary "
        "is sent",
    ) in mail_lines
    assert ("INFO", f"Mail sent to ops@example.com (subject {mail['Subject']!r})") in mail_lines


OTHER_FLOW = """\
id: other_summary
namespace: company.team
tasks:
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: "RECEIVER/slack"
    executionId: 4xyzNotThisOne
"""


def test_an_execution_id_of_another_execution_fails(linked_api: Api, receiver: Receiver) -> None:
    execution = run_flow(linked_api, OTHER_FLOW.replace("RECEIVER", receiver.url))
    assert execution["state"]["current"] == "FAILED"
    assert errors_of(linked_api, execution, "slack") == [
        "executionId '4xyzNotThisOne' is neither this execution nor the one that triggered it; "
        "summaries of other executions are not supported"
    ]
    assert receiver.requests == []


def _context(variables: dict[str, Any]) -> RunContext:
    page = "/ui/executions/company.team/downstream/e2"

    def app_link(app_id: str | None = None, base_url: bool | None = None) -> str:
        return page if base_url is False else f"https://perch.example.com{page}"

    return RunContext(variables=variables, hooks={"appLink": app_link}, execution_id="e2")


def _task(**properties: Any) -> SlackExecution:
    return SlackExecution.model_validate(
        {
            "id": "notify",
            "type": "io.kestra.plugin.notifications.slack.SlackExecution",
            "url": "http://127.0.0.1:9/",
            **properties,
        }
    )


def test_the_triggering_execution_is_summarised_from_the_trigger_variables() -> None:
    started = datetime.now(UTC) - timedelta(minutes=3, seconds=5)
    variables: dict[str, Any] = {
        "flow": {"id": "downstream", "namespace": "company.team", "tenantId": "main"},
        "execution": {"id": "e2", "state": "RUNNING", "startDate": started},
        "task": {"id": "notify"},
        "tasks": {"notify": {"state": "RUNNING"}},
        "trigger": {
            "executionId": "e1",
            "namespace": "company.ops",
            "flowId": "upstream",
            "state": "FAILED",
        },
    }
    summary, logs = summarise(_context(variables), _task(executionId="{{ trigger.executionId }}"))
    assert logs == ()
    assert summary.execution_id == "e1"
    assert summary.flow_id == "upstream"
    assert summary.namespace == "company.ops"
    assert summary.state == "FAILED"
    assert summary.start_date is None
    assert summary.link == "https://perch.example.com/ui/executions/company.ops/upstream/e1"

    own, _ = summarise(_context(variables), _task())
    assert own.execution_id == "e2"
    assert own.state == "RUNNING"
    assert own.failed_task is None
    assert own.link == "https://perch.example.com/ui/executions/company.team/downstream/e2"
    assert own.duration is not None
    assert timedelta(minutes=3) < own.duration < timedelta(minutes=4)

    with pytest.raises(SummaryError):
        summarise(_context(variables), _task(executionId="e9"))
