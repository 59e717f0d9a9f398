"""``perch flow validate`` and ``perch flow schema`` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perch.cli import _register_subcommands, app

VALID = """\
id: hello
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1M
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""

INVALID = """\
id: hello
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pasue
  - id: log
    type: Log
    message: "{{ inputs.who }}"
"""

PERCH = Path(sys.executable).with_name("perch")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "flow" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    valid = tmp_path / "valid.yaml"
    valid.write_text(VALID)
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(INVALID)
    return {"valid": valid, "invalid": invalid, "missing": tmp_path / "missing.yaml"}


def test_validate_a_valid_flow(runner: CliRunner, files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["flow", "validate", str(files["valid"])])
    assert result.exit_code == 0, result.output
    assert result.output == f"✓ {files['valid']}: valid\n"


def test_validate_prints_every_problem_and_exits_1(
    runner: CliRunner, files: dict[str, Path]
) -> None:
    result = runner.invoke(app, ["flow", "validate", str(files["valid"]), str(files["invalid"])])
    assert result.exit_code == 1
    name = files["invalid"]
    assert result.output.splitlines() == [
        f"✓ {files['valid']}: valid",
        f"{name}:5: tasks[0].type: unknown task type 'io.kestra.plugin.core.flow.Pasue' "
        "(did you mean 'io.kestra.plugin.core.flow.Pause'?)",
        f"{name}:8: tasks[1].message: warning: 'inputs.who' is not an input of this flow",
    ]


def test_validate_strict_counts_warnings_as_problems(
    runner: CliRunner, files: dict[str, Path], tmp_path: Path
) -> None:
    # Kestra accepts a read of an undeclared input and fails it at run time: a warning, which
    # --strict turns into a problem (exit 1).
    source = tmp_path / "undeclared.yaml"
    source.write_text(
        "id: f\nnamespace: team\ntasks:\n  - id: call\n"
        "    type: io.kestra.plugin.core.flow.Subflow\n"
        '    namespace: "{{ inputs.namespace }}"\n    flowId: child\n'
    )
    lenient = runner.invoke(app, ["flow", "validate", str(source)])
    assert lenient.exit_code == 0, lenient.output
    assert lenient.output.splitlines() == [
        f"✓ {source}: valid",
        f"{source}:6: tasks[0].namespace: warning: 'inputs.namespace' is not an input of this flow",
    ]
    strict = runner.invoke(app, ["flow", "validate", "--strict", str(source)])
    assert strict.exit_code == 1, strict.output
    assert strict.output.splitlines() == [
        f"{source}:6: tasks[0].namespace: 'inputs.namespace' is not an input of this flow"
    ]
    # Such a flow deploys, with its warnings printed.
    data = tmp_path / "data"
    deployed = runner.invoke(app, ["flow", "deploy", "--data-dir", str(data), str(source)])
    assert deployed.exit_code == 0, deployed.output
    assert "✓ team.f revision 1" in deployed.output
    assert (
        f"{source}:6: tasks[0].namespace: warning: 'inputs.namespace' is not an input of this "
        "flow" in deployed.output
    )


def test_a_missing_file_exits_2_with_a_clear_message(
    runner: CliRunner, files: dict[str, Path]
) -> None:
    result = runner.invoke(app, ["flow", "validate", str(files["missing"]), str(files["valid"])])
    assert result.exit_code == 2
    assert f"error: {files['missing']}: no such file" in result.output
    assert f"✓ {files['valid']}: valid" in result.output


def test_validate_needs_a_file(runner: CliRunner) -> None:
    result = runner.invoke(app, ["flow", "validate"])
    assert result.exit_code == 2


def test_schema_prints_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(app, ["flow", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "AnyTask" in schema["$defs"]


def test_the_installed_command(files: dict[str, Path]) -> None:
    ok = subprocess.run(
        [str(PERCH), "flow", "validate", str(files["valid"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (ok.returncode, ok.stdout) == (0, f"✓ {files['valid']}: valid\n")
    bad = subprocess.run(
        [str(PERCH), "flow", "validate", str(files["invalid"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "\x1b[" not in bad.stdout  # no colour codes when not writing to a terminal
    assert bad.stdout.splitlines()[0].startswith(f"{files['invalid']}:5: tasks[0].type: ")
    missing = subprocess.run(
        [str(PERCH), "flow", "validate", str(files["missing"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    schema = subprocess.run(
        [str(PERCH), "flow", "schema"], capture_output=True, text=True, check=True
    )
    assert json.loads(schema.stdout)["title"].startswith("Perch flow")
