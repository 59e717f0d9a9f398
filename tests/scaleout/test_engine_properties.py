"""A property-based test of the engine on the real store (hypothesis' stateful testing).

Random flows from a small grammar (sequential, parallel, ForEach, Pause with and without a
``pauseDuration``, Fail, ``allowFailure``, Subflow, inline tasks and worker jobs) meet random
sequences of starts, resumes, manual pauses, kills, clock advances, executor and worker rounds,
worker crashes (a claimed job abandoned until its lease runs out) and restarts (the store
closed and opened again on the same database). The loops of ``perch server local`` are the
real ones, stepped by the test on a fake clock instead of running on their threads.

After every step: each execution has at most one terminal state and it is its last (no
transition out of a terminal state), state histories never go back in time, no task run
finishes twice, and every decision the engine acknowledged is applied (a resumed task run
keeps who resumed it and the values given; a killed execution stays KILLED).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from perch.engine import service
from perch.engine.clock import FakeClock
from perch.engine.model import DEFAULT_TENANT, Execution
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.errors import AlreadyFinished, NotPaused, NotRunning
from perch.server import LocalRuntime, release_all_leases, start_waiting

NAMESPACE = "perch.props"
DECIDER = Principal("dana")
LEASE_SECONDS = 30.0
TERMINAL = {s for s in StateType if s.is_terminated}

CHILD = f"""\
id: child
namespace: {NAMESPACE}
tasks:
  - id: child_job
    type: io.kestra.plugin.core.log.Log
    message: "{{% if true %}}child{{% endif %}}"
  - id: child_wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT20S
"""

# --- the flow grammar -------------------------------------------------------------------------

LEAVES = ("log", "job", "job", "pause", "timed_pause", "timed_pause", "subflow", "fail")
"""Leaf kinds, weighted: a Fail (without allowFailure) ends most of what it is in."""
Leaf = tuple[str, bool]  # kind, allowFailure
Node = Any  # a Leaf, or (container kind, [Node, ...])

leaf = st.tuples(st.sampled_from(LEAVES), st.booleans())
node = st.recursive(
    leaf,
    lambda children: st.tuples(
        st.sampled_from(("sequential", "parallel", "foreach")),
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=6,
)
flows = st.lists(node, min_size=1, max_size=4)


@dataclass
class Renderer:
    """YAML for a tree of the grammar, each task with its own id."""

    count: int = 0

    def flow(self, tree: list[Node]) -> str:
        lines = ["id: random", f"namespace: {NAMESPACE}", "tasks:"]
        for item in tree:
            lines += self.task(item, "  ")
        return "\n".join(lines) + "\n"

    def task(self, item: Node, pad: str) -> list[str]:
        self.count += 1
        kind, rest = item
        task_id = f"{kind}_{self.count}"
        if isinstance(rest, list):
            head = {
                "sequential": ["type: io.kestra.plugin.core.flow.Sequential"],
                "parallel": ["type: io.kestra.plugin.core.flow.Parallel"],
                "foreach": ["type: io.kestra.plugin.core.flow.ForEach", "values: [1, 2]"],
            }[kind]
            lines = [f"{pad}- id: {task_id}"] + [f"{pad}  {h}" for h in head]
            lines.append(f"{pad}  tasks:")
            for child in rest:
                lines += self.task(child, pad + "    ")
            return lines
        body = {
            "log": ["type: io.kestra.plugin.core.log.Log", "message: inline"],
            # A statement in the message makes it a worker job (not rendered inline).
            "job": [
                "type: io.kestra.plugin.core.log.Log",
                'message: "{% if true %}job{% endif %}"',
            ],
            "fail": ["type: io.kestra.plugin.core.execution.Fail", "errorMessage: planned"],
            "pause": [
                "type: io.kestra.plugin.core.flow.Pause",
                "onResume:",
                "  - id: note",
                "    type: STRING",
                "    defaults: none",
            ],
            "timed_pause": ["type: io.kestra.plugin.core.flow.Pause", "pauseDuration: PT10S"],
            "subflow": [
                "type: io.kestra.plugin.core.flow.Subflow",
                f"namespace: {NAMESPACE}",
                "flowId: child",
            ],
        }[kind]
        if rest:
            body = [*body, "allowFailure: true"]
        return [f"{pad}- id: {task_id}"] + [f"{pad}  {line}" for line in body]


# --- the machine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A resume the engine acknowledged: which task run it ended, with what."""

    execution_id: str
    task_run_id: str | None
    note: str | None
    history_length: int


