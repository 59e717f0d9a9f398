"""Script tasks through the real API and engine, run as local processes: output lines become
log lines, ``::{"outputs": ...}::`` lines and ``Kestra.outputs`` become ``vars`` usable by the
next task, a non-zero exit fails with its code, files go in and out, the environment is clean,
the working directory is removed, and a kill or a timeout leaves no process behind."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, state_is
from tests.integrations.conftest import errors_of, run_flow, task_run
from tests.processes import wait_gone


def logs_of(api: Api, execution: dict[str, Any], task_id: str) -> list[tuple[str, str]]:
    lines = api.client.get(f"/api/v1/logs/{execution['id']}").json()
    return [(line["level"], line["message"]) for line in lines if line.get("taskId") == task_id]


def messages(api: Api, execution: dict[str, Any], task_id: str) -> list[str]:
    return [message for _, message in logs_of(api, execution, task_id)]


SHELL_FLOW = """\
id: shell_lines
namespace: company.team
inputs:
  - id: who
    type: STRING
    defaults: Ann
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: ubuntu:24.04
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    commands:
      - echo "hello {{ inputs.who }}"
      - echo "to stderr" >&2
      - echo '::{"outputs":{"test":"value","int":2,"bool":true}}::'
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.sh.vars.test }}-{{ outputs.sh.vars.int + 1 }}-{{ outputs.sh.exitCode }}"
"""


def test_shell_lines_become_logs_and_outputs_reach_the_next_task(api: Api) -> None:
    execution = run_flow(api, SHELL_FLOW, inputs={"who": "Zoë"})
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "sh")

    logs = logs_of(api, execution, "sh")
    assert ("INFO", "hello Zoë") in logs
    assert ("ERROR", "to stderr") in logs
    warnings = [message for level, message in logs if level == "WARN"]
    assert len(warnings) == 1
    assert "local process" in warnings[0]
    assert "containerImage ubuntu:24.04" in warnings[0]
    assert not any("::" in message for _, message in logs)

    outputs = task_run(execution, "sh")["outputs"]
    assert outputs["vars"] == {"test": "value", "int": 2, "bool": True}
    assert outputs["exitCode"] == 0
    assert task_run(execution, "use")["outputs"]["value"] == "value-3-0"


PYTHON_FLOW = """\
id: python_outputs
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      from kestra import Kestra
      rows = [{"n": n} for n in range(3)]
      print(f"counted {len(rows)} rows")
      Kestra.outputs({"rows": len(rows), "names": ["a", "b"]})
      Kestra.logger().warning("a warning from Python")
  - id: next
    type: io.kestra.plugin.core.log.Log
    message: "rows={{ outputs.py.vars.rows }} first={{ outputs.py.vars.names[0] }}"
  - id: which
    type: io.kestra.plugin.scripts.python.Commands
    commands:
      - python -c "import sys; print(sys.executable)"
"""


def test_python_script_outputs_through_the_kestra_package(api: Api) -> None:
    pytest.importorskip("kestra")
    execution = run_flow(api, PYTHON_FLOW)
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "py")

    assert task_run(execution, "py")["outputs"]["vars"] == {"rows": 3, "names": ["a", "b"]}
    assert "counted 3 rows" in messages(api, execution, "py")
    assert any(
        level == "WARN" and message.endswith("a warning from Python")
        for level, message in logs_of(api, execution, "py")
    )
    assert messages(api, execution, "next") == ["rows=3 first=a"]
    # `python` in commands is the server's own interpreter.
    assert messages(api, execution, "which") == [sys.executable]


FAILING_FLOW = """\
id: failing_script
namespace: company.team
tasks:
  - id: fails
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo before
      - exit 3
      - echo never
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: not reached
"""


def test_a_non_zero_exit_fails_with_its_code_and_stops_the_commands(api: Api) -> None:
    execution = run_flow(api, FAILING_FLOW)
    assert execution["state"]["current"] == "FAILED"
    run = task_run(execution, "fails")
    assert run["state"]["current"] == "FAILED"
    assert run["outputs"]["exitCode"] == 3
    assert errors_of(api, execution, "fails") == ["Command failed with exit code 3"]
    assert "never" not in messages(api, execution, "fails")
    assert "before" in messages(api, execution, "fails")
    assert "after" not in [r["taskId"] for r in execution["taskRunList"]]


FILES_FLOW = """\
id: script_files
namespace: company.team
tasks:
  - id: produce
    type: io.kestra.plugin.scripts.shell.Script
    inputFiles:
      data/in.csv: |
        a,b
        1,2
    outputFiles:
      - "*.txt"
      - reports/**/*.json
    script: |
      wc -l < data/in.csv | tr -d ' ' > lines.txt
      mkdir -p reports/2027
      echo '{"ok": true}' > reports/2027/summary.json
      echo "from outputDir" > "{{ outputDir }}/extra.log"
  - id: consume
    type: io.kestra.plugin.scripts.python.Commands
    inputFiles:
      copy.txt: "{{ outputs.produce.outputFiles['lines.txt'] }}"
      summary.json: "{{ outputs.produce.outputFiles['reports/2027/summary.json'] }}"
    commands:
      - cat copy.txt
      - python -c "import json; print(json.load(open('summary.json'))['ok'])"
