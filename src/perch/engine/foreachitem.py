"""Stepping a ForEachItem: split the file, start one subflow execution per batch, merge.

The ForEachItem task run holds three internal task runs, run in order as a Sequential's:

- ``<id>_split``: a worker cuts the items file into batch files and writes ``splits.txt``
  (their URIs, one a line); it hands the engine the number of batches in a private output
  key, which the engine moves to the execution's metadata before anything is stored.
- ``<id>_items``: the executor starts one execution of the subflow per batch (through the
  Subflow machinery: :class:`perch.engine.effects.StartSubflow`), with ``taskrun.items`` the
  batch's URI and ``taskrun.iteration`` its number (from 1). Its outputs are Kestra's:
  ``numberOfBatches`` and ``iterations`` (subflow executions counted by state). With ``wait``
  it ends once every subflow ended, FAILED if one failed (with ``transmitFailed``).
- ``<id>_merge``: the subflows' outputs, one JSON line per subflow in batch order, stored as
  one file: ``subflowOutputs`` (no outputs when no subflow had any).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from perch.engine.draft import Draft
from perch.engine.effects import PutFile, StartSubflow
from perch.engine.events import SubflowEnded
from perch.engine.filehooks import prefix_of
from perch.engine.ids import new_id
from perch.engine.model import Attempt, Label, ParentRef, TaskRun
from perch.engine.starting import as_bool, as_int
from perch.engine.states import State, StateType, fail_state
from perch.errors import PerchError, StaleResult
from perch.flows.tasks.loops import ForEachItem
from perch.templating import default_environment

Status = StateType | None
StepList = Callable[..., Status]

BATCHES_OUTPUT = "__perchBatches"
"""The private output key in which the split task reports the batch files' URIs."""
FOREACHITEM_KEY = "forEachItem"
"""Execution metadata, by ``_items`` task run id: the subflow executions still running (by
id, with their batch number) and the outputs of those that ended."""
MAX_BATCHES = 10_000
MAX_COLLECTED_BYTES = 4 * 1024 * 1024
"""The subflows' outputs kept for the merge, at most (JSON text)."""

_ENDED = {
    StateType.SUCCESS: StateType.SUCCESS,
    StateType.WARNING: StateType.WARNING,
    StateType.FAILED: StateType.FAILED,
    StateType.KILLED: StateType.KILLED,
    StateType.CANCELLED: StateType.CANCELLED,
}


def _internal(d: Draft, task: ForEachItem, run: TaskRun) -> tuple[TaskRun | None, ...]:
    return tuple(d.find(t.id, run.id, run.value) for t in task.internal_tasks)


def _meta(d: Draft) -> dict[str, Any]:
    return dict(d.metadata.get(FOREACHITEM_KEY) or {})


def step_foreachitem(d: Draft, task: ForEachItem, run: TaskRun, step_list: StepList) -> Status:
    """Drive the three internal task runs; ``None`` while one of them is still going."""
    while True:
        status = step_list(d, task.internal_tasks, run, run.value, 1, iteration=run.iteration)
        if status is not None or not _drive(d, task, run):
            return status


def _drive(d: Draft, task: ForEachItem, run: TaskRun) -> bool:
    """Do what the internal runs wait for the engine to do; True when something changed."""
    split, items, merge = _internal(d, task, run)
    batches: list[str] = []
    if split is not None and split.outputs is not None and BATCHES_OUTPUT in split.outputs:
        batches = [str(uri) for uri in split.outputs[BATCHES_OUTPUT]]
        kept = {k: v for k, v in split.outputs.items() if k != BATCHES_OUTPUT}
        d.put(split.evolve(outputs=kept))
        meta = _meta(d)
        meta[split.id] = batches
        d.set_meta(FOREACHITEM_KEY, meta)
    if items is not None and items.state.current is StateType.RUNNING and items.outputs is None:
        # Kept until the merge: a restart of failed batches starts them again.
        listed = _meta(d).get(split.id if split is not None else "", [])
        _start_batches(d, task, items, list(listed))
        return True
    if merge is not None and merge.state.current is StateType.RUNNING and items is not None:
        _merge(d, items, merge)
        if split is not None:
            meta = _meta(d)
            meta.pop(split.id, None)
            d.set_meta(FOREACHITEM_KEY, meta or None)
        return True
    return bool(batches)


def _render_inputs(d: Draft, task: ForEachItem, run: TaskRun, uri: str, number: int) -> Any:
    variables = dict(d.variables(run))
    variables["taskrun"] = {**variables.get("taskrun", {}), "items": uri, "iteration": number}
    return default_environment().render_value(dict(task.inputs or {}), variables, hooks=d.hooks)


