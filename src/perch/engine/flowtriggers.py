"""Flow triggers: an execution entering a state starts the flows that wait for it.

:func:`react` runs in the transaction of every transition that changes an execution's state.
It reads the enabled Flow triggers of the tenant (one indexed read, usually of few rows),
judges the new states against each (:mod:`perch.engine.conditions`) and, for each trigger that
fires, inserts the downstream execution with a ``Start`` event for it, in that same transaction.
So the downstream execution exists exactly when the upstream's transition committed: a crash
before the commit loses both, a crash after it keeps both, and two executors never both start
it (only one of them commits the upstream's transition).

Preconditions met at different times (several upstream flows, a ``MultipleCondition``) are
remembered in the trigger's stored state, read and written under its row lock.

A flow never triggers itself: a Flow trigger without conditions would otherwise start its own
flow again each time it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from perch.engine.conditions import Upstream, Verdict, judge_flow_event, window_opening
from perch.engine.context import EngineContext
from perch.engine.creation import CORRELATION_LABEL, new_execution
from perch.engine.events import Start
from perch.engine.ids import new_id
from perch.engine.model import Execution, Label, LogEntry
from perch.engine.ports import QueuedEvent, Transaction, TriggerRow
from perch.engine.principal import SYSTEM
from perch.engine.states import StateType
from perch.engine.variables import run_variables
from perch.engine.wakeup import EVENTS
from perch.engine.written import Written
from perch.errors import PerchError
from perch.flows import Flow
from perch.flows.triggers import FlowTrigger
from perch.inputs import resolve_inputs
from perch.templating import default_environment

FLOW_TRIGGER = FlowTrigger.type_names[0]


def entered_states(before: Execution | None, after: Execution) -> list[StateType]:
    """The states ``after`` entered since ``before`` (CREATED never counts)."""
    seen = len(before.state.histories) if before is not None else 0
    new = after.state.histories[seen:]
    if not new and before is not None and before.state.current is not after.state.current:
        return [after.state.current]
    return [h.state for h in new if h.state is not StateType.CREATED]


def react(
    tx: Transaction,
    ctx: EngineContext,
    before: Execution | None,
    after: Execution,
    written: Written,
) -> None:
    """Start the flows whose Flow triggers the states ``after`` entered satisfy."""
    entered = entered_states(before, after)
    if not entered:
        return
    listeners = tx.flow_listeners(after.tenant, FLOW_TRIGGER)
    if not listeners:
        return
    reaction = _Reaction(tx, ctx, after, written)
    for row in listeners:
        if (row.namespace, row.flow_id) == (after.namespace, after.flow_id):
            continue
        found = reaction.trigger_of(row)
        if found is None:
            continue
        flow, trigger = found
        for state in entered:
            reaction.consider(row, flow, trigger, state)


class _Reaction:
    """One upstream transition judged against the listening triggers."""

    def __init__(
        self, tx: Transaction, ctx: EngineContext, upstream: Execution, written: Written
    ) -> None:
        self.tx = tx
        self.ctx = ctx
        self.upstream = upstream
        self.written = written
        self.now = ctx.clock.now()
        self._variables: dict[str, Any] | None = None

    def trigger_of(self, row: TriggerRow) -> tuple[Flow, FlowTrigger] | None:
        try:
            flow = self.ctx.flow(self.tx, row.tenant, row.namespace, row.flow_id, row.flow_revision)
        except PerchError:
            return None  # a revision gone or no longer valid: nothing to start
        if flow.disabled:
            return None
        for trigger in flow.triggers or []:
            if trigger.id == row.trigger_id and isinstance(trigger, FlowTrigger):
                return None if trigger.disabled else (flow, trigger)
        return None

    def variables(self) -> dict[str, Any]:
        """The upstream execution's template variables (built once, on first use)."""
        if self._variables is None:
            flow = self.ctx.flow_for(self.tx, self.upstream)
            self._variables = run_variables(flow, self.upstream)
        return self._variables

    def render(self, text: Any, extra: Mapping[str, Any] | None = None) -> Any:
        variables = self.variables() if extra is None else {**self.variables(), **extra}
        return default_environment().render_value(
            text, variables, hooks=self.ctx.hooks_for(self.upstream)
        )

    def consider(self, row: TriggerRow, flow: Flow, trigger: FlowTrigger, state: StateType) -> None:
        upstream = Upstream(self.upstream, state, self.render, self.now)
        try:
            verdict = judge_flow_event(trigger, upstream)
        except PerchError as exc:
            self._warn(f"Flow trigger '{trigger.id}' of {_name(row)} could not be evaluated: {exc}")
            return
        if not verdict.concerned:
            return
        if not verdict.complete and not self._all_met(row, verdict):
            return
        self.fire(row, flow, trigger, state)

    def _all_met(self, row: TriggerRow, verdict: Verdict) -> bool:
        """Record the keys this event met; whether all are met now inside the window (then
        they are forgotten again when the trigger resets on success)."""
        opening = window_opening(verdict.window, self.now)
        if opening is None:
            return False
        stored = self.tx.get_trigger(row.key, for_update=True)
        if stored is None:
            return False
        met: dict[str, str] = {
            key: when
            for key, when in dict((stored.state or {}).get("met") or {}).items()
            if key in verdict.keys and datetime.fromisoformat(str(when)) >= opening
        }
        for key in verdict.met:
            met[key] = self.now.isoformat()
        complete = verdict.keys <= set(met)
        if complete and verdict.reset_on_success:
            met = {}
        self.tx.update_trigger(replace(stored, state={"met": dict(met)} if met else None))
        return complete

    def fire(self, row: TriggerRow, flow: Flow, trigger: FlowTrigger, state: StateType) -> None:
        """Create the downstream execution and its ``Start``, in this transaction."""
        upstream = self.upstream
        variables: dict[str, Any] = {
            "executionId": upstream.id,
            "namespace": upstream.namespace,
            "flowId": upstream.flow_id,
            "flowRevision": upstream.flow_revision,
            "state": state.value,
            "outputs": dict(upstream.outputs) if upstream.outputs else None,
            "executionLabels": {label.key: label.value for label in upstream.labels},
        }
        try:
            given = self.render(trigger.inputs or {}, {"trigger": variables})
            inputs = resolve_inputs(
                flow.inputs or [], dict(given), environment=default_environment()
            )
        except PerchError as exc:
            self._warn(
                f"Flow trigger '{trigger.id}' of {_name(row)} did not start an execution: "
                f"invalid inputs: {exc}"
            )
            return
        labels = [Label(k, str(v)) for k, v in (trigger.labels or {}).items()]
        child = new_execution(
            flow,
            revision=row.flow_revision,
            inputs=inputs,
            now=self.now,
            principal=SYSTEM,
            labels=labels,
            correlation_id=upstream.label(CORRELATION_LABEL),
            trigger={"id": trigger.id, "type": trigger.canonical_type, "variables": variables},
        )
        if child.tenant != upstream.tenant:
            child = replace(child, tenant=upstream.tenant)
        self.written.insert(child)
        self.written.add_logs(
            [
                LogEntry(
                    child.id,
                    self.now,
                    "INFO",
                    f"Started by Flow trigger '{trigger.id}': execution {upstream.id} of "
                    f"{upstream.namespace}.{upstream.flow_id} is {state.value}",
                )
            ]
        )
        self.tx.add_events([QueuedEvent(new_id(), child.id, Start())])
        self.written.channels.add(EVENTS)
        stored = self.tx.get_trigger(row.key, for_update=True)
        if stored is not None:
            self.tx.update_trigger(replace(stored, last_date=self.now, last_execution_id=child.id))

    def _warn(self, message: str) -> None:
        self.written.add_logs([LogEntry(self.upstream.id, self.now, "WARN", message)])


def _name(row: TriggerRow) -> str:
    return f"flow '{row.namespace}.{row.flow_id}'"
