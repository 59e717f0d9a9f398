"""Resuming over HTTP: one execution (multipart ``onResume`` values, 204), the dry run
(``/resume/validate``), by ids (all or nothing) and by query, with Kestra's codes and bodies."""

from __future__ import annotations

from tests.api.conftest import Api, state_is
from tests.api.hitl import (
    APPROVAL,
    HOLD,
    QUICK,
    create,
    form,
    outputs_of,
    paused,
    service_token,
    task_states,
)


def test_resume_with_form_values_runs_the_rest(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")

    response = api.client.post(
        f"/api/v1/executions/{execution_id}/resume",
        **form(approved="true", reason="looks fine", level="3", ignored="x"),
    )

    assert response.status_code == 204, response.text
    assert response.content == b""
    done = api.wait(execution_id, state_is("SUCCESS", "FAILED", "WARNING"))
    assert done["state"]["current"] == "SUCCESS"
    wait = outputs_of(done, "wait")
    assert wait["onResume"] == {
        "approved": True,
        "reason": "looks fine",
        "level": 3,
        "pin": None,
    }
    assert wait["resumed"]["by"] == "admin"
    assert wait["resumed"]["to"] == "SUCCESS"
    assert wait["resumed"]["on"]
    assert task_states(done) == {"before": "SUCCESS", "wait": "SUCCESS", "after": "SUCCESS"}


def test_resume_twice_is_a_conflict_naming_who_won(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")
    first = api.client.post(f"/api/v1/executions/{execution_id}/resume", **form(approved="true"))
    assert first.status_code == 204, first.text

    second = api.client.post(f"/api/v1/executions/{execution_id}/resume", **form(approved="false"))

    assert second.status_code == 409
    body = second.json()
    assert body["message"] == (
        f"Illegal state: Execution '{execution_id}' is not paused, can't resume it"
    )
    assert body["resumedBy"] == "admin"
    done = api.wait(execution_id, state_is("SUCCESS"))
    assert outputs_of(done, "wait")["onResume"]["approved"] is True


def test_bad_values_are_422_naming_each_input_and_it_stays_paused(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")

    response = api.client.post(
        f"/api/v1/executions/{execution_id}/resume", **form(approved="perhaps", level="9")
    )

    assert response.status_code == 422
    errors = response.json()["_embedded"]["errors"]
    assert sorted(e["path"] for e in errors) == ["approved", "level"]
    assert "approved" in response.json()["message"]
    assert api.client.get(f"/api/v1/executions/{execution_id}").json()["state"]["current"] == (
        "PAUSED"
    )


def test_missing_required_value_is_422_and_a_later_good_resume_works(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")

    missing = api.client.post(f"/api/v1/executions/{execution_id}/resume")

    assert missing.status_code == 422
    assert [e["path"] for e in missing.json()["_embedded"]["errors"]] == ["approved"]
    again = api.client.post(f"/api/v1/executions/{execution_id}/resume", **form(approved="false"))
    assert again.status_code == 204, again.text
    done = api.wait(execution_id, state_is("SUCCESS"))
    assert outputs_of(done, "wait")["onResume"]["approved"] is False


def test_secret_values_are_never_shown(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")

    response = api.client.post(
        f"/api/v1/executions/{execution_id}/resume",
        **form(approved="true", pin="tops3cret-1234"),
    )

    assert response.status_code == 204, response.text
    api.wait(execution_id, state_is("SUCCESS"))
    shown = api.client.get(f"/api/v1/executions/{execution_id}")
    assert "tops3cret-1234" not in shown.text


def test_json_body_and_tenant_path_and_bearer_token(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")
    token = service_token(api, "approver-bot")

    with api.as_token(token) as client:
        response = client.post(
            f"/api/v1/main/executions/{execution_id}/resume",
            json={"approved": True, "reason": "automated"},
        )

    assert response.status_code == 204, response.text
    done = api.wait(execution_id, state_is("SUCCESS"))
    wait = outputs_of(done, "wait")
    assert wait["onResume"]["reason"] == "automated"
    assert wait["resumed"]["by"] == "approver-bot"


def test_unknown_other_tenant_and_anonymous(api: Api) -> None:
    api.add_tenant("elsewhere")
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")

    unknown = api.client.post("/api/v1/executions/nope123/resume", **form(approved="true"))
    other_tenant = api.client.post(
        f"/api/v1/elsewhere/executions/{execution_id}/resume", **form(approved="true")
    )
    with api.anonymous() as client:
        anonymous = client.post(
            f"/api/v1/executions/{execution_id}/resume", **form(approved="true")
        )

    assert unknown.status_code == 404
    assert other_tenant.status_code == 404
    assert anonymous.status_code == 401
    assert api.client.get(f"/api/v1/executions/{execution_id}").json()["state"]["current"] == (
        "PAUSED"
    )


def test_resume_a_manual_pause_with_an_empty_body(api: Api) -> None:
    api.deploy(HOLD)
    [execution_id] = paused(api, "company.bulk", "hold")

    response = api.client.post(f"/api/v1/executions/{execution_id}/resume")

    assert response.status_code == 204, response.text
    done = api.wait(execution_id, state_is("SUCCESS"))
    assert outputs_of(done, "wait")["resumed"]["by"] == "admin"


def test_resume_a_task_run_that_is_not_paused_is_a_conflict(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")
    before = api.client.get(f"/api/v1/executions/{execution_id}").json()
    finished_run = next(r["id"] for r in before["taskRunList"] if r["taskId"] == "before")
    paused_run = next(r["id"] for r in before["taskRunList"] if r["taskId"] == "wait")

    wrong = api.client.post(
        f"/api/v1/executions/{execution_id}/resume",
        params={"taskRunId": finished_run},
        **form(approved="true"),
    )
    right = api.client.post(
        f"/api/v1/executions/{execution_id}/resume",
        params={"taskRunId": paused_run},
        **form(approved="true"),
    )

    assert wrong.status_code == 409
    assert right.status_code == 204, right.text


# --- validate --------------------------------------------------------------------------------


def test_validate_reports_each_input_and_changes_nothing(api: Api) -> None:
    api.deploy(APPROVAL)
    [execution_id] = paused(api, "company.team", "approval")

    response = api.client.post(
        f"/api/v1/executions/{execution_id}/resume/validate",
        **form(approved="perhaps", level="2", pin="hidden-pin-99"),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "approval"
    assert body["namespace"] == "company.team"
    assert body["checks"] == []
    by_id = {i["input"]["id"]: i for i in body["inputs"]}
    assert list(by_id) == ["approved", "reason", "level", "pin"]
    assert by_id["approved"]["errors"]
    assert by_id["approved"]["input"]["type"] == "BOOLEAN"
    assert by_id["approved"]["input"]["description"] == "Approve?"
    assert by_id["reason"] == {
        "input": by_id["reason"]["input"],
        "value": "none given",
        "enabled": True,
        "isDefault": True,
        "errors": [],
    }
    assert by_id["level"]["value"] == 2
    assert by_id["level"]["isDefault"] is False
    assert "hidden-pin-99" not in response.text
    again = api.client.get(f"/api/v1/executions/{execution_id}").json()
    assert again["state"]["current"] == "PAUSED"


def test_validate_needs_a_paused_execution(api: Api) -> None:
    api.deploy(QUICK)
    execution_id = create(api, "company.bulk", "quick")
    api.wait(execution_id, state_is("SUCCESS"))

    response = api.client.post(f"/api/v1/executions/{execution_id}/resume/validate")
    missing = api.client.post("/api/v1/executions/nothing-here/resume/validate")

    assert response.status_code == 409
    assert "is not paused" in response.json()["message"]
    assert missing.status_code == 404


# --- bulk ------------------------------------------------------------------------------------


def test_resume_by_ids_then_again_is_400_listing_each(api: Api) -> None:
    api.deploy(HOLD)
    ids = paused(api, "company.bulk", "hold", 3)

    first = api.client.post("/api/v1/executions/resume/by-ids", json=ids)
    second = api.client.post("/api/v1/executions/resume/by-ids", json=ids)

    assert first.status_code == 200, first.text
    assert first.json()["count"] == 3
    assert second.status_code == 400
    body = second.json()
    assert body["message"] == "invalid bulk resume"
    assert sorted(i["invalidValue"] for i in body["invalids"]) == sorted(ids)
    assert {i["message"] for i in body["invalids"]} == {"execution not in state PAUSED"}
    for execution_id in ids:
        done = api.wait(execution_id, state_is("SUCCESS"))
        assert outputs_of(done, "wait")["resumed"]["by"] == "admin"


def test_resume_by_ids_is_all_or_nothing(api: Api) -> None:
    api.deploy(HOLD)
    ids = paused(api, "company.bulk", "hold", 2)

    response = api.client.post("/api/v1/executions/resume/by-ids", json=[*ids, "ghost-id"])

    assert response.status_code == 400
    assert response.json()["invalids"] == [
        {"invalidValue": "ghost-id", "message": "execution not found"}
    ]
    for execution_id in ids:
        state = api.client.get(f"/api/v1/executions/{execution_id}").json()["state"]
        assert state["current"] == "PAUSED"


def test_resume_by_ids_does_not_reach_another_tenant(api: Api) -> None:
    api.add_tenant("elsewhere")
    api.deploy(HOLD)
    [execution_id] = paused(api, "company.bulk", "hold")

    response = api.client.post("/api/v1/elsewhere/executions/resume/by-ids", json=[execution_id])

    assert response.status_code == 400
    assert response.json()["invalids"][0]["message"] == "execution not found"


def test_resume_by_query_resumes_the_paused_and_reports_the_others(api: Api) -> None:
    api.deploy(HOLD)
    api.deploy(QUICK)
    ids = paused(api, "company.bulk", "hold", 3)
    finished = create(api, "company.bulk", "quick")
    api.wait(finished, state_is("SUCCESS"))

    by_state = api.client.post(
        "/api/v1/executions/resume/by-query",
        params={"filters[namespace][EQUALS]": "company.bulk", "filters[state][EQUALS]": "PAUSED"},
    )
    assert by_state.status_code == 200, by_state.text
    assert by_state.json() == {"count": 3, "invalids": []}
    for execution_id in ids:
        api.wait(execution_id, state_is("SUCCESS"))

    more = paused(api, "company.bulk", "hold", 2)
    legacy = api.client.post(
        "/api/v1/executions/resume/by-query", params={"namespace": "company.bulk"}
    )
    assert legacy.status_code == 200, legacy.text
    assert legacy.json()["count"] == 2
    reported = {i["invalidValue"]: i["message"] for i in legacy.json()["invalids"]}
    assert set(reported) == {*ids, finished}
    assert reported[finished] == "execution not paused (it is SUCCESS)"
    for execution_id in more:
        api.wait(execution_id, state_is("SUCCESS"))


def test_bulk_body_must_be_a_list_of_ids(api: Api) -> None:
    response = api.client.post("/api/v1/executions/resume/by-ids", json={"id": "x"})
    empty = api.client.post("/api/v1/executions/resume/by-ids", json=[])
    unreadable = api.client.post(
        "/api/v1/executions/resume/by-ids",
        content=b"\xff\t",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert unreadable.status_code == 422
    assert unreadable.json()["message"].startswith("Invalid json")
    assert empty.status_code == 200
    assert empty.json()["count"] == 0
