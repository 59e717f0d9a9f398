"""Tasks that only render templates (Log, Return, OutputValues) run in the transaction of the
transition that dispatches them, without a job or a worker; every other task still goes through
a job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.runtime.conftest import ALICE, deploy, wait_until

from perch.engine import service
from perch.engine.executor import context_for
from perch.engine.ports import Job, Store
from perch.engine.running import INLINE_WORKER
from perch.engine.states import StateType
from perch.engine.worker import WorkerPool
from perch.server import LocalRuntime, run_task_in_worker

APPROVAL = """
id: approval
namespace: perch.inline
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "approved by {{ outputs.wait.resumed.by }}"
  - id: answer
    type: io.kestra.plugin.core.output.OutputValues
    values:
      answer: 42
"""

THEN_SHELL = """
id: then-shell
namespace: perch.inline
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hello
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo hi
"""

RETRIED = """
id: retried
namespace: perch.inline
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.missing.value }}"
    timeout: PT1M
    retry:
      type: constant
      interval: PT0.2S
      maxAttempts: 2
"""


@pytest.fixture
def no_workers(store: Store) -> Iterator[LocalRuntime]:
    """The executor and the scheduler, without a single worker thread."""
    running = LocalRuntime(store, workers=0)
    running.start()
    yield running
    running.stop()


def pending_jobs(store: Store) -> list[Job]:
    """The jobs waiting for a worker (claimed with a lease that has already ended, so that they
    stay claimable)."""
    now = context_for(store).clock.now()
    with store.transaction() as tx:
        return tx.claim_jobs("probe", 100, now, now - timedelta(seconds=1))


def test_a_resumed_log_runs_in_the_resume_transaction(
    store: Store, no_workers: LocalRuntime
) -> None:
    deploy(store, APPROVAL)
    created = service.create_execution(store, "main", "perch.inline", "approval", {}, ALICE)
    wait_until(store, created.id, lambda e: e.state.current is StateType.PAUSED)

    service.resume(store, created.id, {}, ALICE)

    # No worker exists: the Log and the OutputValues ran before the resume committed.
    done = service.get_execution(store, created.id)
    assert done.state.current is StateType.SUCCESS
    runs = {run.task_id: run for run in done.task_runs}
    assert runs["answer"].outputs == {"values": {"answer": 42}}
    for task_id in ("say", "answer"):
        assert [a.worker_id for a in runs[task_id].attempts] == [INLINE_WORKER]
    messages = [entry.message for entry in service.logs(store, created.id)]
    assert "approved by alice" in messages
    assert pending_jobs(store) == []


def test_a_task_that_is_not_inline_still_waits_for_a_worker(
    store: Store, no_workers: LocalRuntime
) -> None:
    deploy(store, THEN_SHELL)
    created = service.create_execution(store, "main", "perch.inline", "then-shell", {}, ALICE)

    execution = service.get_execution(store, created.id)
    assert [(r.task_id, r.state.current) for r in execution.task_runs] == [
        ("say", StateType.SUCCESS),
        ("shell", StateType.CREATED),
    ]
    assert [(job.execution_id, job.task_id) for job in pending_jobs(store)] == [
        (created.id, "shell")
    ]

    workers = WorkerPool(store, run_task_in_worker, threads=1)
    workers.start()
    try:
        done = wait_until(store, created.id, lambda e: e.state.current.is_terminated)
    finally:
        workers.stop()
    # A worker ran it, not the executor.
    assert done.state.current is StateType.SUCCESS
    assert done.task_runs[1].attempts[0].worker_id not in (None, INLINE_WORKER)
    assert pending_jobs(store) == []


def test_a_failing_inline_task_is_retried_through_its_timer(
    store: Store, no_workers: LocalRuntime
) -> None:
    deploy(store, RETRIED)
    created = service.create_execution(store, "main", "perch.inline", "retried", {}, ALICE)
    assert service.get_execution(store, created.id).task_runs[0].state.current is (
        StateType.RETRYING
    )

    failed = wait_until(store, created.id, lambda e: e.state.current.is_terminated)

    assert failed.state.current is StateType.FAILED
    attempts = failed.task_runs[0].attempts
    assert [(a.state.current, a.worker_id) for a in attempts] == [
        (StateType.FAILED, INLINE_WORKER),
        (StateType.FAILED, INLINE_WORKER),
    ]
    assert pending_jobs(store) == []


LOOPING_LOG = """
id: looping-log
namespace: perch.inline
tasks:
  - id: light
    type: io.kestra.plugin.core.log.Log
    message: "light {{ execution.id }}"
  - id: heavy
    type: io.kestra.plugin.core.log.Log
    message: "{% for i in [1, 2, 3] %}{{ i }}{% endfor %}"
"""


def test_a_log_with_a_loop_is_rendered_by_a_worker_outside_the_write_transaction(
    store: Store, runtime: LocalRuntime
) -> None:
    deploy(store, LOOPING_LOG)
    created = service.create_execution(store, "main", "perch.inline", "looping-log", {}, ALICE)
    done = wait_until(store, created.id, lambda e: e.state.current.is_terminated)
    assert done.state.current is StateType.SUCCESS
    runs = {run.task_id: run for run in done.task_runs}
    assert [a.worker_id for a in runs["light"].attempts] == [INLINE_WORKER]
    # A template that may render slowly is a job: a worker renders it between transactions.
    assert runs["heavy"].attempts[0].worker_id not in (None, INLINE_WORKER)
