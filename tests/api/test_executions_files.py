"""FILE inputs over HTTP: a multipart part with a filename is stored with the execution, the
input's value is its ``kestra:///`` URI, and the bytes can be downloaded back."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, state_is

FILES = """\
id: files
namespace: company.team
inputs:
  - id: doc
    type: FILE
    allowedFileExtensions: [".txt", ".csv"]
  - id: note
    type: STRING
    required: false
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.doc }}"
"""

CONTENT = b"name,amount\nana,12\n" + bytes(range(256))


def _search_total(api: Api) -> int:
    found: int = api.client.get("/api/v1/executions/search").json()["total"]
    return found


def _create(api: Api, files: list[tuple[str, Any]]) -> Any:
    return api.client.post("/api/v1/executions/company.team/files", files=files)


def test_a_file_input_is_stored_and_can_be_downloaded(api: Api) -> None:
    api.deploy(FILES)
    response = _create(
        api, [("doc", ("report.csv", CONTENT, "text/csv")), ("note", (None, "hello"))]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    uri = body["inputs"]["doc"]
    assert uri == (f"kestra:///company/team/files/executions/{body['id']}/inputs/doc/report.csv")
    assert body["inputs"]["note"] == "hello"
    done = api.wait(body["id"], state_is("SUCCESS", "FAILED"))
    assert done["state"]["current"] == "SUCCESS"

    download = api.client.get(f"/api/v1/executions/{body['id']}/file", params={"path": uri})
    assert download.status_code == 200, download.text
    assert download.content == CONTENT
    assert download.headers["content-type"] == "application/octet-stream"
    assert "report.csv" in download.headers["content-disposition"]

    # Another execution's id with this URI, or an unknown URI: not found.
    other = api.client.post(
        "/api/v1/executions/company.team/files", files=[("doc", ("b.txt", b"b", "text/plain"))]
    ).json()
    assert (
        api.client.get(f"/api/v1/executions/{other['id']}/file", params={"path": uri}).status_code
        == 404
    )
    assert (
        api.client.get(
            f"/api/v1/executions/{body['id']}/file", params={"path": uri + "x"}
        ).status_code
        == 404
    )

    # Deleting the execution deletes its files.
    assert api.client.delete(f"/api/v1/executions/{body['id']}").status_code == 204
    with api.store.transaction() as tx:
        assert tx.get_file(uri) is None


def test_kestras_legacy_files_parts_name_the_input_in_the_filename(api: Api) -> None:
    api.deploy(FILES.replace('[".txt", ".csv"]', "[]"))
    response = _create(api, [("files", ("doc", b"legacy bytes", "text/plain"))])
    assert response.status_code == 200, response.text
    uri = response.json()["inputs"]["doc"]
    assert uri.endswith("/inputs/doc/doc")
    with api.store.transaction() as tx:
        assert tx.get_file(uri) == b"legacy bytes"


def test_file_problems_are_422_and_create_nothing(api: Api) -> None:
    api.deploy(FILES)
    wrong_type = _create(
        api, [("doc", ("a.txt", b"a", "text/plain")), ("note", ("n.txt", b"n", "text/plain"))]
    )
    assert wrong_type.status_code == 422, wrong_type.text
    assert [e["path"] for e in wrong_type.json()["_embedded"]["errors"]] == ["note"]
    extension = _create(api, [("doc", ("run.exe", b"MZ", "application/octet-stream"))])
    assert extension.status_code == 422, extension.text
    assert "doc" in extension.json()["message"]
    twice = _create(
        api, [("doc", ("a.txt", b"a", "text/plain")), ("doc", ("b.txt", b"b", "text/plain"))]
    )
    assert twice.status_code == 422, twice.text
    missing = _create(api, [("note", (None, "no file"))])
    assert missing.status_code == 422, missing.text
    assert _search_total(api) == 0


def test_a_file_over_10_mb_is_413(sqlite_api: Api) -> None:
    api = sqlite_api
    api.deploy(FILES)
    big = b"x" * (10 * 1024 * 1024 + 1)
    response = _create(api, [("doc", ("big.txt", big, "text/plain"))])
    assert response.status_code == 413, response.text
    assert _search_total(api) == 0
    fits = _create(api, [("doc", ("fits.txt", big[:-1], "text/plain"))])
    assert fits.status_code == 200, fits.text


def test_validate_shows_where_the_file_would_go(api: Api) -> None:
    api.deploy(FILES)
    response = api.client.post(
        "/api/v1/executions/company.team/files/validate",
        files=[("doc", ("report.txt", b"r", "text/plain"))],
    )
    assert response.status_code == 200, response.text
    [doc, note] = response.json()["inputs"]
    assert doc["errors"] == []
    assert doc["value"] == (
        "kestra:///company/team/files/executions/{executionId}/inputs/doc/report.txt"
    )
    assert note["value"] is None
    assert _search_total(api) == 0