class EngineMachine(RuleBasedStateMachine):
    data_dir: Path
    seen: Counter[str]
    """What the examples did and how their executions ended (printed: the test's coverage)."""

    def __init__(self) -> None:
        super().__init__()
        from perch.store import open_store

        self.clock = FakeClock()
        self._open_store = open_store
        self.store: Store = open_store(None, data_dir=self.data_dir)
        self.runtime = self._bind()
        self.ids: list[str] = []
        self.decisions: list[Decision] = []
        self.killed: set[str] = set()
        self.notes = 0

    def _bind(self) -> LocalRuntime:
        # One job per claim: a crash abandons one job, not every job there is.
        return LocalRuntime(
            self.store, workers=1, lease_seconds=LEASE_SECONDS, batch=1, clock=self.clock
        )

    def teardown(self) -> None:
        with self.store.transaction() as tx:
            far = self.clock.now() + timedelta(days=1)
            self.seen["jobs left"] += len(tx.peek_jobs(far, 1000))
            self.seen["jobs claimable"] += len(tx.peek_jobs(self.clock.now(), 1000))
        for execution in self._all():
            self.seen[f"execution {execution.state.current.value}"] += 1
        self.store.close()  # type: ignore[attr-defined]

    @initialize(tree=flows)
    def deploy(self, tree: list[Node]) -> None:
        service.deploy_flow(self.store, CHILD, DECIDER)
        service.deploy_flow(self.store, Renderer().flow(tree), DECIDER)

    # --- what people do

    @rule()
    def start(self) -> None:
        execution = service.create_execution(
            self.store, DEFAULT_TENANT, NAMESPACE, "random", {}, DECIDER
        )
        self.ids.append(execution.id)

    @precondition(lambda self: bool(self.ids))
    @rule(pick=st.integers(min_value=0))
    def resume(self, pick: int) -> None:
        execution = self._pick_paused(pick)
        if execution is None:
            return
        paused = [r for r in execution.task_runs if r.state.current is StateType.PAUSED]
        self.notes += 1
        note = f"note-{self.notes}"
        try:
            service.resume(self.store, execution.id, {"note": note}, DECIDER)
        except NotPaused:
            self.seen["resume refused"] += 1
            return  # a timer, a kill or an ended subflow got there first: nothing to check
        self.seen["resume acknowledged"] += 1
        run = paused[0] if paused else None
        declared = run is not None and run.task_id.startswith("pause_")
        self.decisions.append(
            Decision(
                execution.id,
                run.id if run is not None else None,
                note if declared else None,
                len(execution.state.histories),
            )
        )

    # Resumes are what the invariants check most: a second rule makes them as likely as the
    # other steps together (hypothesis draws each rule as often).
    resume_again = resume

    @precondition(lambda self: bool(self.ids))
    @rule(pick=st.integers(min_value=0))
    def pause(self, pick: int) -> None:
        execution_id = self._pick(pick)
        with contextlib.suppress(NotRunning):
            service.pause(self.store, execution_id, DECIDER)

    @precondition(lambda self: bool(self.ids))
    @rule(pick=st.integers(min_value=0))
    def kill(self, pick: int) -> None:
        execution_id = self._pick(pick)
        try:
            service.kill(self.store, execution_id, DECIDER)
        except AlreadyFinished:
            return
        self.killed.add(execution_id)
        self.seen["kill acknowledged"] += 1

    # --- what the engine does

    @rule(seconds=st.sampled_from((1, 12, 12, 31)))
    def advance_clock(self, seconds: int) -> None:
        """Time passes: due timers fire (pause durations, the lease of an abandoned job ends)."""
        self.clock.advance(timedelta(seconds=seconds))
        while self.runtime.timers.fire_due():
            pass

    @rule()
    def executor_round(self) -> None:
        for _ in range(50):
            if not self.runtime.events.drain_once():
                return

    @rule(rounds=st.integers(min_value=1, max_value=4))
    def worker_round(self, rounds: int) -> None:
        for _ in range(rounds):
            started = self.runtime.workers.claim_and_start("worker-a")
            self.seen["jobs run"] += len(started)
            while started:
                started = self.runtime.workers.process("worker-a", started)

    @rule()
    def worker_crash(self) -> None:
        """A worker claims jobs, starts them and dies: their lease runs out, another claims them."""
        if self.runtime.workers.claim_and_start("worker-crashed"):
            self.seen["jobs abandoned"] += 1

    @rule()
    def restart(self) -> None:
        """The server stops and starts again on the same database, recovering as it does."""
        self.store.close()  # type: ignore[attr-defined]
        self.store = self._open_store(None, data_dir=self.data_dir)
        self.runtime = self._bind()
        release_all_leases(self.store, self.clock.now())
        start_waiting(self.store, self.runtime.context)

    # --- what must always hold

    def _all(self) -> list[Execution]:
        with self.store.transaction() as tx:
            page = tx.search_executions(ExecutionQuery(tenant=DEFAULT_TENANT, size=10_000))
        return list(page.results)

    def _pick(self, pick: int) -> str:
        return self.ids[pick % len(self.ids)]

    def _pick_paused(self, pick: int) -> Execution | None:
        paused = [e for e in self._all() if e.state.current is StateType.PAUSED]
        return paused[pick % len(paused)] if paused else None

    @invariant()
    def histories_hold(self) -> None:
        for execution in self._all():
            states = [h.state for h in execution.state.histories]
            dates = [h.date for h in execution.state.histories]
            assert states[-1] is execution.state.current, execution.id
            assert dates == sorted(dates), (execution.id, states)
            ended = [i for i, s in enumerate(states) if s in TERMINAL]
            assert ended in ([], [len(states) - 1]), (execution.id, states)
            for run in execution.task_runs:
                run_states = [h.state for h in run.state.histories]
                run_dates = [h.date for h in run.state.histories]
                assert run_dates == sorted(run_dates), (execution.id, run.task_id, run_states)
                finished = [i for i, s in enumerate(run_states) if s in TERMINAL]
                assert finished in ([], [len(run_states) - 1]), (run.task_id, run_states)
            keys = [(r.task_id, r.parent_task_run_id, r.value) for r in execution.task_runs]
            assert len(keys) == len(set(keys)), (execution.id, keys)

    @invariant()
    def acknowledged_decisions_hold(self) -> None:
        executions = {e.id: e for e in self._all()}
        for decision in self.decisions:
            execution = executions[decision.execution_id]
            if decision.task_run_id is None:
                # A manual pause let go: the execution went on running from there.
                after = execution.state.histories[decision.history_length]
                assert after.state is StateType.RUNNING, execution.state.histories
                continue
            run = execution.task_run(decision.task_run_id)
            assert run.outputs is not None, run
            assert run.outputs["resumed"]["by"] == DECIDER.name, run.outputs
            if decision.note is not None:
                assert run.outputs["onResume"] == {"note": decision.note}, run.outputs
        for execution_id in self.killed:
            assert executions[execution_id].state.current is StateType.KILLED


@pytest.fixture
def machine(tmp_path: Path) -> type[EngineMachine]:
    counter = iter(range(10_000))

    class Machine(EngineMachine):
        def __init__(self) -> None:
            self.data_dir = tmp_path / f"example-{next(counter)}"
            super().__init__()

    return Machine


def test_engine_properties_on_sqlite(machine: type[EngineMachine]) -> None:
    machine.seen = Counter()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            print_blob=True,
        ),
    )
    print(dict(machine.seen))
