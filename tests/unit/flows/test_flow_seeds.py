"""Every flow of the product seeds parses (re-indented where the seed lost its indentation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perch.flows import TaskKind, parse_flow
from perch.flows.tasks.pause import HumanTask, Pause
from perch.flows.triggers import FlowTrigger

SEEDS = Path(__file__).parent / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.yaml"))


def test_the_seed_fixtures_are_there() -> None:
    assert len(SEED_FILES) == 9


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_seed_flow_parses(path: Path) -> None:
    source = path.read_text()
    flow = parse_flow(source, filename=path.name)
    assert flow.source == source
    assert list(flow.all_tasks())


def test_vacation_approval_process_details() -> None:
    flow = parse_flow((SEEDS / "vacation_approval_process.yaml").read_text())
    assert [i.id for i in flow.inputs or []] == [
        "request.name",
        "request.start_date",
        "request.end_date",
        "slack_webhook_uri",
    ]
    # YAML dates stay text: the DATE input parses them itself.
    assert flow.inputs is not None
    assert flow.inputs[1].defaults == "2024-07-01"
    pause = flow.find_task("waitForApproval")
    assert isinstance(pause, Pause)
    assert pause.kind is TaskKind.FLOWABLE
    assert [i.id for i in pause.onResume or []] == ["approved", "reason"]


def test_human_task_seed_assignments() -> None:
    flow = parse_flow((SEEDS / "vm_provisioning_approval.yaml").read_text())
    tasks = {t.id: t for t in flow.all_tasks()}
    combined = tasks["production_deployment_approval"]
    assert isinstance(combined, HumanTask)
    assert combined.assignment is not None
    assert combined.assignment.groups == ["DevOps Team", "Site Reliability Engineers"]
    assert combined.assignment.users == ["cto@example.com", "release-manager@example.com"]


def test_flow_trigger_preconditions_seed() -> None:
    flow = parse_flow((SEEDS / "resume_demo.yaml").read_text())
    assert flow.triggers is not None
    trigger = flow.triggers[0]
    assert trigger.canonical_type == "io.kestra.plugin.core.trigger.Flow"
    assert isinstance(trigger, FlowTrigger)
    preconditions = trigger.preconditions
    assert preconditions is not None
    assert preconditions.flows is not None
    assert preconditions.id == "flow1"
    assert preconditions.flows[0].states == ["SUCCESS"]
