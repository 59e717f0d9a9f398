"""A canary secret never shows: not in logs, API answers, the database (outside the encrypted
store) or the audit trail — nor its base64, URL-encoded or JSON-escaped forms. On SQLite (the
database file's bytes are searched) and PostgreSQL (a ``pg_dump`` of the test's schema).

Three canaries: one in the namespace store (of a parent namespace), one in the environment as
``SECRET_CANARY_ENV`` (base64), and a SECRET-type input, which is encrypted at rest. Each is used
in a Log message, in a rendered request body (an output), and in a Fail error message.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from tests.api.conftest import Api, api, backend, state_is
from tests.api.hitl import create

__all__ = ["api", "backend"]

STORED = 'canary/Stored "7Qx" <&> é+?'
FROM_ENV = "canary:Env 'Zk4' #%/ ü"
TYPED = "canary-Input {9Wv} = ä&"
MASK = "******"

FLOW = """\
id: canary
namespace: canary.team
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "store={{ secret('CANARY') }} env={{ secret('CANARY_ENV') }} input={{ inputs.pw }}"
  - id: forms
    type: io.kestra.plugin.core.log.Log
    message:
      - "{{ secret('CANARY') | base64encode }}"
      - "{{ secret('CANARY_ENV') | urlencode }}"
      - "{{ {'a': secret('CANARY'), 'b': secret('CANARY_ENV'), 'c': inputs.pw} | toJson }}"
  - id: body
    type: io.kestra.plugin.core.output.OutputValues
    values:
      request: >-
        {"token": "{{ secret('CANARY') }}", "env": "{{ secret('CANARY_ENV') | base64encode }}",
        "query": "q={{ inputs.pw | urlencode }}"}
  - id: refuse
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "refused {{ secret('CANARY') }} {{ secret('CANARY_ENV') }} {{ inputs.pw }}"
"""


def forms(secret: str) -> list[str]:
    """The secret and the encodings a template or a JSON writer may turn it into."""
    raw = secret.encode()
    found = {
        secret,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        quote(secret, safe=""),
        quote_plus(secret),
        quote(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return sorted(found)


ALL_FORMS = [form for secret in (STORED, FROM_ENV, TYPED) for form in forms(secret)]


def _leaks(text: str) -> list[str]:
    return [form for form in ALL_FORMS if form in text]


def _database_text(api: Api, tmp_path: Path) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or a dump of the schema."""
    store = api.store
    if store.dialect == "sqlite":  # type: ignore[attr-defined]
        data = tmp_path / "data"
        return b"".join(p.read_bytes() for p in sorted(data.glob("perch.db*")))
    with store.transaction() as tx:  # type: ignore[attr-defined]
        schema = tx.connection.exec_driver_sql("SELECT current_schema()").scalar()
    dump = shutil.which("pg_dump")
    assert dump is not None, "pg_dump is needed to search a PostgreSQL dump"
    url = os.environ["PERCH_TEST_POSTGRES_URL"]
    result = subprocess.run(
        [dump, "--data-only", "--schema", str(schema), url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert b"COPY" in result.stdout
    return result.stdout


def test_a_canary_secret_never_shows(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SECRET_CANARY_ENV", base64.b64encode(FROM_ENV.encode()).decode())
    put = api.client.put(
        "/api/v1/main/namespaces/canary/secrets/CANARY",
        json={"value": STORED, "description": "a canary"},
    )
    assert put.status_code == 204, put.text
    api.deploy(FLOW)
    execution_id = create(api, "canary.team", "canary", {"pw": TYPED})
    execution = api.wait(execution_id, state_is("FAILED", "SUCCESS"))
    assert execution["state"]["current"] == "FAILED"
    runs = {run["taskId"]: run for run in execution["taskRunList"]}
    # Each task did run with the real values: the log and the outputs exist, only masked.
    assert runs["say"]["state"]["current"] == "SUCCESS"
    assert runs["body"]["outputs"] == {"values": {"request": MASK}}
    assert runs["refuse"]["state"]["current"] == "FAILED"
    logs = api.client.get(f"/api/v1/logs/{execution_id}").json()
    messages = [line["message"] for line in logs]
    assert messages.count(MASK) >= 5, messages

    answers = [
        api.client.get(f"/api/v1/executions/{execution_id}").text,
        api.client.get(f"/api/v1/main/executions/{execution_id}").text,
        api.client.get(f"/api/v1/logs/{execution_id}").text,
        api.client.get(f"/api/v1/logs/{execution_id}/download").text,
        api.client.get("/api/v1/executions/search", params={"namespace": "canary"}).text,
        api.client.get("/api/v1/main/namespaces/canary/secrets").text,
        api.client.get("/api/v1/main/namespaces/canary/secrets/CANARY").text,
    ]
    for path in ("/api/v1/main/auditlogs/search", "/api/v1/main/auditlogs/export"):
        answer = api.client.get(path)
        assert answer.status_code == 200, answer.text
        answers.append(answer.text)
    for answer in answers:
        assert _leaks(answer) == [], answer[:2000]
    assert _leaks(caplog.text) == []

    # Rewriting the secret and deleting it are audited by name only.
    api.client.put("/api/v1/main/namespaces/canary/secrets/CANARY", content=STORED + "!")
    assert api.client.delete("/api/v1/main/namespaces/canary/secrets/CANARY").status_code == 204
    trail = api.client.get("/api/v1/main/auditlogs/export", params={"format": "jsonl"}).text
    assert "SECRET_DELETED" in trail
    assert _leaks(trail) == []
    database = _database_text(api, tmp_path)
    assert b"CANARY" in database  # the key and the audit records are there, by name
    leaked = [form for form in ALL_FORMS if form.encode() in database]
    assert leaked == []
    assert _leaks(caplog.text) == []


def test_a_canary_secret_never_shows_from_a_real_server(tmp_path: Path) -> None:
    """The same flow on ``perch server local`` (a subprocess, SQLite): its own log output and
    every file of its data folder are searched; the key comes from PERCH_ENCRYPTION_KEY."""
    from tests.security.conftest import start_live, stop_live

    key = base64.b64encode(os.urandom(32)).decode()
    env = {
        "SECRET_CANARY_ENV": base64.b64encode(FROM_ENV.encode()).decode(),
        "PERCH_ENCRYPTION_KEY": key,
    }
    live = start_live(tmp_path, env)
    try:
        put = live.client.put(
            "/api/v1/main/namespaces/canary/secrets/CANARY", json={"value": STORED}
        )
        assert put.status_code == 204, put.text
        execution = live.run(FLOW, {"pw": TYPED})
        assert execution["state"]["current"] == "FAILED"
        answers = [
            str(execution),
            live.client.get(f"/api/v1/main/logs/{execution['id']}").text,
            live.client.get(f"/api/v1/main/logs/{execution['id']}/download").text,
            live.client.get("/api/v1/main/auditlogs/export").text,
        ]
        assert MASK in answers[1]
        for answer in answers:
            assert _leaks(answer) == [], answer[:2000]
    finally:
        stop_live(live)
    assert _leaks(live.server_log()) == []
    data = tmp_path / "data"
    assert not (data / "secret.key").exists()  # the key came from the environment
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert [f for f in ALL_FORMS if f.encode() in content] == [], path
        assert key.encode() not in content, path
