"""The server and the CLI together: deploy, start, pause, resume, kill — and crashes."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Server, execution_id_from, perch, wait_for

from perch.engine import service
from perch.engine.model import DEFAULT_TENANT, Execution
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.principal import Principal
from perch.engine.states import StateType

APPROVAL = """\
id: approval
namespace: company.team
inputs:
  - id: amount
    type: INT
tasks:
  - id: prepare
    type: io.kestra.plugin.core.log.Log
    message: "amount {{ inputs.amount }}"
  - id: decide
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
  - id: book
    type: io.kestra.plugin.core.log.Log
    message: "approved={{ outputs.decide.onResume.approved }} by {{ outputs.decide.resumed.by }}"
"""


def paused(execution: Execution) -> bool:
    return execution.state.current is StateType.PAUSED


def ended(execution: Execution) -> bool:
    return execution.state.current.is_terminated


def write_flow(tmp_path: Path, source: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return path


def test_deploy_start_pause_resume_through_the_cli(
    server: Server, data_dir: Path, tmp_path: Path, store: Store
) -> None:
    deployed = perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, APPROVAL)))
    assert "company.team.approval revision 1" in deployed.stdout
    assert "approval" in perch(data_dir, "flow", "list").stdout

    started = perch(data_dir, "execution", "start", "company.team", "approval", "-i", "amount=5")
    execution_id = execution_id_from(started.stdout)
    wait_for(store, execution_id, paused)
    assert execution_id in perch(data_dir, "execution", "list", "--state", "PAUSED").stdout

    bad = perch(
        data_dir, "execution", "resume", execution_id, "-i", "approved=perhaps", check=False
    )
    assert bad.returncode == 1
    assert "approved" in bad.stderr
    assert service.get_execution(store, execution_id).state.current is StateType.PAUSED

    perch(data_dir, "execution", "resume", execution_id, "-i", "approved=true")

    done = wait_for(store, execution_id, ended)
    assert done.state.current is StateType.SUCCESS
    assert [r.task_id for r in done.task_runs] == ["prepare", "decide", "book"]
    shown = perch(data_dir, "execution", "show", execution_id).stdout
    assert "approved=True by carol" in shown or "approved=true by carol" in shown
    assert server.stop() == 0


def test_invalid_start_inputs_are_listed_and_nothing_is_created(
    server: Server, data_dir: Path, tmp_path: Path, store: Store
) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, APPROVAL)))
    result = perch(
        data_dir, "execution", "start", "company.team", "approval", "-i", "amount=x", check=False
    )
    assert result.returncode == 1
    assert "amount" in result.stderr
    assert service.search_executions(store, ExecutionQuery()).total == 0


def test_kill_through_the_cli(server: Server, data_dir: Path, tmp_path: Path, store: Store) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, APPROVAL)))
    started = perch(data_dir, "execution", "start", "company.team", "approval", "-i", "amount=1")
    execution_id = execution_id_from(started.stdout)
    wait_for(store, execution_id, paused)
    perch(data_dir, "execution", "kill", execution_id)
    assert wait_for(store, execution_id, ended).state.current is StateType.KILLED


def test_bulk_resume_through_the_cli(
    server: Server, data_dir: Path, tmp_path: Path, store: Store
) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, APPROVAL)))
    ids = [
        service.create_execution(
            store, DEFAULT_TENANT, "company.team", "approval", {"amount": 3}, Principal("dave")
        ).id
        for _ in range(4)
    ]
    for execution_id in ids:
        wait_for(store, execution_id, paused)

    result = perch(
        data_dir,
        "execution",
        "resume",
        "--state",
        "PAUSED",
        "--namespace",
        "company",
        "-i",
        "approved=false",
    )

    assert "resumed 4 of 4" in result.stdout
    for execution_id in ids:
        assert wait_for(store, execution_id, ended).state.current is StateType.SUCCESS


def test_start_wait_without_a_server_runs_in_process(
    data_dir: Path, tmp_path: Path, store: Store
) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, APPROVAL)))
    result = perch(
        data_dir, "execution", "start", "company.team", "approval", "-i", "amount=2", "--wait"
    )
    execution_id = execution_id_from(result.stdout)
    assert "PAUSED" in result.stdout
    execution = service.get_execution(store, execution_id)
    assert execution.state.current is StateType.PAUSED
    assert [r.task_id for r in execution.task_runs] == ["prepare", "decide"]


def test_paused_executions_survive_a_crash(
    server: Server, data_dir: Path, tmp_path: Path, store: Store
) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, APPROVAL)))
    ids = [
        execution_id_from(
            perch(
                data_dir, "execution", "start", "company.team", "approval", "-i", "amount=7"
            ).stdout
        )
        for _ in range(3)
    ]
    for execution_id in ids:
        wait_for(store, execution_id, paused)

    server.crash()
    server.start()

    for execution_id in ids:
        assert service.get_execution(store, execution_id).state.current is StateType.PAUSED
        perch(data_dir, "execution", "resume", execution_id, "-i", "approved=true")
    for execution_id in ids:
        done = wait_for(store, execution_id, ended)
        assert done.state.current is StateType.SUCCESS
        assert [r.task_id for r in done.task_runs] == ["prepare", "decide", "book"]


CHAIN = """\
id: chain
namespace: company.team
tasks:
{tasks}
"""


def chain_source(length: int) -> str:
    steps = []
    for index in range(length):
        steps.append(
            f"  - id: log{index}\n    type: io.kestra.plugin.core.log.Log\n"
            f"    message: step {index}"
        )
        steps.append(
            f"  - id: nap{index}\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.1S"
        )
    return CHAIN.format(tasks="\n".join(steps))


def test_running_executions_finish_after_a_crash_without_rerunning_finished_tasks(
    server: Server, data_dir: Path, tmp_path: Path, store: Store
) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, chain_source(8))))
    ids = [
        service.create_execution(
            store, DEFAULT_TENANT, "company.team", "chain", {}, Principal("e")
        ).id
        for _ in range(6)
    ]
    wait_for(store, ids[0], lambda e: len(e.task_runs) >= 5)

    server.crash()
    # What was committed when the server died: these task runs had finished.
    finished_before = {
        (execution_id, run.id)
        for execution_id in ids
        for run in service.get_execution(store, execution_id).task_runs
        if run.state.current.is_terminated
    }
    assert finished_before
    assert any(not service.get_execution(store, i).state.current.is_terminated for i in ids), (
        "the crash came too late to test anything"
    )
    server.start()

    for execution_id in ids:
        done = wait_for(store, execution_id, ended, timeout=60)
        assert done.state.current is StateType.SUCCESS
        assert len(done.task_runs) == 16
        lines_per_run: dict[str, int] = {}
        for entry in service.logs(store, execution_id):
            if entry.task_run_id is not None and entry.task_id and entry.task_id.startswith("log"):
                lines_per_run[entry.task_run_id] = lines_per_run.get(entry.task_run_id, 0) + 1
        for run in done.task_runs:
            if (execution_id, run.id) in finished_before:
                assert len(run.attempts) <= 1 or run.task_id.startswith("nap"), run
                if run.task_id.startswith("log"):
                    assert lines_per_run.get(run.id) == 1, (run.task_id, lines_per_run)
