"""Concurrency limits, subflows, kill and leases, with the real loops and store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.runtime.conftest import ALICE, BOB, deploy, ended, settled, task_ids, wait_until

from perch.engine import service
from perch.engine.events import TaskResult, TaskStarted
from perch.engine.executor import apply, context_for
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.states import StateType
from perch.errors import InputValidationError, StaleResult
from perch.server import LocalRuntime

LIMITED = """\
id: limited
namespace: company.team
concurrency:
  limit: 1
  behavior: {behavior}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done
"""


def test_concurrency_queue_runs_the_second_after_the_first(
    store: Store, runtime: LocalRuntime
) -> None:
    deploy(store, LIMITED.format(behavior="QUEUE"))
    first = service.create_execution(store, DEFAULT_TENANT, "company.team", "limited", {}, ALICE)
    second = service.create_execution(store, DEFAULT_TENANT, "company.team", "limited", {}, ALICE)
    wait_until(store, first.id, settled)
    assert second.state.current is StateType.QUEUED

    service.resume(store, first.id, {}, BOB)

    assert wait_until(store, first.id, ended).state.current is StateType.SUCCESS
    resumed = wait_until(store, second.id, settled)
    assert resumed.state.current is StateType.PAUSED
    history = [h.state for h in resumed.state.histories]
    assert history[:3] == [StateType.CREATED, StateType.QUEUED, StateType.RUNNING]


def test_concurrency_cancel_cancels_the_second(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, LIMITED.format(behavior="CANCEL"))
    first = service.create_execution(store, DEFAULT_TENANT, "company.team", "limited", {}, ALICE)
    second = service.create_execution(store, DEFAULT_TENANT, "company.team", "limited", {}, ALICE)

    assert second.state.current is StateType.CANCELLED
    assert [h.state for h in second.state.histories] == [StateType.CREATED, StateType.CANCELLED]
    assert wait_until(store, first.id, settled).state.current is StateType.PAUSED


def test_concurrency_fail_fails_the_second(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, LIMITED.format(behavior="FAIL"))
    service.create_execution(store, DEFAULT_TENANT, "company.team", "limited", {}, ALICE)
    second = service.create_execution(store, DEFAULT_TENANT, "company.team", "limited", {}, ALICE)
    assert second.state.current is StateType.FAILED


INPUTS = """\
id: typed
namespace: company.team
inputs:
  - id: count
    type: INT
  - id: when
    type: DATE
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.count }}"
"""


def test_invalid_create_names_each_input_and_creates_nothing(store: Store) -> None:
    deploy(store, INPUTS)
    with pytest.raises(InputValidationError) as caught:
        service.create_execution(
            store, DEFAULT_TENANT, "company.team", "typed", {"count": "many"}, ALICE
        )
    assert {p.input_id for p in caught.value.problems} == {"count", "when"}
    assert service.search_executions(store, ExecutionQuery()).total == 0


PARENT = """\
id: parent
namespace: company.team
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      who: world
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "child said {{ outputs.call.outputs.greeting ?? 'nothing' }}"
"""
CHILD = """\
id: child
namespace: company.team
inputs:
  - id: who
    type: STRING
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: grandchild
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.who }}"
outputs:
  - id: greeting
    type: STRING
    value: "hello {{ inputs.who }}"
"""
GRANDCHILD = """\
id: grandchild
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ labels.system.correlationId }}"
"""


def test_subflow_chain_shares_one_correlation_id(store: Store, runtime: LocalRuntime) -> None:
    for source in (GRANDCHILD, CHILD, PARENT):
        deploy(store, source)
    parent = service.create_execution(store, DEFAULT_TENANT, "company.team", "parent", {}, ALICE)

    done = wait_until(store, parent.id, ended, timeout=20)

    assert done.state.current is StateType.SUCCESS
    assert task_ids(done) == ["call", "after"]
    everything = service.search_executions(store, ExecutionQuery(size=10)).results
    assert len(everything) == 3
    assert {e.state.current for e in everything} == {StateType.SUCCESS}
    assert {e.label("system.correlationId") for e in everything} == {parent.id}
    children = {e.flow_id: e for e in everything}
    assert children["child"].parent is not None
    assert children["child"].parent.execution_id == parent.id
    assert children["grandchild"].parent is not None
    assert children["grandchild"].parent.execution_id == children["child"].id


def test_kill_of_a_paused_execution_runs_nothing_after(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, LIMITED.format(behavior="QUEUE"))
    execution = service.create_execution(
        store, DEFAULT_TENANT, "company.team", "limited", {}, ALICE
    )
    wait_until(store, execution.id, settled)

    killed = service.kill(store, execution.id, ALICE)

    final = wait_until(store, killed.id, ended)
    assert final.state.current is StateType.KILLED
    assert task_ids(final) == ["wait"]


LOG_THEN_PAUSE = """\
id: leased
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: first
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


