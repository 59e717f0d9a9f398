"""The JSON shapes of the flow endpoints, as pydantic models (see :mod:`perch.api.shapes`).

A Flow is Kestra's: the parsed flow document (``tasks[].id/type``, ``inputs``, ``triggers``…)
plus ``revision``, ``tenantId``, ``deleted``; with ``source`` (Kestra's FlowWithSource) when asked.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from perch.api.shapes import LabelShape, Shape


class FlowShape(Shape):
    id: str
    namespace: str
    revision: int = Field(description="Every change of the source is a new revision, from 1")
    tenantId: str
    description: str | None = None
    labels: list[LabelShape] | None = None
    inputs: list[dict[str, Any]] | None = None
    variables: dict[str, Any] | None = None
    tasks: list[dict[str, Any]] = Field(description="Each task with at least `id` and `type`")
    triggers: list[dict[str, Any]] | None = None
    disabled: bool = False
    deleted: bool = False
    updated: str | None = Field(default=None, description="When this revision was saved")
    source: str | None = Field(
        default=None, description="The YAML source byte for byte (with `?source=true`)"
    )


class FlowPageShape(Shape):
    results: list[FlowShape]
    total: int


class ProblemShape(Shape):
    path: str = Field(description="Where the problem is, e.g. `tasks[2].uri` (empty: the flow)")
    message: str
    line: int | None = Field(default=None, description="1-based line in the request body")
    column: int | None = None


class ValidateShape(Shape):
    index: int = Field(description="Position of the document in the request (from 0)")
    flow: str | None = Field(default=None, description="The flow id, when readable")
    namespace: str | None = None
    constraints: str | None = Field(
        default=None, description="Every problem as text, one per line; null when valid"
    )
    outdated: bool = Field(
        default=False, description="The document's `revision` is not the next revision"
    )
    deprecationPaths: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list,
        description="What Kestra accepts but fails when it runs (an undeclared input, a broken "
        "flowable condition), as text with its path and line; the flow is valid",
    )
    infos: list[str] = Field(default_factory=list)
    problems: list[ProblemShape] = Field(
        default_factory=list, description="Perch: every problem with its path, line and column"
    )
    warningProblems: list[ProblemShape] = Field(
        default_factory=list, description="Perch: every warning with its path, line and column"
    )


EXAMPLE_FLOW = """\
id: hello
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: Hello {{ flow.id }}
"""

YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A flow in YAML (JSON, a subset of YAML, is read too)",
        "content": {"application/x-yaml": {"schema": {"type": "string"}, "example": EXAMPLE_FLOW}},
    }
}
"""``openapi_extra`` of the routes that read a YAML body themselves."""
