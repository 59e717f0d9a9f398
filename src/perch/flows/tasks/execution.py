"""Tasks that act on an execution: ``execution.Labels`` (on its own execution) and
``execution.Resume`` (on a paused one), and the way a task names another execution."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import PlainValidator, WithJsonSchema, model_validator

from perch.flows.messages import shown
from perch.flows.properties import EXPRESSION_SCHEMA, Text, scalar_text
from perch.flows.tasks.base import Task
from perch.templating import is_template


def _label_pairs(value: object) -> dict[str, str]:
    if isinstance(value, list):
        pairs: dict[str, object] = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict) or set(item) != {"key", "value"}:
                raise ValueError(f"item {index} must be a mapping with exactly 'key' and 'value'")
            key = scalar_text(item["key"])
            if key is None:
                got = shown(item["key"])
                raise ValueError(f"item {index}: expected the key as text, got {got}")
            pairs[key] = item["value"]
        value = pairs
    if not isinstance(value, dict):
        raise ValueError(
            "must be a map of labels, a list of {key, value}, or an expression giving a JSON "
            f"map; got {shown(value)}"
        )
    found: dict[str, str] = {}
    for key, item in value.items():
        text = scalar_text(item)
        if text is None:
            raise ValueError(f"the value of label '{key}' must be text, got {shown(item)}")
        found[str(key)] = text
    return found


def _check_labels(value: object) -> dict[str, str] | str:
    if isinstance(value, str):
        if is_template(value):
            return value
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(
                f"a text value must be a JSON map of labels or an expression; got {shown(value)}"
            ) from None
    return _label_pairs(value)


LabelsValue = Annotated[
    dict[str, str] | str,
    PlainValidator(_check_labels),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                },
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"key": {"type": "string"}, "value": {}},
                        "required": ["key", "value"],
                        "additionalProperties": False,
                    },
                },
                EXPRESSION_SCHEMA,
            ]
        }
    ),
]
"""Labels as a map, a list of ``{key, value}`` (read as a map), or an expression that renders
to a JSON map (or to a map)."""


class Labels(Task):
    """Add ``labels`` to the current execution, or change those it has (not ``system.`` ones)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.execution.Labels",
        "io.kestra.core.tasks.executions.Labels",
    )

    labels: LabelsValue


class ExecutionTarget(Task):
    """A task that acts on its own execution unless ``executionId`` names another one; then
    ``namespace`` and ``flowId`` name its flow, both or neither (Kestra's rule)."""

    namespace: Text | None = None
    flowId: Text | None = None
    executionId: Text | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> ExecutionTarget:
        given = (self.namespace is not None, self.flowId is not None)
        if self.executionId is None and any(given):
            raise ValueError("`namespace` and `flowId` may only be set with `executionId`")
        if self.executionId is not None and any(given) and not all(given):
            raise ValueError("`namespace` and `flowId` go together: set both or neither")
        return self


class Resume(ExecutionTarget):
    """Resume a paused execution (the current one by default) with ``inputs`` for its
    ``onResume`` declarations, as the flow."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.execution.Resume",)

    inputs: dict[str, Any] | None = None


MODELS: tuple[type[Task], ...] = (Labels, Resume)