"""


def test_input_and_output_files_round_trip(api: Api) -> None:
    execution = run_flow(api, FILES_FLOW)
    assert execution["state"]["current"] == "SUCCESS", (
        errors_of(api, execution, "produce"),
        errors_of(api, execution, "consume"),
    )
    files = task_run(execution, "produce")["outputs"]["outputFiles"]
    assert set(files) == {"lines.txt", "reports/2027/summary.json", "extra.log"}
    assert all(uri.startswith("kestra:///company/team/script_files/") for uri in files.values())
    assert messages(api, execution, "consume") == ["2", "True"]


ESCAPING_FLOW = """\
id: escaping_file
namespace: company.team
tasks:
  - id: sneaky
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      ../outside.txt: nope
    commands:
      - echo should not run
"""


def test_an_input_file_outside_the_working_directory_is_refused(api: Api) -> None:
    execution = run_flow(api, ESCAPING_FLOW)
    assert execution["state"]["current"] == "FAILED"
    [error] = errors_of(api, execution, "sneaky")
    assert "'../outside.txt' must be a relative path inside the working directory" in error
    assert "should not run" not in messages(api, execution, "sneaky")


ENV_FLOW = """\
id: clean_env
namespace: company.team
tasks:
  - id: env
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      GREETING: "hi from {{ flow.id }}"
    commands:
      - env
      - pwd
"""


def test_the_environment_is_clean_and_the_working_directory_removed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERCH_ENCRYPTION_KEY_CANARY", "canary-3f9c2a")
    monkeypatch.setenv("DATABASE_URL", "postgresql://canary-db")
    execution = run_flow(api, ENV_FLOW)
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "env")

    lines = messages(api, execution, "env")
    variables = dict(line.split("=", 1) for line in lines if "=" in line)
    assert variables["GREETING"] == "hi from clean_env"
    assert variables["LANG"] == variables["LC_ALL"] == "C.UTF-8"
    assert not any("canary" in line for line in lines)
    assert not any(name.startswith("PERCH_") for name in variables)
    assert "DATABASE_URL" not in variables
    workdir = Path(lines[-1])
    assert variables["HOME"] == str(workdir)
    assert variables["TMPDIR"].startswith(str(workdir.parent))
    assert not workdir.parent.exists()


def _wait_for(path: Path, seconds: float = 15.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


SLEEP_FLOW = """\
id: @ID@
namespace: company.team
tasks:
  - id: sleepy
    type: io.kestra.plugin.scripts.shell.Commands
    @TIMEOUT@
    commands:
      - sleep 60 &
      - echo $! > @DIR@/child.tmp && mv @DIR@/child.tmp @DIR@/child
      - echo $$ > @DIR@/shell.tmp && mv @DIR@/shell.tmp @DIR@/shell
      - wait
"""


def _sleep_flow(flow_id: str, folder: Path, timeout: str | None = None) -> str:
    return (
        SLEEP_FLOW.replace("@ID@", flow_id)
        .replace("@DIR@", str(folder))
        .replace("@TIMEOUT@", f"timeout: {timeout}" if timeout else "")
    )


def test_killing_the_execution_kills_the_script_and_its_children(api: Api, tmp_path: Path) -> None:
    flow = api.deploy(_sleep_flow("sleeper", tmp_path))
    started = api.client.post(f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}")
    assert started.status_code == 200, started.text
    execution_id = started.json()["id"]
    shell = _wait_for(tmp_path / "shell")
    child = _wait_for(tmp_path / "child")
    assert not wait_gone(child, 0.1)

    killed = api.client.delete(f"/api/v1/executions/{execution_id}/kill")
    assert killed.status_code == 202, killed.text
    execution = api.wait(execution_id, state_is("KILLED", "FAILED", "SUCCESS"), timeout=20)

    assert execution["state"]["current"] == "KILLED"
    assert wait_gone(shell)
    assert wait_gone(child)


def test_a_timeout_fails_the_task_and_kills_its_process_group(api: Api, tmp_path: Path) -> None:
    started = time.monotonic()
    execution = run_flow(api, _sleep_flow("timed", tmp_path, "PT1S"), timeout=30)
    assert time.monotonic() - started < 30
    assert execution["state"]["current"] == "FAILED"
    assert task_run(execution, "sleepy")["state"]["current"] == "FAILED"
    assert any("timed out" in error for error in errors_of(api, execution, "sleepy"))
    assert wait_gone(int((tmp_path / "shell").read_text()))
    assert wait_gone(int((tmp_path / "child").read_text()))
