"""Parse and validate a flow: YAML, models, and the checks across the whole flow."""

from __future__ import annotations

from dataclasses import dataclass, field

from perch.errors import FlowParseError, FlowValidationError, Problem
from perch.flows import checks
from perch.flows.build import FlowBuilder
from perch.flows.flow import Flow
from perch.flows.registry import (
    Registry,
    default_task_registry,
    default_trigger_registry,
)
from perch.flows.tasks.base import Task
from perch.flows.triggers import Trigger
from perch.flows.yamlsource import load_yaml


@dataclass(frozen=True, slots=True)
class FlowResult:
    """A flow if it is valid, every problem found (empty when valid), and the warnings: what
    Kestra accepts but fails when it runs (an undeclared input, a broken flowable condition)."""

    flow: Flow | None
    problems: list[Problem]
    well_formed: bool
    warnings: list[Problem] = field(default_factory=list)


def _sort_key(problem: Problem) -> tuple[int, str]:
    return (problem.line if problem.line is not None else 0, problem.path)


def check_flow(
    source: str,
    *,
    tasks: Registry[Task] | None = None,
    triggers: Registry[Trigger] | None = None,
) -> FlowResult:
    """Read ``source`` and gather every problem; the flow is returned only when valid."""
    doc = load_yaml(source)
    # `~` or `null` alone is a well-formed document holding no flow: the builder says so.
    if doc.problems and not isinstance(doc.data, dict):
        return FlowResult(None, sorted(doc.problems, key=_sort_key), well_formed=False)
    builder = FlowBuilder(
        doc, tasks or default_task_registry(), triggers or default_trigger_registry()
    )
    flow = builder.build_flow(doc.data)
    if isinstance(doc.data, dict):
        checks.duplicate_ids(builder)
        checks.duplicate_list_ids(builder, doc.data, "triggers", "trigger")
        checks.trigger_conditions(builder, doc.data)
        checks.input_declarations(builder, doc.data.get("inputs"), ("inputs",))
        checks.duplicate_list_ids(builder, doc.data, "outputs", "output")
        checks.templates(builder, doc.data)
        checks.plugin_defaults(builder, doc.data)
    if flow is not None:
        checks.recursive_subflows(builder, flow)
    problems = _unique([*doc.problems, *builder.problems])
    warnings = _unique(builder.warnings)
    if problems:
        return FlowResult(None, problems, well_formed=not doc.problems, warnings=warnings)
    assert flow is not None
    return FlowResult(flow.with_source(source), [], well_formed=True, warnings=warnings)


def _unique(found: list[Problem]) -> list[Problem]:
    unique: dict[tuple[str, str], Problem] = {}
    for problem in found:
        unique.setdefault((problem.path, problem.message), problem)
    return sorted(unique.values(), key=_sort_key)


def validate_flow(
    source: str, *, filename: str | None = None, strict: bool = False
) -> list[Problem]:
    """Every problem in the flow ``source`` (an empty list when it is valid); with ``strict``
    the warnings count as problems too.

    ``filename`` is accepted for symmetry with :func:`parse_flow`; problems carry only paths and
    lines, and callers add the file name when they print them.
    """
    result = check_flow(source)
    if not strict:
        return result.problems
    return sorted([*result.problems, *result.warnings], key=_sort_key)


def flow_warnings(source: str) -> list[Problem]:
    """The warnings of the flow ``source``: what Kestra accepts and fails when it runs."""
    return check_flow(source).warnings


def parse_flow(source: str, *, filename: str | None = None) -> Flow:
    """The :class:`Flow` read from ``source``, keeping ``source`` as its original text.

    Raises :class:`perch.errors.FlowValidationError` (or its subclass ``FlowParseError`` when the
    text is not well-formed YAML) carrying every problem found.
    """
    result = check_flow(source)
    if result.flow is not None:
        return result.flow
    count = len(result.problems)
    where = f"{filename}: " if filename else ""
    summary = f"{where}the flow has {count} problem{'s' if count != 1 else ''}"
    if not result.well_formed:
        raise FlowParseError(result.problems, summary)
    raise FlowValidationError(result.problems, summary)
