"""Pause and resume through the service functions, with the real loops and store."""

from __future__ import annotations

import threading

import pytest
from tests.runtime.conftest import ALICE, BOB, deploy, ended, settled, task_ids, wait_until

from perch.engine import service
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.states import StateType
from perch.errors import InputValidationError, NotPaused
from perch.server import LocalRuntime

HELLO = """\
id: hello
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: before
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
      - id: approved
        type: BOOLEAN
      - id: note
        type: STRING
        required: false
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.reason }} {{ outputs.wait.onResume.note ?? 'MISSING' }}"
"""


def start(store: Store, flow_id: str = "hello") -> str:
    execution = service.create_execution(store, DEFAULT_TENANT, "company.team", flow_id, {}, ALICE)
    return execution.id


def test_pause_then_resume_runs_the_next_task(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, HELLO)
    execution_id = start(store)
    paused = wait_until(store, execution_id, settled)
    assert paused.state.current is StateType.PAUSED
    assert task_ids(paused) == ["before", "wait"]

    service.resume(store, execution_id, {"reason": "ok", "approved": "true"}, BOB)

    done = wait_until(store, execution_id, ended)
    assert done.state.current is StateType.SUCCESS
    assert task_ids(done) == ["before", "wait", "after"]
    wait_run = done.task_runs[1]
    assert wait_run.outputs is not None
    assert wait_run.outputs["onResume"]["reason"] == "ok"
    assert wait_run.outputs["resumed"]["by"] == "bob"
    messages = [e.message for e in service.logs(store, execution_id) if e.task_id == "after"]
    assert messages == ["ok MISSING"]


def test_bad_resume_inputs_name_each_input_and_leave_it_paused(
    store: Store, runtime: LocalRuntime
) -> None:
    deploy(store, HELLO)
    execution_id = start(store)
    wait_until(store, execution_id, settled)

    with pytest.raises(InputValidationError) as caught:
        service.resume(store, execution_id, {"approved": "maybe"}, BOB)

    assert {p.input_id for p in caught.value.problems} == {"reason", "approved"}
    assert service.get_execution(store, execution_id).state.current is StateType.PAUSED


def test_resume_of_a_running_execution_is_not_paused(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, HELLO)
    execution_id = start(store)
    wait_until(store, execution_id, settled)
    service.resume(store, execution_id, {"reason": "r", "approved": "true"}, BOB)

    with pytest.raises(NotPaused) as caught:
        service.resume(store, execution_id, {"reason": "r", "approved": "true"}, ALICE)

    assert caught.value.resumed_by == "bob"


def test_bulk_resume_by_query_reports_the_others(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, HELLO)
    ids = [start(store) for _ in range(5)]
    for execution_id in ids:
        wait_until(store, execution_id, settled)
    service.kill(store, ids[0], ALICE)
    seen: list[tuple[int, int]] = []

    result = service.resume_by_query(
        store,
        ExecutionQuery(namespace_prefix="company", flow_id="hello"),
        BOB,
        {"reason": "bulk", "approved": "true"},
        progress=lambda done, total: seen.append((done, total)),
    )

    assert sorted(result.done) == sorted(ids[1:])
    assert [i for i, _ in result.skipped] == [ids[0]]
    assert "not paused" in result.skipped[0][1]
    assert seen[-1] == (5, 5)
    for execution_id in ids[1:]:
        assert wait_until(store, execution_id, ended).state.current is StateType.SUCCESS
    assert service.get_execution(store, ids[0]).state.current is StateType.KILLED


TIMED = """\
id: timed
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.5S
    behavior: RESUME
    onResume:
      - id: reason
        type: STRING
        defaults: timer
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.reason ?? 'timer' }}"
"""


@pytest.mark.parametrize("round_", range(3))
def test_timer_kill_and_resume_racing_give_one_outcome(
    store: Store, runtime: LocalRuntime, round_: int
) -> None:
    deploy(store, TIMED)
    execution_id = start(store, "timed")
    wait_until(store, execution_id, settled)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def act(name: str) -> None:
        barrier.wait()
        try:
            if name == "kill":
                service.kill(store, execution_id, ALICE)
            else:
                service.resume(store, execution_id, {"reason": "person"}, BOB)
            results[name] = "ok"
        except Exception as exc:
            results[name] = type(exc).__name__

    # Race right at the pause's end, so that the timer competes too.
    threading.Event().wait(0.45 + 0.02 * round_)
    threads = [threading.Thread(target=act, args=(n,)) for n in ("kill", "resume")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = wait_until(store, execution_id, ended)
    wait_run = final.task_runs[0]
    after_runs = [r for r in final.task_runs if r.task_id == "after"]
    assert len(after_runs) <= 1
    if results["resume"] == "ok":
        assert wait_run.outputs is not None
        assert wait_run.outputs["resumed"]["by"] == "bob"
        assert wait_run.outputs["onResume"]["reason"] == "person"
    else:
        assert results["resume"] == "NotPaused"
    if results["kill"] == "ok" and results["resume"] != "ok":
        assert final.state.current is StateType.KILLED
    if final.state.current is StateType.KILLED:
        assert all(r.state.current is not StateType.SUCCESS for r in after_runs)
    else:
        assert final.state.current is StateType.SUCCESS
        assert len(after_runs) == 1
