"""FILE ``onResume`` inputs over HTTP: a file part sent with the resume is stored with the
execution as a create-time FILE input is, the value is its ``kestra:///`` URI, and the bytes
download through the same route."""

from __future__ import annotations

from tests.api.conftest import Api, state_is
from tests.api.hitl import outputs_of, paused

REVIEW = """\
id: review
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: signed
        type: FILE
      - id: note
        type: STRING
        required: false
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.signed }}"
"""

CONTENT = b"signed by ana\n" + bytes(range(256))


def test_a_file_sent_with_the_resume_is_stored_and_can_be_downloaded(api: Api) -> None:
    api.deploy(REVIEW)
    [execution_id] = paused(api, "company.team", "review")

    checked = api.client.post(
        f"/api/v1/executions/{execution_id}/resume/validate",
        files=[("signed", ("contract.pdf", CONTENT, "application/pdf"))],
    )
    assert checked.status_code == 200, checked.text

    response = api.client.post(
        f"/api/v1/executions/{execution_id}/resume",
        files=[("signed", ("contract.pdf", CONTENT, "application/pdf")), ("note", (None, "ok"))],
    )
    assert response.status_code == 204, response.text
    done = api.wait(execution_id, state_is("SUCCESS", "FAILED", "WARNING"))
    assert done["state"]["current"] == "SUCCESS"
    wait = outputs_of(done, "wait")
    uri = wait["onResume"]["signed"]
    run_id = next(run["id"] for run in done["taskRunList"] if run["taskId"] == "wait")
    assert uri == (
        f"kestra:///company/team/review/executions/{execution_id}/{run_id}/resume/signed/"
        "contract.pdf"
    )
    assert wait["onResume"]["note"] == "ok"

    download = api.client.get(f"/api/v1/executions/{execution_id}/file", params={"path": uri})
    assert download.status_code == 200, download.text
    assert download.content == CONTENT


def test_a_file_for_a_text_input_is_refused_and_the_execution_stays_paused(api: Api) -> None:
    api.deploy(REVIEW)
    [execution_id] = paused(api, "company.team", "review")

    response = api.client.post(
        f"/api/v1/executions/{execution_id}/resume",
        files=[
            ("signed", ("a.txt", b"a", "text/plain")),
            ("note", ("b.txt", b"b", "text/plain")),
        ],
    )
    assert response.status_code == 422, response.text
    assert "note" in response.text
    current = api.client.get(f"/api/v1/executions/{execution_id}").json()
    assert current["state"]["current"] == "PAUSED"
