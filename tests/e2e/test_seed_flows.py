"""The seed documents' flows end to end, on SQLite and PostgreSQL, against real peers on
loopback: the API server with ``appLink()`` wired to its own address, a recording HTTP receiver
standing in for Slack, Teams and the HR system, and an aiosmtpd server for mail.

The flows are the ones in ``../shared/seeds/human-in-the-loop-overview.md`` and
``pause-and-resume-guide.md`` and Perch's copies of them in ``examples/``, changed only where
they name a peer (a URL, an SMTP host and port). Everything is driven over HTTP as a user
would: secrets and KV values through their APIs, executions started and resumed with
multipart form fields (as ``curl -F``).

``http.Request`` decodes a JSON answer (``outputs.<id>.body`` is a map, as the integrations
issue asks): rendered as text it is compact JSON, not the server's own spacing as in Kestra,
and ``fromJson(outputs.<id>.body)`` still works.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import tests.integrations.conftest as integration
from tests.api.conftest import Api, state_is
from tests.integrations.conftest import Receiver, task_run
from tests.integrations.smtp import MailServer

# The integration tests' fixtures: an API whose appLink() names its own address (on SQLite and
# PostgreSQL), the recording receiver, and the default outbound network policy (autouse).
backend = integration.backend
linked_api = integration.linked_api
receiver = integration.receiver
default_network_policy = integration.default_network_policy

EXAMPLES = Path(__file__).parents[2] / "examples"
NAMESPACES = "/api/v1/main/namespaces"
ENDED = ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")


# --- the seeds' flows ----------------------------------------------------------------------

VACATION_APPROVAL = """\
id: vacation_approval
namespace: hr.operations
inputs:
  - id: employee
    type: STRING
    required: false
  - id: start_date
    type: DATE
  - id: end_date
    type: DATE
tasks:
  - id: notify_manager
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{{ secret('SLACK_HR_WEBHOOK') }}"
    payload: |
      {
        "channel": "#vacation-approvals",
        "text": "Review request from {{ inputs.employee ?? labels.system.username }}\\n*Dates*: {{ inputs.start_date }} → {{ inputs.end_date }}\\nApprove: {{ appLink('appId') }}"
      }
  - id: await_decision
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        description: Approve this request?
      - id: reason
        type: STRING
        description: Decision notes
  - id: update_hr_system
    type: io.kestra.plugin.core.http.Request
    uri: "{{ kv('HR_API_ENDPOINT') }}/approvals"
    method: POST
    contentType: multipart/form-data
    formData:
      employee: "{{ inputs.employee ?? labels.system.username }}"
      approvalStatus: "{{ outputs.await_decision.onResume.approved ? 'APPROVED' : 'REJECTED' }}"
      notes: "{{ outputs.await_decision.onResume.reason }}"
      resumedBy: "{{ outputs.await_decision.resumed.by }}"
      resumedOn: "{{ outputs.await_decision.resumed.on }}"
      resumedStatus: "{{ outputs.await_decision.resumed.to }}" # by default: SUCCESS
  - id: log_result
    type: io.kestra.plugin.core.log.Log
    message: |
      Decision: {{ outputs.await_decision.onResume }}
"""  # noqa: E501
"""The overview's vacation approval flow, as written (its peers come from a secret and a KV)."""

VACATION_APPROVAL_PROCESS = """\
id: vacation_approval_process
namespace: company.team

inputs:
  - id: request.name
    type: STRING
    defaults: Rick Astley

  - id: request.start_date
    type: DATE
    defaults: 2024-07-01

  - id: request.end_date
    type: DATE
    defaults: 2024-07-07

  - id: slack_webhook_uri
    type: URI
    defaults: RECEIVER/api/slack

tasks:
  - id: sendApprovalRequest
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{{ inputs.slack_webhook_uri }}"
    payload: |
      {
        "channel": "#vacation",
        "text": "Validate holiday request for {{ inputs.request.name }}. To approve the request, click on the `Resume` button here http://localhost:28080/ui/executions/{{flow.namespace}}/{{flow.id}}/{{execution.id}}"
      }

  - id: waitForApproval
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        description: Approve the request?
        type: BOOLEAN
        defaults: true
      - id: reason
        description: Reason for approval or rejection?
        type: STRING
        defaults: Approved

  - id: approve
    type: io.kestra.plugin.core.http.Request
    uri: RECEIVER/api/products
    method: POST
    contentType: application/json
    body: "{{ inputs.request }}"

  - id: log
    type: io.kestra.plugin.core.log.Log
    message: Status is {{ outputs.waitForApproval.onResume.reason }}. Process finished with {{ outputs.approve.body }}
"""  # noqa: E501
"""The pause-and-resume guide's manual approval flow; ``https://reqres.in`` became the
receiver (the link in the message text is text, not a peer, and stays as written)."""


