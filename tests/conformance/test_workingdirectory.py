"""Kestra's WorkingDirectory through a real server over HTTP: script children share one
directory (kept between them as an archive in the execution's files), inputFiles, outputFiles
downloadable through the API, failures and errors, and the archive deleted at the end.

Each flow follows one of Kestra's tests (``WorkingDirectoryTest`` and its flows under
``core/src/test/resources/flows/valids/``), named in a comment above it. Kestra's flows use the
test task ``storage.LocalFiles``; here shell ``Commands`` do the same work.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.conformance.test_flowables import ENDED, logs, run, runs_of, validate

ARCHIVE = ".perch-workingdir.tar"


def archive_of(execution: dict[str, Any], task_id: str) -> str:
    [wd] = runs_of(execution, task_id)
    prefix = f"kestra:///{execution['namespace'].replace('.', '/')}/{execution['flowId']}"
    return f"{prefix}/executions/{execution['id']}/{wd['id']}/{ARCHIVE}"


def download(server: Api, execution_id: str, uri: str) -> Any:
    return server.client.get(f"/api/v1/executions/{execution_id}/file", params={"path": uri})


# Kestra: the WorkingDirectory example (first writes {{ workingDir }}/stay.txt, second reads it)
# and WorkingDirectoryTest.success (flows/valids/working-directory.yaml: a disabled child, a
# task after the WorkingDirectory reading a child's output).
SHARED = """
id: shared
namespace: conformance.workingdir
tasks:
  - id: working_directory
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: first
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - 'mkdir -p out && echo "{{ taskrun.id }}" > {{ workingDir }}/out/stay.txt'
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: between the scripts
      - id: second
        type: io.kestra.plugin.scripts.shell.Commands
        outputFiles:
          - out/*
        commands:
          - echo '::{"outputs":{"stay":"'$(cat {{ workingDir }}/out/stay.txt)'"}}::'
      - id: disabled
        type: io.kestra.plugin.core.debug.Return
        disabled: true
        format: never
  - id: end
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.second.outputFiles['out/stay.txt'] }}"
"""


def test_children_share_the_directory(server: Api) -> None:
    execution = run(server, SHARED)
    assert execution["state"]["current"] == "SUCCESS"
    ids = [r["taskId"] for r in execution["taskRunList"]]
    assert sorted(ids) == ["end", "first", "log", "second", "working_directory"]
    [first] = runs_of(execution, "first")
    [second] = runs_of(execution, "second")
    assert second["outputs"]["vars"]["stay"] == first["id"]
    [end] = runs_of(execution, "end")
    assert end["outputs"]["value"].startswith("kestra:///")
    stay = download(server, execution["id"], end["outputs"]["value"])
    assert stay.status_code == 200, stay.text
    assert stay.text == first["id"] + "\n"
    # The shared directory's archive is gone once the WorkingDirectory ended.
    gone = download(server, execution["id"], archive_of(execution, "working_directory"))
    assert gone.status_code == 404, gone.text


# Kestra: WorkingDirectoryTest.inputFiles (flows/valids/working-directory-inputs.yml) and
# WorkingDirectoryTest.outputFiles (flows/valids/working-directory-outputs.yml), together.
FILES = """
id: files
namespace: conformance.workingdir
tasks:
  - id: workingDir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      input.txt: Hello World
    outputFiles:
      - output.txt
      - "*.csv"
    tasks:
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat input.txt > output.txt
          - echo a,b > one.csv
          - echo c,d > two.csv
"""


def test_input_and_output_files(server: Api) -> None:
    execution = run(server, FILES)
    assert execution["state"]["current"] == "SUCCESS"
    [wd] = runs_of(execution, "workingDir")
    uris = wd["outputs"]["outputFiles"]
    assert sorted(uris) == ["one.csv", "output.txt", "two.csv"]
    expected = {"output.txt": "Hello World", "one.csv": "a,b\n", "two.csv": "c,d\n"}
    for name, content in expected.items():
        assert uris[name].startswith("kestra:///")
        assert uris[name].endswith(name)
        response = download(server, execution["id"], uris[name])
        assert response.status_code == 200, response.text
        assert response.text == content
    gone = download(server, execution["id"], archive_of(execution, "workingDir"))
    assert gone.status_code == 404, gone.text


# Kestra: WorkingDirectoryTest.failed (flows/valids/working-directory.yaml with failed=true:
# the first child fails, the second never runs, the WorkingDirectory's errors run).
FAILING = """
id: failing
namespace: conformance.workingdir
tasks:
  - id: worker
    type: io.kestra.plugin.core.flow.WorkingDirectory
    outputFiles:
      - stay.txt
    tasks:
      - id: first
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo kept > stay.txt
          - exit 3
      - id: second
        type: io.kestra.plugin.core.log.Log
        message: never
    errors:
      - id: error-t1
        type: io.kestra.plugin.core.debug.Return
        format: "Error Trigger ! {{ task.id }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never
"""


def test_a_failing_child_fails_the_working_directory(server: Api) -> None:
    execution = run(server, FAILING)
    assert execution["state"]["current"] == "FAILED"
    assert len(execution["taskRunList"]) == 3
    [wd] = runs_of(execution, "worker")
    assert wd["state"]["current"] == "FAILED"
    assert runs_of(execution, "first")[0]["state"]["current"] == "FAILED"
    assert runs_of(execution, "second") == runs_of(execution, "after") == []
    [error] = runs_of(execution, "error-t1")
    assert error["outputs"]["value"] == "Error Trigger ! error-t1"
    assert "outputFiles" not in (wd.get("outputs") or {})
    gone = download(server, execution["id"], archive_of(execution, "worker"))
    assert gone.status_code == 404, gone.text


# Kestra: WorkingDirectoryTest.cache (flows/valids/working-directory-cache.yml): Perch accepts
# a cache and ignores it with a WARN line.
CACHE = """
id: cache
namespace: conformance.workingdir
tasks:
  - id: workingDir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    cache:
      ttl: PT5m
      patterns:
        - "*.txt"
    tasks:
      - id: exists
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - test ! -e hello.txt
          - echo HELLO WORLD > hello.txt
"""


def test_cache_is_ignored_with_a_warning(server: Api) -> None:
    execution = run(server, CACHE)
    assert execution["state"]["current"] == "SUCCESS"
    lines = [line for line in logs(server, execution["id"]) if line["level"] == "WARN"]
    assert any("cache is not supported" in line["message"] for line in lines), lines


# Kestra: flows/invalids/workingdirectory-invalid.yaml (a Pause among the children).
INVALID = """
id: workingdirectory-impossible
namespace: conformance.workingdir
tasks:
  - id: impossible
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: Hello World
      - id: pause
        type: io.kestra.plugin.core.flow.Pause
        delay: PT5S
"""


def test_only_runnable_children_are_valid(server: Api) -> None:
    problems = validate(server, INVALID)
    assert problems, "a Pause inside a WorkingDirectory must be refused"
    text = " ".join(str(problem) for problem in problems)
    assert "Only runnable tasks are allowed as children of a WorkingDirectory task" in text
    assert "pause" in text


# Perch's own limit on the shared directory (PERCH_WORKINGDIR_MAX_BYTES): no Kestra test.
TOO_LARGE = """
id: too-large
namespace: conformance.workingdir
tasks:
  - id: workingDir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: big
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - head -c 20000 /dev/zero > big.bin
      - id: never
        type: io.kestra.plugin.core.log.Log
        message: never
"""


def test_a_directory_over_the_limit_fails_the_child(
    server: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERCH_WORKINGDIR_MAX_BYTES", "10000")  # the worker runs in this process
    execution = run(server, TOO_LARGE)
    assert execution["state"]["current"] == "FAILED"
    [big] = runs_of(execution, "big")
    assert big["state"]["current"] == "FAILED"
    assert runs_of(execution, "never") == []
    errors = [line["message"] for line in logs(server, execution["id"]) if line["level"] == "ERROR"]
    assert any("over 10000 bytes" in message for message in errors), errors


# Perch's own: the archive exists while the children run and a kill deletes it (the kill path of
# Kestra's WorkingDirectory has no test of its own).
KILLED = """
id: killed
namespace: conformance.workingdir
tasks:
  - id: workingDir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      input.txt: Hello World
    tasks:
      - id: wait
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - sleep 60
"""


def test_the_archive_lives_while_children_run_and_a_kill_deletes_it(server: Api) -> None:
    flow = server.deploy(KILLED)
    created = server.client.post(f"/api/v1/executions/{flow['namespace']}/{flow['id']}")
    assert created.status_code == 200, created.text
    execution_id = created.json()["id"]
    running = server.wait(
        execution_id,
        lambda b: any(
            r["taskId"] == "wait" and r["state"]["current"] == "RUNNING" for r in b["taskRunList"]
        ),
    )
    archive = archive_of(running, "workingDir")
    held = download(server, execution_id, archive)
    assert held.status_code == 200, held.text
    with tarfile.open(fileobj=io.BytesIO(held.content)) as tar:
        assert tar.getnames() == ["input.txt"]
    killed = server.client.delete(f"/api/v1/executions/{execution_id}/kill")
    assert killed.status_code in (202, 204), killed.text
    ended = server.wait(execution_id, lambda b: b["state"]["current"] in ENDED)
    assert ended["state"]["current"] == "KILLED"
    gone = download(server, execution_id, archive)
    assert gone.status_code == 404, gone.text
