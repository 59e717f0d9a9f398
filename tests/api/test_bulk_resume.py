"""Bulk resume over HTTP, on SQLite and PostgreSQL: executions that cannot be resumed (a
required ``onResume`` value missing, already resumed, resumed by someone else meanwhile) are
reported and the others resumed, each with exactly one RESUME audit record, its pause timer
cancelled and nothing written for the ones skipped."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from sqlalchemy import text
from tests.api.conftest import ADMIN, Api, state_is
from tests.api.hitl import form, paused, task_states

# A pause timer an hour away: resuming it must cancel the timer (a write inside the
# execution's savepoint, so a PostgreSQL savepoint is really opened and released).
TIMED = """\
id: timed
namespace: company.mixed
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1H
    behavior: RESUME
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""

# Resuming without values cannot work: ``code`` is required and has no default.
NEEDS_CODE = """\
id: needs
namespace: company.mixed
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: code
        type: STRING
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.code }}"
"""


def resume_audits(api: Api, execution_id: str) -> list[dict[str, Any]]:
    response = api.client.get(
        "/api/v1/main/auditlogs/search",
        params={"executionId": execution_id, "action": "RESUME", "size": 50},
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def timers_of(api: Api, execution_id: str) -> int:
    with api.store.transaction() as tx:
        connection = tx.connection  # type: ignore[attr-defined]
        query = text("SELECT count(*) FROM timers WHERE execution_id = :id")
        return int(connection.execute(query, {"id": execution_id}).scalar_one())


def test_bulk_resume_by_query_resumes_the_others_and_reports_the_rest(api: Api) -> None:
    api.deploy(TIMED)
    api.deploy(NEEDS_CODE)
    resumable = paused(api, "company.mixed", "timed", 3)
    [needs] = paused(api, "company.mixed", "needs")
    [earlier] = paused(api, "company.mixed", "timed")
    first = api.client.post(f"/api/v1/executions/{earlier}/resume")
    assert first.status_code == 204, first.text
    api.wait(earlier, state_is("SUCCESS"))
    assert all(timers_of(api, e) == 1 for e in resumable)

    response = api.client.post(
        "/api/v1/main/executions/resume/by-query",
        params={"filters[namespace][EQUALS]": "company.mixed"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3
    reported = {i["invalidValue"]: i["message"] for i in body["invalids"]}
    assert set(reported) == {needs, earlier}
    assert reported[earlier] == "execution not paused (it is SUCCESS)"
    assert "code" in reported[needs]
    for execution_id in resumable:
        done = api.wait(execution_id, state_is("SUCCESS", "FAILED"))
        assert task_states(done) == {"wait": "SUCCESS", "after": "SUCCESS"}
        [record] = resume_audits(api, execution_id)
        assert record["principal"]["name"] == "admin"
        assert timers_of(api, execution_id) == 0
    assert len(resume_audits(api, earlier)) == 1
    # The one with a missing value is untouched: still paused, no record, no version change.
    left = api.client.get(f"/api/v1/executions/{needs}").json()
    assert left["state"]["current"] == "PAUSED"
    assert task_states(left) == {"wait": "PAUSED"}
    assert resume_audits(api, needs) == []
    fixed = api.client.post(f"/api/v1/executions/{needs}/resume", **form(code="42"))
    assert fixed.status_code == 204, fixed.text
    assert api.wait(needs, state_is("SUCCESS"))["state"]["current"] == "SUCCESS"


def test_bulk_resume_by_ids_skips_the_one_with_a_missing_value(api: Api) -> None:
    api.deploy(TIMED)
    api.deploy(NEEDS_CODE)
    resumable = paused(api, "company.mixed", "timed", 2)
    [needs] = paused(api, "company.mixed", "needs")

    response = api.client.post(
        "/api/v1/main/executions/resume/by-ids", json=[resumable[0], needs, resumable[1]]
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2
    [invalid] = body["invalids"]
    assert invalid["invalidValue"] == needs
    assert "code" in invalid["message"]
    for execution_id in resumable:
        api.wait(execution_id, state_is("SUCCESS"))
        assert len(resume_audits(api, execution_id)) == 1
    assert api.client.get(f"/api/v1/executions/{needs}").json()["state"]["current"] == "PAUSED"
    assert resume_audits(api, needs) == []


def test_bulk_resume_racing_single_resumes_has_one_winner_each(api: Api) -> None:
    api.deploy(TIMED)
    ids = paused(api, "company.mixed", "timed", 12)
    singles = ids[::2]
    answers: dict[str, int] = {}
    bulk: dict[str, Any] = {}
    go = threading.Barrier(len(singles) + 1)

    def single(execution_id: str) -> None:
        with httpx.Client(base_url=api.url, auth=ADMIN) as client:
            go.wait()
            answers[execution_id] = client.post(
                f"/api/v1/executions/{execution_id}/resume"
            ).status_code

    threads = [threading.Thread(target=single, args=(e,)) for e in singles]
    for thread in threads:
        thread.start()
    go.wait()
    bulk_response = api.client.post(
        "/api/v1/main/executions/resume/by-query",
        params={"filters[namespace][EQUALS]": "company.mixed"},
    )
    for thread in threads:
        thread.join()

    assert bulk_response.status_code == 200, bulk_response.text
    bulk = bulk_response.json()
    assert set(answers.values()) <= {204, 409}
    lost_by_bulk = {i["invalidValue"] for i in bulk["invalids"]}
    won_by_singles = {e for e, status in answers.items() if status == 204}
    # Every execution was resumed once: by the bulk action or by its single resume.
    assert bulk["count"] + len(won_by_singles) == len(ids)
    assert lost_by_bulk == won_by_singles
    for message in (i["message"] for i in bulk["invalids"]):
        assert message.startswith(("execution not paused", "not paused"))
    for execution_id in ids:
        api.wait(execution_id, state_is("SUCCESS"))
        assert len(resume_audits(api, execution_id)) == 1