def example(name: str, **peers: str) -> str:
    """``examples/<name>.yaml``, with each ``old=new`` substitution in ``peers`` made."""
    source = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
    for old, new in peers.items():
        assert old in source, old
        source = source.replace(old, new)
    return source


# --- helpers -------------------------------------------------------------------------------


def put_secret(api: Api, namespace: str, key: str, value: str) -> None:
    answer = api.client.put(f"{NAMESPACES}/{namespace}/secrets/{key}", json={"value": value})
    assert answer.status_code == 204, answer.text


def put_kv(api: Api, namespace: str, key: str, value: str) -> None:
    answer = api.client.put(
        f"{NAMESPACES}/{namespace}/kv/{key}",
        content=value.encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text


def fields(**values: str | list[str]) -> dict[str, Any]:
    """Multipart form fields, as ``curl -F name=value`` sends them."""
    parts: list[tuple[str, tuple[None, str]]] = []
    for name, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            parts.append((name, (None, one)))
    return {"files": parts}


def start(api: Api, namespace: str, flow_id: str, **inputs: str) -> str:
    answer = api.client.post(
        f"/api/v1/main/executions/{namespace}/{flow_id}", **(fields(**inputs) if inputs else {})
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def paused_at(api: Api, execution_id: str, task_id: str) -> dict[str, Any]:
    """Wait until the execution is PAUSED on ``task_id`` (failing early if it ended)."""

    def there(body: dict[str, Any]) -> bool:
        assert body["state"]["current"] not in ENDED, [
            (r["taskId"], r["state"]["current"]) for r in body["taskRunList"]
        ]
        return body["state"]["current"] == "PAUSED" and any(
            r["taskId"] == task_id and r["state"]["current"] == "PAUSED"
            for r in body["taskRunList"]
        )

    return api.wait(execution_id, there, timeout=20)


def resume(client: httpx.Client, execution_id: str, **values: str | list[str]) -> None:
    answer = client.post(
        f"/api/v1/main/executions/{execution_id}/resume", **(fields(**values) if values else {})
    )
    assert answer.status_code == 204, answer.text


def ended(api: Api, execution_id: str) -> dict[str, Any]:
    return api.wait(execution_id, state_is(*ENDED), timeout=20)


def logs(api: Api, execution_id: str, task_id: str | None = None) -> list[str]:
    lines = api.client.get(f"/api/v1/main/logs/{execution_id}").json()
    return [line["message"] for line in lines if task_id is None or line.get("taskId") == task_id]


def task_ids(execution: dict[str, Any]) -> list[str]:
    return [run["taskId"] for run in execution["taskRunList"]]


def page_of(api: Api, namespace: str, flow_id: str, execution_id: str) -> str:
    return f"{api.url}/ui/executions/{namespace}/{flow_id}/{execution_id}"


def executions_of(api: Api, namespace: str, flow_id: str) -> list[dict[str, Any]]:
    answer = api.client.get(
        "/api/v1/main/executions/search",
        params={"namespace": namespace, "flowId": flow_id, "size": 100},
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["results"])


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


# --- 1. the overview's vacation approval ---------------------------------------------------


def test_vacation_approval_rejected_reaches_slack_and_the_hr_system(
    linked_api: Api, receiver: Receiver
) -> None:
    api = linked_api
    put_secret(api, "hr.operations", "SLACK_HR_WEBHOOK", f"{receiver.url}/services/T0/B0/x")
    put_kv(api, "hr.operations", "HR_API_ENDPOINT", f"{receiver.url}/hr")
    api.deploy(VACATION_APPROVAL)

    execution_id = start(
        api, "hr.operations", "vacation_approval", start_date="2027-07-01", end_date="2027-07-09"
    )
    paused = paused_at(api, execution_id, "await_decision")
    assert paused["state"]["current"] == "PAUSED"

    [slack] = receiver.at("/services/T0/B0/x")
    assert slack.method == "POST"
    assert slack.header("content-type") == "application/json"
    link = page_of(api, "hr.operations", "vacation_approval", execution_id)
    assert slack.json() == {
        "channel": "#vacation-approvals",
        "text": f"Review request from admin\n*Dates*: 2027-07-01 → 2027-07-09\nApprove: {link}",
    }
    # Nothing reached the HR system while the execution waited.
    assert receiver.at("/hr/approvals") == []

    before = datetime.now(UTC)
    resume(api.client, execution_id, approved="false", reason="Team at capacity that week")
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS", task_ids(done)
    assert task_ids(done) == ["notify_manager", "await_decision", "update_hr_system", "log_result"]

    [hr] = receiver.at("/hr/approvals")
    assert hr.method == "POST"
    assert (hr.header("content-type") or "").startswith("multipart/form-data; boundary=")
    parts = {part.name: part.content.decode() for part in hr.parts()}
    assert [part.filename for part in hr.parts()] == [None] * 6
    resumed_on = parts.pop("resumedOn")
    assert parts == {
        "employee": "admin",
        "approvalStatus": "REJECTED",
        "notes": "Team at capacity that week",
        "resumedBy": "admin",
        "resumedStatus": "SUCCESS",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", resumed_on), resumed_on
    on = datetime.fromisoformat(resumed_on.replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= on <= datetime.now(UTC)
    decision = task_run(done, "await_decision")["outputs"]
    assert decision["resumed"] == {"by": "admin", "on": resumed_on, "to": "SUCCESS"}

    # The message is a YAML block: it ends in a newline, logged as written.
    assert logs(api, execution_id, "log_result") == [
        'Decision: {"approved":false,"reason":"Team at capacity that week"}\n'
    ]
    assert len(receiver.requests) == 2

    # Named in the form, and approved: the other side of the ternary.
    second = start(
        api,
        "hr.operations",
        "vacation_approval",
        employee="Ada Lovelace",
        start_date="2027-08-02",
        end_date="2027-08-06",
    )
    paused_at(api, second, "await_decision")
    assert (
        receiver.at("/services/T0/B0/x")[1]
        .json()["text"]
        .startswith(
            "Review request from Ada Lovelace\n*Dates*: 2027-08-02 → 2027-08-06\nApprove: "
            + page_of(api, "hr.operations", "vacation_approval", second)
        )
    )
    resume(api.client, second, approved="true", reason="Within policy limits")
    assert ended(api, second)["state"]["current"] == "SUCCESS"
    approved = {p.name: p.content.decode() for p in receiver.at("/hr/approvals")[1].parts()}
    assert approved["employee"] == "Ada Lovelace"
    assert approved["approvalStatus"] == "APPROVED"
    assert approved["notes"] == "Within policy limits"
    assert logs(api, second, "log_result") == [
        'Decision: {"approved":true,"reason":"Within policy limits"}\n'
    ]


def test_vacation_request_example_records_an_approval(linked_api: Api, receiver: Receiver) -> None:
    api = linked_api
    put_secret(api, "examples.hr", "SLACK_HR_WEBHOOK", f"{receiver.url}/slack")
    put_kv(api, "examples.hr", "HR_API_ENDPOINT", f"{receiver.url}/hr")
    api.deploy(example("vacation_request"))
    execution_id = start(
        api, "examples.hr", "vacation_request", first_day="2027-01-04", last_day="2027-01-08"
    )
    paused_at(api, execution_id, "manager_decision")
    [slack] = receiver.at("/slack")
    link = page_of(api, "examples.hr", "vacation_request", execution_id)
    assert slack.json() == {
        "channel": "#time-off",
        "text": f"admin asks for 2027-01-04 to 2027-01-08. Decide here: {link}",
    }
    resume(api.client, execution_id, approved="true", reason="Enjoy")
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS", logs(api, execution_id)
    [hr] = receiver.at("/hr/approvals")
    parts = {part.name: part.content.decode() for part in hr.parts()}
    on = task_run(done, "manager_decision")["outputs"]["resumed"]["on"]
    assert parts == {
        "employee": "admin",
        "status": "APPROVED",
        "notes": "Enjoy",
        "decidedBy": "admin",
        "decidedOn": on,
    }
    assert logs(api, execution_id, "summary") == [
        'Decision recorded: {"approved":true,"reason":"Enjoy"}'
    ]


# --- 2. the If branch on a rejection sends a mail ------------------------------------------


def test_branch_on_decision_mails_the_rejection(linked_api: Api, smtp: MailServer) -> None:
    api = linked_api
    api.deploy(
        example(
            "branch_on_decision",
            **{
                "        from: approvals@perch.local\n": (
                    "        host: 127.0.0.1\n"
                    f"        port: {smtp.port}\n"
                    "        transportStrategy: SMTP\n"
                    "        from: approvals@perch.local\n"
                )
            },
        )
    )
    execution_id = start(
        api, "examples.hr", "branch_on_decision", employee_email="ada@perch.local", amount="120.5"
    )
    paused_at(api, execution_id, "review")
    assert smtp.messages == []

    resume(api.client, execution_id, approved="false", reason="Over the travel budget", team="HR")
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS", logs(api, execution_id)
    assert task_ids(done) == ["review", "on_rejection", "tell_employee"]

    [received] = smtp.wait(1)
    assert received.mail_from == "approvals@perch.local"
    assert received.rcpt_tos == ["ada@perch.local"]
    assert not received.encrypted
    assert received.login is None
    message = received.message()
    assert message["From"] == "approvals@perch.local"
    assert message["To"] == "ada@perch.local"
    assert message["Subject"] == "Expense declined"
    assert message["Date"]
    assert message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert html.get_content_type() == "text/html"
    assert html.get_content().strip() == "Reason: Over the travel budget"
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().strip() == "Reason: Over the travel budget"


# --- 3. Pause + Flow trigger ---------------------------------------------------------------


def test_downstream_starts_once_after_the_paused_upstream_succeeds(linked_api: Api) -> None:
    api = linked_api
    api.deploy(example("paused_upstream"))
    api.deploy(example("downstream_on_success"))
    upstream = start(api, "examples.patterns", "paused_upstream")
    paused_at(api, upstream, "hold")
    time.sleep(0.5)
    assert executions_of(api, "examples.patterns", "downstream_on_success") == []

    # As the example's comment: curl -X POST .../executions/<id>/resume -F status=OK
    resume(api.client, upstream, status="OK")
    done = ended(api, upstream)
    assert done["state"]["current"] == "SUCCESS"
    assert task_run(done, "hold")["outputs"]["onResume"] == {"status": "OK"}

    deadline = time.monotonic() + 15
    while not (found := executions_of(api, "examples.patterns", "downstream_on_success")):
        assert time.monotonic() < deadline, "the downstream flow never started"
        time.sleep(0.05)
    [downstream] = found
    second = ended(api, downstream["id"])
    assert second["state"]["current"] == "SUCCESS"
    assert second["trigger"]["id"] == "after_upstream"
    assert second["trigger"]["type"] == "io.kestra.plugin.core.trigger.Flow"
    assert logs(api, downstream["id"], "second_half") == [f"Upstream {upstream} finished SUCCESS"]
    time.sleep(0.5)
    assert len(executions_of(api, "examples.patterns", "downstream_on_success")) == 1


# --- 4. Pause + Subflow --------------------------------------------------------------------


def test_pause_then_subflow_runs_the_worker_after_resume(linked_api: Api) -> None:
    api = linked_api
    api.deploy(example("subflow_worker"))
    api.deploy(example("pause_then_subflow"))
    execution_id = start(api, "examples.patterns", "pause_then_subflow")
    paused_at(api, execution_id, "hold")
    assert executions_of(api, "examples.patterns", "subflow_worker") == []

    resume(api.client, execution_id, status="green")
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS", task_ids(done)
    assert task_ids(done) == ["hold", "rest_of_the_work"]
    child_id = task_run(done, "rest_of_the_work")["outputs"]["executionId"]
    [child] = executions_of(api, "examples.patterns", "subflow_worker")
    assert child["id"] == child_id
    worker = ended(api, child_id)
    assert worker["state"]["current"] == "SUCCESS"
    assert worker["inputs"] == {"status": "green"}
    assert logs(api, child_id, "work") == [f"Status green (correlation {execution_id})"]


# --- 5. the other seed flows ---------------------------------------------------------------


def test_guide_vacation_approval_process_posts_the_request(
    linked_api: Api, receiver: Receiver
) -> None:
    api = linked_api
    receiver.reply("/api/products", status=201, body=b'{"id": "261", "name": "Rick Astley"}')
    api.deploy(VACATION_APPROVAL_PROCESS.replace("RECEIVER", receiver.url))
    execution_id = start(api, "company.team", "vacation_approval_process")
    paused_at(api, execution_id, "waitForApproval")
    [slack] = receiver.at("/api/slack")
    assert slack.json() == {
        "channel": "#vacation",
        "text": (
            "Validate holiday request for Rick Astley. To approve the request, click on the "
            "`Resume` button here http://localhost:28080/ui/executions/company.team/"
            f"vacation_approval_process/{execution_id}"
        ),
    }

    resume(api.client, execution_id)  # the form's defaults: approved, "Approved"
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS", logs(api, execution_id)
    assert task_run(done, "waitForApproval")["outputs"]["onResume"] == {
        "approved": True,
        "reason": "Approved",
    }
    [products] = receiver.at("/api/products")
    assert products.method == "POST"
    assert products.header("content-type") == "application/json"
    assert products.json() == {
        "name": "Rick Astley",
        "start_date": "2024-07-01",
        "end_date": "2024-07-07",
    }
    assert products.body == (
        b'{"name":"Rick Astley","start_date":"2024-07-01","end_date":"2024-07-07"}'
    )
    [line] = logs(api, execution_id, "log")
    # The JSON answer is decoded: rendered back as text it is compact JSON.
    assert line == 'Status is Approved. Process finished with {"id":"261","name":"Rick Astley"}'


def test_holiday_with_defaults(linked_api: Api, receiver: Receiver) -> None:
    api = linked_api
    api.deploy(example("holiday_with_defaults", **{"http://127.0.0.1:9/": f"{receiver.url}/"}))
    execution_id = start(api, "examples.hr", "holiday_with_defaults")
    paused_at(api, execution_id, "decide")
    [slack] = receiver.at("/hooks/holidays")
    assert slack.json() == {
        "text": (
            "Holiday for Ada Lovelace: open /ui/executions/examples.hr/holiday_with_defaults/"
            f"{execution_id} to decide."
        )
    }
    resume(api.client, execution_id)
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS"
    assert logs(api, execution_id, "done") == ["Ada Lovelace: Approved"]


def test_model_signoff_ships_to_the_chosen_regions(linked_api: Api, receiver: Receiver) -> None:
    api = linked_api
    put_secret(api, "examples.ml", "TEAMS_WEBHOOK", f"{receiver.url}/webhookb2/team")
    api.deploy(example("model_signoff"))
    execution_id = start(api, "examples.ml", "model_signoff")
    paused_at(api, execution_id, "analyst_check")
    assert "accuracy=0.93" in logs(api, execution_id, "evaluate")
    [teams] = receiver.at("/webhookb2/team")
    assert teams.method == "POST"
    link = page_of(api, "examples.ml", "model_signoff", execution_id)
    assert teams.json() == {"text": f"Model churn-classifier is waiting for review: {link}"}

    resume(
        api.client, execution_id, verdict="SHIP", observed_accuracy="0.93", regions=["eu", "apac"]
    )
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS", logs(api, execution_id)
    assert task_run(done, "analyst_check")["outputs"]["onResume"] == {
        "verdict": "SHIP",
        "observed_accuracy": 0.93,
        "regions": ["eu", "apac"],
    }
    assert task_ids(done) == ["evaluate", "alert", "analyst_check", "route", "ship"]
    assert logs(api, execution_id, "ship") == ["Shipping to eu, apac"]
