"""What the ``/validate`` endpoints answer (creation inputs, resume inputs): each declared input,
the value it would get, whether it is enabled, and what is wrong with it, as Kestra's
``ApiValidateExecutionInputsResponse``. SECRET values and defaults are never shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from perch.api.shapes import Shape
from perch.inputs import InputBase, InputCheck, serialize_input_value
from perch.inputs.parsing import MASK


class InputMessageShape(Shape):
    message: str


class InputCheckShape(Shape):
    input: dict[str, Any] = Field(description="The input's declaration, as in the flow")
    value: Any = Field(default=None, description="The value it would get (SECRETs masked)")
    enabled: bool = Field(description="False when its `dependsOn` leaves it out")
    isDefault: bool = Field(description="Whether the value is the declared default")
    errors: list[InputMessageShape] = Field(default_factory=list)


class ValidateInputsShape(Shape):
    id: str = Field(description="The flow id")
    namespace: str
    inputs: list[InputCheckShape]
    checks: list[dict[str, Any]] = Field(default_factory=list)


def declaration_json(declaration: InputBase) -> dict[str, Any]:
    """An input declaration as the flow writes it (camelCase keys, unset ones left out)."""
    shown: dict[str, Any] = declaration.model_dump(mode="json", by_alias=True, exclude_none=True)
    if declaration.is_secret:
        for key in ("defaults", "prefill"):
            if key in shown:
                shown[key] = MASK
    return shown


def validation_json(
    flow_id: str,
    namespace: str,
    declarations: Sequence[InputBase],
    checks: Sequence[InputCheck],
) -> dict[str, Any]:
    """The body of a ``/validate`` answer (see :class:`ValidateInputsShape`)."""
    by_id = {d.id: d for d in declarations}
    inputs = [
        {
            "input": declaration_json(by_id[check.id]),
            "value": serialize_input_value(check.value, mask_secrets=True),
            "enabled": check.enabled,
            "isDefault": check.is_default,
            "errors": [{"message": message} for message in check.errors],
        }
        for check in checks
        if check.id in by_id
    ]
    return {"id": flow_id, "namespace": namespace, "inputs": inputs, "checks": []}
