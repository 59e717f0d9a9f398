"""Pause, kill, restart and replay over HTTP, one at a time and in bulk, with Kestra's codes."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, state_is
from tests.api.hitl import FAILING, HOLD, QUICK, SLOW, create, paused, task_states


def get(api: Api, execution_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/executions/{execution_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def running(api: Api, count: int = 1) -> list[str]:
    """Executions RUNNING for an hour (a Sleep), to pause or kill."""
    api.deploy(SLOW)
    ids = [create(api, "company.bulk", "slow") for _ in range(count)]
    for execution_id in ids:
        api.wait(execution_id, lambda e: task_states(e).get("nap") == "RUNNING")
    return ids


def finished(api: Api, flow_id: str = "quick", state: str = "SUCCESS") -> str:
    """An execution of a deployed flow, once it has ended in ``state``."""
    execution_id = create(api, "company.bulk", flow_id)
    api.wait(execution_id, state_is(state))
    return execution_id


# --- pause -----------------------------------------------------------------------------------


def test_pause_a_running_execution_then_resume_it(api: Api) -> None:
    [execution_id] = running(api)

    response = api.client.post(f"/api/v1/executions/{execution_id}/pause")
    again = api.client.post(f"/api/v1/executions/{execution_id}/pause")

    assert response.status_code == 200, response.text
    assert response.content == b""
    assert get(api, execution_id)["state"]["current"] == "PAUSED"
    assert again.status_code == 422
    assert again.json()["message"] == "Illegal argument: The execution is not running"
    resumed = api.client.post(f"/api/v1/executions/{execution_id}/resume")
    assert resumed.status_code == 204, resumed.text
    assert get(api, execution_id)["state"]["current"] == "RUNNING"


def test_pause_unknown_or_finished(api: Api) -> None:
    api.deploy(QUICK)
    done = finished(api)

    unknown = api.client.post("/api/v1/executions/no-such-id/pause")
    ended = api.client.post(f"/api/v1/executions/{done}/pause")

    assert unknown.status_code == 404
    assert ended.status_code == 422


def test_pause_by_ids_and_by_query(api: Api) -> None:
    ids = running(api, 3)

    first = api.client.post("/api/v1/executions/pause/by-ids", json=ids[:2])
    second = api.client.post("/api/v1/executions/pause/by-ids", json=ids)
    by_query = api.client.post(
        "/api/v1/executions/pause/by-query",
        params={"filters[flowId][EQUALS]": "slow", "filters[namespace][EQUALS]": "company.bulk"},
    )

    assert first.status_code == 200, first.text
    assert first.json()["count"] == 2
    assert second.status_code == 400
    assert second.json()["message"] == "invalid bulk pause"
    assert {i["invalidValue"]: i["message"] for i in second.json()["invalids"]} == {
        ids[0]: "execution not running",
        ids[1]: "execution not running",
    }
    assert by_query.status_code == 200, by_query.text
    assert by_query.json()["count"] == 1
    assert sorted(i["invalidValue"] for i in by_query.json()["invalids"]) == sorted(ids[:2])
    assert {get(api, i)["state"]["current"] for i in ids} == {"PAUSED"}


# --- kill ------------------------------------------------------------------------------------


def test_kill_a_paused_execution_at_once(api: Api) -> None:
    api.deploy(HOLD)
    [execution_id] = paused(api, "company.bulk", "hold")

    response = api.client.delete(f"/api/v1/executions/{execution_id}/kill")
    again = api.client.delete(f"/api/v1/executions/{execution_id}/kill")

    assert response.status_code == 202, response.text
    assert response.content == b""
    killed = get(api, execution_id)
    assert killed["state"]["current"] == "KILLED"
    assert "after" not in task_states(killed)
    assert again.status_code == 409
    assert again.json()["message"] == (
        "Illegal state: Execution is already finished, can't kill it"
    )
    resume = api.client.post(f"/api/v1/executions/{execution_id}/resume")
    assert resume.status_code == 409


def test_kill_a_running_execution(api: Api) -> None:
    [execution_id] = running(api)

    response = api.client.delete(
        f"/api/v1/main/executions/{execution_id}/kill", params={"isOnKillCascade": "true"}
    )

    assert response.status_code == 202, response.text
    killed = api.wait(execution_id, state_is("KILLED"))
    assert task_states(killed)["nap"] == "KILLED"


def test_kill_unknown_and_other_tenant(api: Api) -> None:
    api.add_tenant("elsewhere")
    api.deploy(HOLD)
    [execution_id] = paused(api, "company.bulk", "hold")

    unknown = api.client.delete("/api/v1/executions/no-such-id/kill")
    elsewhere = api.client.delete(f"/api/v1/elsewhere/executions/{execution_id}/kill")

    assert unknown.status_code == 404
    assert elsewhere.status_code == 404
    assert get(api, execution_id)["state"]["current"] == "PAUSED"


def test_kill_by_ids_is_all_or_nothing(api: Api) -> None:
    api.deploy(HOLD)
    ids = paused(api, "company.bulk", "hold", 2)
    api.deploy(QUICK)
    done = finished(api)

    refused = api.client.request(
        "DELETE", "/api/v1/executions/kill/by-ids", json=[*ids, done, "ghost"]
    )

    assert refused.status_code == 400
    assert refused.json()["message"] == "invalid bulk kill"
    assert refused.json()["invalids"] == [
        {"invalidValue": done, "message": "execution already finished"},
        {"invalidValue": "ghost", "message": "execution not found"},
    ]
    assert {get(api, i)["state"]["current"] for i in ids} == {"PAUSED"}

    accepted = api.client.request("DELETE", "/api/v1/executions/kill/by-ids", json=ids)

    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"count": 2, "invalids": []}
    assert {get(api, i)["state"]["current"] for i in ids} == {"KILLED"}


def test_kill_by_query(api: Api) -> None:
    api.deploy(HOLD)
    ids = paused(api, "company.bulk", "hold", 2)
    api.deploy(QUICK)
    done = finished(api)

    response = api.client.delete(
        "/api/v1/executions/kill/by-query", params={"filters[namespace][PREFIX]": "company"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["count"] == 2
    assert response.json()["invalids"] == [
        {"invalidValue": done, "message": "execution not running or paused (it is SUCCESS)"}
    ]
    assert {get(api, i)["state"]["current"] for i in ids} == {"KILLED"}


# --- restart ---------------------------------------------------------------------------------


def test_restart_a_failed_execution_keeps_its_id(api: Api) -> None:
    api.deploy(FAILING)
    execution_id = finished(api, "failing", "FAILED")

    response = api.client.post(f"/api/v1/executions/{execution_id}/restart")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == execution_id
    assert "RESTARTED" in [h["state"] for h in body["state"]["histories"]]
    assert {"key": "system.restarted", "value": "true"} in body["labels"]
    # The Fail task fails again: the restart ran it a second time.
    again = api.wait(execution_id, state_is("FAILED"))
    states = [h["state"] for h in again["state"]["histories"]]
    assert states.count("FAILED") == 2
    assert task_states(again) == {"first": "SUCCESS", "boom": "FAILED"}


def test_restart_refuses_a_successful_execution_and_another_revision(api: Api) -> None:
    api.deploy(QUICK)
    done = finished(api)
    api.deploy(FAILING)
    failed = finished(api, "failing", "FAILED")

    refused = api.client.post(f"/api/v1/executions/{done}/restart")
    other_revision = api.client.post(f"/api/v1/executions/{failed}/restart", params={"revision": 7})
    unknown = api.client.post("/api/v1/executions/no-such-id/restart")

    assert refused.status_code == 409
    assert "can't be restarted" in refused.json()["message"]
    assert other_revision.status_code == 422
    assert unknown.status_code == 404


def test_restart_by_ids(api: Api) -> None:
    api.deploy(FAILING)
    failed = [finished(api, "failing", "FAILED") for _ in range(2)]
    api.deploy(QUICK)
    done = finished(api)

    refused = api.client.post("/api/v1/executions/restart/by-ids", json=[*failed, done])
    accepted = api.client.post("/api/v1/executions/restart/by-ids", json=failed)

    assert refused.status_code == 400
    assert refused.json()["message"] == "invalid bulk restart"
    assert [i["invalidValue"] for i in refused.json()["invalids"]] == [done]
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["count"] == 2
    for execution_id in failed:
        again = api.wait(execution_id, state_is("FAILED"))
        assert "RESTARTED" in [h["state"] for h in again["state"]["histories"]]


# --- replay ----------------------------------------------------------------------------------


def test_replay_is_a_new_execution(api: Api) -> None:
    api.deploy(FAILING)
    original = finished(api, "failing", "FAILED")
    runs = get(api, original)["taskRunList"]
    boom = next(r["id"] for r in runs if r["taskId"] == "boom")

    whole = api.client.post(f"/api/v1/executions/{original}/replay")
    partial = api.client.post(
        f"/api/v1/executions/{original}/replay", params={"taskRunId": boom, "revision": 1}
    )

    assert whole.status_code == 200, whole.text
    assert whole.json()["id"] != original
    assert whole.json()["originalId"] == original
    assert partial.status_code == 200, partial.text
    replayed = api.wait(partial.json()["id"], state_is("FAILED"))
    assert replayed["originalId"] == original
    first = next(r for r in replayed["taskRunList"] if r["taskId"] == "first")
    assert first["id"] not in {r["id"] for r in runs}
    assert get(api, original)["state"]["current"] == "FAILED"


def test_replay_refuses_unknown_task_run_and_revision(api: Api) -> None:
    api.deploy(QUICK)
    original = finished(api)

    unknown_run = api.client.post(
        f"/api/v1/executions/{original}/replay", params={"taskRunId": "nope"}
    )
    unknown_revision = api.client.post(
        f"/api/v1/executions/{original}/replay", params={"revision": 9}
    )
    unknown = api.client.post("/api/v1/executions/no-such-id/replay")

    assert unknown_run.status_code == 422
    assert "nope" in unknown_run.json()["message"]
    assert unknown_revision.status_code == 404
    assert unknown.status_code == 404


def test_values_the_database_cannot_hold_are_refused_not_server_errors(api: Api) -> None:
    nul_id = "/api/v1/executions/a%00b"

    answers = [
        api.client.post(f"{nul_id}/resume"),
        api.client.post(f"{nul_id}/resume/validate"),
        api.client.post(f"{nul_id}/pause"),
        api.client.delete(f"{nul_id}/kill"),
        api.client.post(f"{nul_id}/restart"),
        api.client.post(f"{nul_id}/replay"),
        api.client.post("/api/v1/executions/resume/by-ids", json=["a\u0000b"]),
        api.client.request("DELETE", "/api/v1/executions/kill/by-ids", json=["a\u0000b"]),
        api.client.post("/api/v1/executions/some-id/replay", params={"revision": 10**12}),
        api.client.post("/api/v1/executions/some-id/resume", params={"taskRunId": "a\u0000"}),
    ]

    assert [a.status_code for a in answers] == [422] * len(answers)
