"""Perch's flow language: Kestra's flow YAML read into validated models.

``parse_flow`` returns a :class:`Flow` or raises :class:`perch.errors.FlowValidationError` with
every problem (path, message, line); ``validate_flow`` only lists the problems;
``flow_json_schema`` describes the language for editors.
"""

from __future__ import annotations

from perch.flows.flow import Concurrency, Flow, FlowOutput, PluginDefault
from perch.flows.registry import (
    ENTRY_POINT_GROUP,
    Registry,
    build_task_registry,
    default_task_registry,
    default_trigger_registry,
)
from perch.flows.schema import flow_json_schema
from perch.flows.tasks import ChildShape, FlowableTask, Task, TaskKind
from perch.flows.triggers import Trigger
from perch.flows.validate import (
    FlowResult,
    check_flow,
    flow_warnings,
    parse_flow,
    validate_flow,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ChildShape",
    "Concurrency",
    "Flow",
    "FlowOutput",
    "FlowResult",
    "FlowableTask",
    "PluginDefault",
    "Registry",
    "Task",
    "TaskKind",
    "Trigger",
    "build_task_registry",
    "check_flow",
    "default_task_registry",
    "default_trigger_registry",
    "flow_json_schema",
    "flow_warnings",
    "parse_flow",
    "validate_flow",
]
