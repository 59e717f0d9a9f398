"""``perch flow validate`` warns of task types this server cannot run yet, and the README's
first example is a flow that validates without a warning (so it runs as shown)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import perch
from tests.e2e.test_server import write_flow

README = Path(__file__).resolve().parents[2] / "README.md"

SHELL = """\
id: hello
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo hi
"""


def test_validate_has_no_warning_for_a_task_type_that_runs(tmp_path: Path) -> None:
    # Every built-in worker task type has a runner now (scripts were the last): no warning.
    path = write_flow(tmp_path, SHELL)
    checked = perch(tmp_path / "data", "flow", "validate", str(path))
    assert checked.returncode == 0
    assert f"{path}: valid" in checked.stdout
    assert ": warning:" not in checked.stdout


def test_the_readme_first_example_runs_here(tmp_path: Path) -> None:
    first = re.search(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert first is not None
    path = write_flow(tmp_path, first.group(1))
    checked = perch(tmp_path / "data", "flow", "validate", str(path))
    assert f"{path}: valid" in checked.stdout
    assert ": warning:" not in checked.stdout
    # And it runs as the README says: up to the manager's decision.
    data_dir = tmp_path / "data"
    perch(data_dir, "flow", "deploy", str(path))
    started = perch(
        data_dir,
        "execution",
        "start",
        "examples.hr",
        "vacation_request",
        "-i",
        "first_day=2027-08-02",
        "-i",
        "last_day=2027-08-13",
        "--wait",
    )
    assert "Paused at manager_decision" in started.stdout, started.stdout
    assert "asks for 2027-08-02 to 2027-08-13" in started.stdout
