"""Slack and Teams incoming webhooks through the real API and engine, against a recording
server on loopback: the rendered payload arrives as JSON, messageText becomes Slack mrkdwn, a
payload that is not JSON fails naming the error and its place (and sends nothing), a webhook
that answers an error fails the task, and a task timeout stops a request that hangs."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.integrations.conftest import Receiver, errors_of, run_flow, task_run

SLACK_FLOW = """\
id: slack_notify
namespace: company.team
inputs:
  - id: employee
    type: STRING
    defaults: Ann
tasks:
  - id: payload
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{url}/services/T1/B2/xyz"
    options:
      headers:
        X-Team: "{{{{ flow.namespace }}}}"
    payload: |
      {{
        "channel": "#vacation-approvals",
        "text": "Review request from {{{{ inputs.employee }}}}\\n*Flow*: {{{{ flow.id }}}}"
      }}
  - id: markdown
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{url}/services/markdown"
    messageText: "**{{{{ inputs.employee }}}}** asks __politely__: [open](https://example.com/x)"
  - id: json_text
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{url}/services/json"
    messageText: '{{"blocks": [{{"type": "divider"}}]}}'
"""


def test_slack_payloads_arrive_rendered(api: Api, receiver: Receiver) -> None:
    receiver.reply("/services/T1/B2/xyz", body=b"ok", headers={"Content-Type": "text/plain"})
    execution = run_flow(api, SLACK_FLOW.format(url=receiver.url), inputs={"employee": "Zoë"})
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "payload")

    [payload] = receiver.at("/services/T1/B2/xyz")
    assert payload.method == "POST"
    assert payload.header("content-type") == "application/json"
    assert payload.header("x-team") == "company.team"
    assert payload.json() == {
        "channel": "#vacation-approvals",
        "text": "Review request from Zoë\n*Flow*: slack_notify",
    }
    assert task_run(execution, "payload").get("outputs") in (None, {})
    [markdown] = receiver.at("/services/markdown")
    assert markdown.json() == {"text": "*Zoë* asks _politely_: <https://example.com/x|open>"}
    [as_json] = receiver.at("/services/json")
    assert as_json.json() == {"blocks": [{"type": "divider"}]}


BAD_FLOW = """\
id: slack_bad
namespace: company.team
inputs:
  - id: employee
    type: STRING
tasks:
  - id: notify
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{url}/services/bad"
    payload: |
      {{
        "text": "Review request from {{{{ inputs.employee }}}}"
      }}
"""


def test_a_payload_that_is_not_json_fails_with_its_place_and_sends_nothing(
    api: Api, receiver: Receiver
) -> None:
    execution = run_flow(
        api, BAD_FLOW.format(url=receiver.url), inputs={"employee": 'Ann "the boss"'}
    )
    assert execution["state"]["current"] == "FAILED"
    assert errors_of(api, execution, "notify") == [
        "The rendered payload is not valid JSON: Expecting ',' delimiter at line 2, column 37 "
        """(near: '"text": "Review request from Ann "the boss""'); nothing was sent"""
    ]
    assert receiver.requests == []


TEAMS_FLOW = """\
id: teams_notify
namespace: company.team
tasks:
  - id: card
    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
    url: "{url}/webhookb2/ok"
    payload: |
      {{
        "@type": "MessageCard",
        "themeColor": "0076D7",
        "summary": "{{{{ flow.id }}}} is pending approval",
        "sections": [{{"activityTitle": "Execution {{{{ execution.id }}}}", "markdown": true}}]
      }}
  - id: refused
    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
    url: "{url}/webhookb2/refused"
    payload: '{{"text": "x"}}'
"""


def test_teams_cards_arrive_and_an_error_answer_fails_the_task(
    api: Api, receiver: Receiver
) -> None:
    receiver.reply(
        "/webhookb2/refused",
        status=400,
        body=b"Bad payload received by generic incoming webhook.",
        headers={"Content-Type": "text/plain"},
    )
    execution = run_flow(api, TEAMS_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "FAILED"

    [card] = receiver.at("/webhookb2/ok")
    assert card.json() == {
        "@type": "MessageCard",
        "themeColor": "0076D7",
        "summary": "teams_notify is pending approval",
        "sections": [{"activityTitle": f"Execution {execution['id']}", "markdown": True}],
    }
    assert errors_of(api, execution, "refused") == [
        "The Teams webhook answered 400 Bad Request: "
        "Bad payload received by generic incoming webhook."
    ]


HANGING_FLOW = """\
id: hanging
namespace: company.team
tasks:
  - id: slow
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{url}/hang"
    payload: '{{"text": "x"}}'
    timeout: PT0.5S
    options:
      readTimeout: PT30S
"""


def test_a_task_timeout_stops_a_request_that_hangs(api: Api, receiver: Receiver) -> None:
    receiver.reply("/hang", delay=10.0)
    execution = run_flow(api, HANGING_FLOW.format(url=receiver.url), timeout=8.0)
    assert task_run(execution, "slow")["state"]["current"] in ("FAILED", "KILLED")
    assert execution["state"]["current"] in ("FAILED", "KILLED")
    assert len(receiver.at("/hang")) == 1