def test_an_abandoned_lease_is_reclaimed_as_a_new_attempt(store: Store) -> None:
    deploy(store, LOG_THEN_PAUSE)
    runtime = LocalRuntime(store, workers=1, lease_seconds=1.0)
    # The Log must become a job (the executor would otherwise run it at the creation).
    runtime.context.inline = None
    execution = service.create_execution(store, DEFAULT_TENANT, "company.team", "leased", {}, ALICE)
    # A worker that claims the job, starts attempt 1 and dies.
    now = context_for(store).clock.now()
    with store.transaction() as tx:
        (job,) = tx.claim_jobs("dead-worker", 10, now, now + timedelta(seconds=0.3))
    apply(store, execution.id, TaskStarted(job.task_run_id, job.attempt, "dead-worker"))

    runtime.start()
    try:
        paused = wait_until(store, execution.id, settled, timeout=15)
    finally:
        runtime.stop()

    first = paused.task_runs[0]
    assert first.state.current is StateType.SUCCESS
    assert len(first.attempts) == 2
    with pytest.raises(StaleResult):
        apply(
            store,
            execution.id,
            TaskResult(job.task_run_id, job.attempt, StateType.SUCCESS, worker_id="dead-worker"),
        )
    with store.transaction() as tx:
        assert tx.claim_jobs("anyone", 10, now + timedelta(days=1), now) == []


FAILING = """\
id: failing
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: first
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
"""


def test_restart_reruns_only_the_failed_task(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, FAILING)
    execution = service.create_execution(
        store, DEFAULT_TENANT, "company.team", "failing", {}, ALICE
    )
    assert wait_until(store, execution.id, ended).state.current is StateType.FAILED

    service.restart(store, execution.id, BOB)

    again = wait_until(
        store,
        execution.id,
        lambda e: ended(e) and e.state.entered(StateType.RESTARTED),
    )
    assert again.state.current is StateType.FAILED
    first_lines = [e for e in service.logs(store, execution.id) if e.task_id == "first"]
    assert len(first_lines) == 1


TWO_LOGS = """\
id: two
namespace: company.team
tasks:
  - id: one
    type: io.kestra.plugin.core.log.Log
    message: one
  - id: two
    type: io.kestra.plugin.core.log.Log
    message: two
"""


def test_replay_from_a_task_run_is_a_new_execution(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, TWO_LOGS)
    original = service.create_execution(store, DEFAULT_TENANT, "company.team", "two", {}, ALICE)
    done = wait_until(store, original.id, ended)
    second = done.task_runs[1]

    replayed = service.replay(store, original.id, BOB, task_run_id=second.id)

    final = wait_until(store, replayed.id, ended)
    assert final.id != original.id
    assert final.original_id == original.id
    assert final.state.current is StateType.SUCCESS
    assert task_ids(final) == ["one", "two"]
    assert [e.task_id for e in service.logs(store, final.id)] == ["two"]


def test_each_action_is_audited_once_with_its_principal(
    store: Store, runtime: LocalRuntime
) -> None:
    import json

    import sqlalchemy as sa

    from perch.store import SqlStore
    from perch.store.schema import audit

    deploy(store, TWO_LOGS)
    original = service.create_execution(store, DEFAULT_TENANT, "company.team", "two", {}, ALICE)
    wait_until(store, original.id, ended)
    replayed = service.replay(store, original.id, BOB)
    wait_until(store, replayed.id, ended)

    assert isinstance(store, SqlStore)
    with store.transaction() as tx:
        rows = tx.connection.execute(  # type: ignore[attr-defined]
            sa.select(audit.c.execution_id, audit.c.action, audit.c.principal_name, audit.c.detail)
        ).all()
    by_execution = {(r.execution_id, r.action, r.principal_name) for r in rows}
    actions = [(r.execution_id, r.action) for r in rows if r.execution_id is not None]
    assert sorted(actions) == sorted([(original.id, "CREATE"), (replayed.id, "REPLAY")])
    assert (original.id, "CREATE", "alice") in by_execution
    assert (replayed.id, "REPLAY", "bob") in by_execution
    replay_detail = next(r.detail for r in rows if r.action == "REPLAY")
    assert json.loads(replay_detail)["originalId"] == original.id
    assert store.verify_audit_chain().ok
