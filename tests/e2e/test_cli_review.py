"""The CLI as a user meets it: bad input, secrets, human input kept as data, and the server's
life on a data folder (SIGTERM, restart, a second server, leftovers of a SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Server, execution_id_from, perch, wait_for
from tests.e2e.test_server import chain_source, ended, write_flow

from perch.engine import service
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.principal import Principal
from perch.engine.states import StateType

GATE = """\
id: gate
namespace: company.team
inputs:
  - id: token
    type: SECRET
  - id: amount
    type: INT
  - id: when
    type: DATE
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: note
        type: STRING
      - id: count
        type: INT
      - id: pin
        type: SECRET
        required: false
  - id: echo
    type: io.kestra.plugin.core.log.Log
    message: "note=[{{ outputs.ask.onResume.note }}] token=[{{ inputs.token }}]"
"""
GOOD_INPUTS = ("-i", "token=hunter2-secret", "-i", "amount=3", "-i", "when=2026-01-02")
NO_TRACEBACK = "Traceback"


def deployed(data_dir: Path, tmp_path: Path) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, GATE)))


def start_paused(data_dir: Path) -> str:
    """Start ``gate`` with --wait and no server: the in-process runner leaves it PAUSED."""
    started = perch(data_dir, "execution", "start", "company.team", "gate", *GOOD_INPUTS, "--wait")
    assert "PAUSED" in started.stdout
    return execution_id_from(started.stdout)


def open_sqlite(data_dir: Path) -> Store:
    from perch.store import open_store

    return open_store(None, data_dir=data_dir)


def test_start_with_bad_input_creates_nothing(data_dir: Path, tmp_path: Path) -> None:
    deployed(data_dir, tmp_path)
    unknown = perch(data_dir, "execution", "start", "company.team", "nope", check=False)
    assert unknown.returncode == 1
    assert "company.team.nope" in unknown.stderr

    no_equals = perch(
        data_dir, "execution", "start", "company.team", "gate", "-i", "amount", check=False
    )
    assert no_equals.returncode == 1
    assert "'amount' must be written KEY=VALUE" in no_equals.stderr

    invalid = perch(
        data_dir,
        "execution",
        "start",
        "company.team",
        "gate",
        "-i",
        "amount=many",
        "-i",
        "when=yesterday",
        check=False,
    )
    assert invalid.returncode == 1
    problems = [line.split(":")[0].strip() for line in invalid.stderr.splitlines()[1:]]
    assert sorted(problems) == ["amount", "token", "when"], invalid.stderr
    for result in (unknown, no_equals, invalid):
        assert NO_TRACEBACK not in result.stderr + result.stdout
    store = open_sqlite(data_dir)
    try:
        assert service.search_executions(store, ExecutionQuery()).total == 0
    finally:
        store.close()


def test_resume_bad_values_and_not_paused_and_unknown_ids(data_dir: Path, tmp_path: Path) -> None:
    deployed(data_dir, tmp_path)
    execution_id = start_paused(data_dir)

    bad = perch(data_dir, "execution", "resume", execution_id, "-i", "count=x", check=False)
    assert bad.returncode == 1
    assert "note: Missing required input" in bad.stderr
    assert "count: " in bad.stderr
    assert "PAUSED" in perch(data_dir, "execution", "show", execution_id).stdout

    perch(data_dir, "execution", "resume", execution_id, "-i", "note=ok", "-i", "count=1")
    again = perch(data_dir, "execution", "resume", execution_id, "-i", "note=x", check=False)
    assert again.returncode == 1
    assert "is not paused (it is RUNNING, resumed by carol)" in again.stderr

    for command in ("show", "kill", "resume"):
        missing = perch(data_dir, "execution", command, "no-such-id", check=False)
        assert missing.returncode == 1, command
        assert "Execution 'no-such-id' not found" in missing.stderr
        assert NO_TRACEBACK not in missing.stderr


def test_resume_of_a_never_paused_execution_names_its_state(data_dir: Path, tmp_path: Path) -> None:
    deployed(data_dir, tmp_path)
    execution_id = start_paused(data_dir)
    perch(data_dir, "execution", "kill", execution_id)
    result = perch(data_dir, "execution", "resume", execution_id, "-i", "note=x", check=False)
    assert result.returncode == 1
    assert "is not paused (it is KILLED, killed by carol)" in result.stderr


def test_deploy_of_an_invalid_file_stores_nothing(data_dir: Path, tmp_path: Path) -> None:
    bad = write_flow(
        tmp_path,
        "id: broken\nnamespace: company.team\ntasks:\n  - id: a\n    type: nope.Nope\n",
        "broken.yaml",
    )
    result = perch(data_dir, "flow", "deploy", str(bad), check=False)
    assert result.returncode == 1
    assert f"{bad}:5: tasks[0].type" in result.stdout
    assert "0 flows" in perch(data_dir, "flow", "list").stdout


def test_missing_data_folder_and_unreachable_database_are_clear(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    listed = perch(missing, "execution", "list", check=False)
    assert listed.returncode == 1
    assert f"no Perch data folder at {missing}" in listed.stderr
    assert not missing.exists()

    env = {
        **os.environ,
        "PERCH_DATA_DIR": str(tmp_path),
        "PERCH_DATABASE_URL": "postgresql://bob:pw@127.0.0.1:1/perch",
    }
    for args in (["execution", "list"], ["server", "local"]):
        result = subprocess.run(
            [sys.executable, "-m", "perch", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, args
        assert "cannot open the database (postgresql://bob:***@127.0.0.1:1/perch)" in (
            result.stderr
        )
        assert "pw@" not in result.stderr
        assert NO_TRACEBACK not in result.stderr + result.stdout


def test_show_and_logs_mask_secret_inputs(data_dir: Path, tmp_path: Path) -> None:
    deployed(data_dir, tmp_path)
    execution_id = start_paused(data_dir)
    perch(
        data_dir,
        "execution",
        "resume",
        execution_id,
        "-i",
        "note=plain",
        "-i",
        "count=2",
        "-i",
        "pin=4242-pin",
    )
    server = Server(data_dir, tmp_path / "server.log")
    server.start()
    try:
        store = open_sqlite(data_dir)
        try:
            wait_for(store, execution_id, ended)
        finally:
            store.close()
    finally:
        assert server.stop() == 0
    shown = perch(data_dir, "execution", "show", execution_id).stdout
    assert "SUCCESS" in shown
    assert "hunter2-secret" not in shown
    assert "4242-pin" not in shown
    assert '"token": "******"' in shown
    assert '"pin": "******"' in shown


def test_human_input_stays_data_end_to_end(data_dir: Path, tmp_path: Path) -> None:
    deployed(data_dir, tmp_path)
    execution_id = start_paused(data_dir)
    note = "{{ secret('X') }} and {{ execution.id }}"
    perch(data_dir, "execution", "resume", execution_id, "-i", f"note={note}", "-i", "count=1")
    server = Server(data_dir, tmp_path / "server.log")
    server.start()
    try:
        store = open_sqlite(data_dir)
        try:
            done = wait_for(store, execution_id, ended)
            ask = next(r for r in done.task_runs if r.task_id == "ask")
            assert (ask.outputs or {})["onResume"]["note"] == note
            messages = [e.message for e in service.logs(store, execution_id) if e.task_id == "echo"]
        finally:
            store.close()
    finally:
        server.stop()
    assert done.state.current is StateType.SUCCESS
    # The line reads the secret token too, so it is masked whole.
    assert messages == ["******"]
    assert note in perch(data_dir, "execution", "show", execution_id).stdout


def test_a_second_server_on_the_same_folder_is_refused(server: Server, data_dir: Path) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "perch", "server", "local", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "PERCH_DATABASE_URL": ""},
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert f"pid {server.process.pid if server.process else '?'}" in second.stderr
    # The refused server left the running one's files alone.
    info = json.loads((data_dir / "server.json").read_text())
    assert server.process is not None
    assert info["pid"] == server.process.pid
    assert server.stop() == 0


def test_leftovers_of_a_sigkill_do_not_block_the_next_start(
    server: Server, data_dir: Path, tmp_path: Path
) -> None:
    server.crash()
    assert (data_dir / "server.json").exists()  # stale, from the killed process
    # A stale server.json naming a live process that is not a server must not fool anyone.
    stale = json.loads((data_dir / "server.json").read_text())
    stale["pid"] = os.getpid()
    (data_dir / "server.json").write_text(json.dumps(stale))
    from perch.server import running_server

    assert running_server(data_dir) is None
    server.start()
    assert server.stop() == 0
    assert not (data_dir / "server.json").exists()


def test_sigterm_while_tasks_run_then_restart_finishes_them(
    server: Server, data_dir: Path, tmp_path: Path, store: Store
) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, chain_source(6))))
    ids = [
        service.create_execution(
            store, DEFAULT_TENANT, "company.team", "chain", {}, Principal("e")
        ).id
        for _ in range(4)
    ]
    wait_for(store, ids[0], lambda e: len(e.task_runs) >= 3)
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert "Perch server stopped" in (tmp_path / "server.log").read_text()
    assert not (data_dir / "server.json").exists()
    assert any(not service.get_execution(store, i).state.current.is_terminated for i in ids)

    server.start()
    for execution_id in ids:
        done = wait_for(store, execution_id, ended, timeout=60)
        assert done.state.current is StateType.SUCCESS
        assert len(done.task_runs) == 12
        for run in done.task_runs:
            if run.task_id.startswith("log"):
                lines = [e for e in service.logs(store, execution_id) if e.task_run_id == run.id]
                assert len(lines) == 1, (run.task_id, lines)
    assert server.stop() == 0


SLOW = """\
id: slow
namespace: company.team
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1H
"""
"""Longer than any busy machine takes to notice the task RUNNING and send Ctrl-C (30 s was not,
in a suite run beside another one and a CPU burner)."""


def test_ctrl_c_while_start_waits_exits_cleanly(data_dir: Path, tmp_path: Path) -> None:
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, SLOW)))
    process = subprocess.Popen(
        [sys.executable, "-m", "perch", "execution", "start", "company.team", "slow", "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PERCH_DATA_DIR": str(data_dir), "PERCH_DATABASE_URL": ""},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    store = open_sqlite(data_dir)
    try:
        # Ctrl-C as soon as the task run is RUNNING, however long that takes. The create makes
        # it RUNNING already, so the signal may come while the headline is still being printed:
        # the command must stop cleanly from its first line on.
        wait_for(
            store,
            execution_id_from(first),
            lambda e: any(run.state.current is StateType.RUNNING for run in e.task_runs),
            timeout=300,
        )
    finally:
        store.close()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, first + out + err
    assert "stopped waiting" in err
    assert NO_TRACEBACK not in out + err
    # The folder lock went with the process: a server can start at once.
    from perch.server import folder_locked

    assert not folder_locked(data_dir)
    assert execution_id_from(first)
