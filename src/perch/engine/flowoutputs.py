"""Rendering outputs when an execution ends: the flow's declared ``outputs``, and what a
waiting Subflow task run reads from its ended child.

A flow's ``outputs`` render when the execution succeeds; a value that does not render, or does
not read as its declared type, fails the execution. A Subflow task run gets its child's
declared outputs, or, when the child flow declares none, the Subflow task's own ``outputs``
map rendered against the child (Kestra's older way); outputs that cannot be read fail the
Subflow task run whatever the child's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from perch.engine.draft import Draft
from perch.engine.model import JSON, Execution
from perch.engine.states import StateType
from perch.errors import PerchError
from perch.flows import Flow, FlowOutput
from perch.inputs import InputType, ValueProblem, parse_value, serialize_input_value
from perch.templating.taint import holds_secret, mark

SUBFLOW_OUTPUTS_KEY = "subflowOutputs"
"""Execution metadata of a child: the ``outputs`` map of the Subflow task that started it,
rendered against the child when it ends (only when the child's flow declares no outputs)."""


def render_outputs(d: Draft, state: StateType) -> StateType:
    """Render the flow's outputs on success; a render error fails the execution."""
    if state is StateType.SKIPPED:
        state = StateType.SUCCESS
    if state.is_failed or not d.flow.outputs:
        return state
    try:
        d.outputs = {output.id: typed_output(d, output) for output in d.flow.outputs}
    except (PerchError, ValueProblem) as exc:
        d.log("ERROR", f"Failed to render the flow outputs: {exc}")
        d.outputs = None
        return StateType.FAILED
    return state


def typed_output(d: Draft, output: FlowOutput) -> Any:
    """One declared output, rendered and read as its type; raises :class:`ValueProblem`
    (or a template error) when it cannot be."""
    # As Kestra does: render to text first (a map prints as compact JSON), then read the text
    # as the output's declared type, like an input.
    rendered = render_tree(d, output.value)
    if rendered is None:
        return None
    try:
        input_type = InputType(output.type.upper())
    except ValueError:
        return rendered
    secret = holds_secret(rendered)
    try:
        typed = serialize_input_value(parse_value(input_type, rendered))
    except ValueProblem as exc:
        reason = "the value is not valid" if secret else exc
        raise ValueProblem(f"output '{output.id}': {reason}") from None
    return mark(typed) if secret else typed


def render_tree(d: Draft, value: Any) -> Any:
    """Every string of ``value`` (lists and maps walked) rendered as text."""
    if isinstance(value, str):
        return d.render_text(value, None)
    if isinstance(value, list):
        return [render_tree(d, item) for item in value]
    if isinstance(value, dict):
        return {key: render_tree(d, item) for key, item in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class ChildOutputs:
    """What an ended child gives its waiting Subflow task run."""

    outputs: Mapping[str, JSON] | None = None
    error: str | None = None
    """Why the outputs could not be read (the Subflow task run fails)."""


def child_outputs(
    flow: Flow,
    execution: Execution,
    *,
    now: datetime,
    hooks: Mapping[str, Callable[..., Any]] | None = None,
) -> ChildOutputs:
    """The outputs the Subflow task run of ``execution`` (an ended child of ``flow``) gets."""
    template = execution.metadata.get(SUBFLOW_OUTPUTS_KEY)
    if not flow.outputs and not isinstance(template, dict):
        return ChildOutputs()
    if flow.outputs and execution.outputs is not None:
        return ChildOutputs(dict(execution.outputs))
    # A child that failed never rendered its outputs, and one whose outputs failed has none:
    # render them now, as Kestra does for the parent, so the parent learns why.
    d = Draft(flow, execution, now, hooks)
    try:
        if flow.outputs:
            return ChildOutputs({output.id: typed_output(d, output) for output in flow.outputs})
        assert isinstance(template, dict)
        return ChildOutputs(render_tree(d, template))
    except (PerchError, ValueProblem) as exc:
        return ChildOutputs(error=str(exc))
