"""Every bundled example flow is valid, through the library and through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perch.flows import parse_flow

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def test_there_is_an_example_for_each_seed_scenario() -> None:
    names = {path.stem for path in EXAMPLES}
    assert {
        "hello_pause",
        "vacation_request",
        "holiday_with_defaults",
        "branch_on_decision",
        "vm_request_by_users",
        "release_by_groups",
        "timed_pauses",
        "paused_upstream",
        "downstream_on_success",
        "pause_then_subflow",
        "subflow_worker",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_parses(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    flow = parse_flow(source, filename=str(path))
    assert flow.id == path.stem
    assert flow.namespace.startswith("examples.")
    assert flow.source == source


def test_cli_validates_all_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "perch", "flow", "validate", *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid") >= len(EXAMPLES)