def _start_batches(d: Draft, task: ForEachItem, items: TaskRun, batches: list[str]) -> None:
    items = d.put(items.evolve(attempts=(Attempt(State.new(d.now, StateType.RUNNING)),)))
    owner = d.run(items.parent_task_run_id or "")
    if len(batches) > MAX_BATCHES:
        raise PerchError(
            f"ForEachItem '{task.id}': {len(batches)} batches, at most {MAX_BATCHES} "
            "(make the batches larger with batch.rows, batch.bytes or batch.partitions)"
        )
    execution = d.original
    namespace = d.render_text(task.namespace, owner)
    flow_id = d.render_text(task.flowId, owner)
    inherit = as_bool(d, task.inheritLabels, owner)
    labels = [lab for lab in d.labels if inherit or lab.key.startswith("system.")]
    for key, value in (task.labels or {}).items():
        labels.append(Label(key, d.render_text(value, owner)))
    wait = as_bool(d, task.wait, owner)
    transmit = as_bool(d, task.transmitFailed, owner)
    revision = None if task.revision is None else as_int(d, task.revision, owner)
    correlation = execution.label("system.correlationId") or execution.id
    running: dict[str, int] = {}
    for number, uri in enumerate(batches, start=1):
        child_id = new_id()
        running[child_id] = number
        d.emit(
            StartSubflow(
                execution_id=child_id,
                parent=ParentRef(execution.id, items.id, execution.namespace, execution.flow_id),
                namespace=namespace,
                flow_id=flow_id,
                correlation_id=correlation,
                revision=revision,
                inputs=_render_inputs(d, task, owner, uri, number),
                labels=tuple(labels),
                wait=wait,
                transmit_failed=transmit,
                trigger={
                    "executionId": execution.id,
                    "namespace": execution.namespace,
                    "flowId": execution.flow_id,
                    "flowRevision": execution.flow_revision,
                },
            )
        )
    count = len(batches)
    if not wait or not count:
        # Not waiting, Kestra counts every subflow as a success at once.
        outputs = {"numberOfBatches": count, "iterations": {"RUNNING": 0, "SUCCESS": count}}
        d.move_run(items, StateType.SUCCESS, outputs=outputs)
        return
    meta = _meta(d)
    meta[items.id] = {"running": running, "outputs": {}, "size": 0}
    d.set_meta(FOREACHITEM_KEY, meta)
    outputs = {"numberOfBatches": count, "iterations": {"CREATED": 0, "RUNNING": count}}
    d.put(items.evolve(outputs=outputs))


def batch_ended(d: Draft, event: SubflowEnded) -> None:
    """One subflow execution of an ``_items`` task run ended: count it, keep its outputs, and
    end the task run once the last one ended."""
    items = d.run(event.task_run_id)
    meta = _meta(d)
    kept = dict(meta.get(items.id) or {})
    running = dict(kept.get("running") or {})
    if items.state.current.is_terminated or event.child_execution_id not in running:
        raise StaleResult()
    number = running.pop(event.child_execution_id)
    task = d.task(d.run(items.parent_task_run_id or ""))
    assert isinstance(task, ForEachItem)
    owner = d.run(items.parent_task_run_id or "")
    state = _ENDED.get(event.child_state, StateType.FAILED)
    if not as_bool(d, task.transmitFailed, owner):
        state = StateType.SUCCESS
    outputs = dict(items.outputs or {})
    iterations = dict(outputs.get("iterations") or {})
    iterations["RUNNING"] = int(iterations.get("RUNNING", 0)) - 1
    iterations[state.value] = int(iterations.get(state.value, 0)) + 1
    outputs["iterations"] = iterations
    collected = dict(kept.get("outputs") or {})
    size = int(kept.get("size") or 0)
    if event.child_outputs:
        text = json.dumps(dict(event.child_outputs), default=str)
        size += len(text)
        if size > MAX_COLLECTED_BYTES:
            d.log(
                "WARN", f"Outputs of batch {number} left out of the merge: over 4 MiB in all", items
            )
        else:
            collected[str(number)] = dict(event.child_outputs)
    if state.is_failed:
        d.log("ERROR", f"Subflow execution '{event.child_execution_id}' ended {state.value}", items)
    meta[items.id] = {"running": running, "outputs": collected, "size": size}
    d.set_meta(FOREACHITEM_KEY, meta)
    items = d.put(items.evolve(outputs=outputs))
    if running:
        return
    d.move_run(items, _final(task, iterations))


def _final(task: ForEachItem, iterations: Mapping[str, Any]) -> StateType:
    def seen(state: StateType) -> bool:
        return int(iterations.get(state.value, 0)) > 0

    if seen(StateType.FAILED) or seen(StateType.KILLED) or seen(StateType.CANCELLED):
        return fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
    if seen(StateType.WARNING) and not task.allowWarning:
        return StateType.WARNING
    return StateType.SUCCESS


def _merge(d: Draft, items: TaskRun, merge: TaskRun) -> None:
    merge = d.put(merge.evolve(attempts=(Attempt(State.new(d.now, StateType.RUNNING)),)))
    meta = _meta(d)
    kept = meta.pop(items.id, None) or {}
    d.set_meta(FOREACHITEM_KEY, meta or None)
    collected: dict[str, Any] = dict(kept.get("outputs") or {})
    if not collected:
        d.move_run(merge, StateType.SUCCESS)
        return
    lines = [json.dumps(collected[key], default=str) for key in sorted(collected, key=int)]
    execution = d.original
    uri = f"{prefix_of(execution.namespace, execution.flow_id, execution.id)}{merge.id}/outputs.ion"
    d.emit(PutFile(uri, ("\n".join(lines) + "\n").encode("utf-8")))
    d.move_run(merge, StateType.SUCCESS, outputs={"subflowOutputs": uri})
