"""What every input declaration has, whatever its type.

An input declaration is the same in a flow's ``inputs`` and in a Pause's ``onResume``. The
common keys are Kestra's: ``id`` (the deprecated ``name`` is read as ``id``), ``type``,
``displayName``, ``description``, ``required`` (true unless said otherwise), ``defaults``,
``prefill`` and ``dependsOn``. Each type adds its own keys in :mod:`perch.inputs.declarations`.

A declaration reads a raw value in two steps, both overridable per type: :meth:`parse` turns it
into the typed value and :meth:`constraint_problem` checks the type's own rules (a pattern, a
range, a list of allowed values). Problems are reported as :class:`ValueProblem`, whose text is
the reason in Kestra's words ("it must be more than `3`").
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from perch.inputs.parsing import InputType, ValueProblem, parse_value
from perch.modelbase import StrictModel
from perch.patterns import PatternError, compile_pattern

__all__ = ["ID_PATTERN", "DependsOn", "InputBase", "check_pattern", "is_template"]

ID_PATTERN = r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$"


def is_template(value: Any) -> bool:
    """Whether a declared value is a Pebble expression to evaluate rather than a literal."""
    return isinstance(value, str) and "{{" in value


def check_pattern(pattern: str | None) -> str | None:
    """``pattern`` if RE2 can run it (see :mod:`perch.patterns`), else ``ValueError``."""
    if pattern is not None:
        try:
            compile_pattern(pattern)
        except PatternError as error:
            raise ValueError(error.message) from None
    return pattern


class DependsOn(StrictModel):
    """``dependsOn``: the input is asked for only once these inputs have values and the
    ``condition`` (a Pebble expression) evaluates to true."""

    inputs: list[str] = Field(default_factory=list)
    condition: str | None = None

    @field_validator("inputs")
    @classmethod
    def _ids_look_like_ids(cls, inputs: list[str]) -> list[str]:
        for input_id in inputs:
            if not re.fullmatch(ID_PATTERN, input_id):
                raise ValueError(f"`{input_id}` is not a valid input id")
        return inputs


class InputBase(StrictModel):
    """The keys shared by all input types."""

    id: str = Field(pattern=ID_PATTERN)
    display_name: str | None = Field(default=None, alias="displayName")
    description: str | None = None
    required: bool = True
    defaults: Any = None
    prefill: Any = None
    depends_on: DependsOn | None = Field(default=None, alias="dependsOn")

    @model_validator(mode="before")
    @classmethod
    def _name_is_the_old_id(cls, data: Any) -> Any:
        # Kestra's deprecated `name` fills `id` when `id` is absent, and is otherwise ignored.
        if isinstance(data, dict) and "name" in data:
            data = dict(data)
            name = data.pop("name")
            data.setdefault("id", name)
        number = data.get("id") if isinstance(data, dict) else None
        if isinstance(number, int | float) and not isinstance(number, bool):
            # Jackson reads `id: 1` into the String id as "1"; a boolean is no id at all.
            data = {**data, "id": str(number)}
        return data

    @property
    def input_type(self) -> InputType:
        """The declared ``type`` as an :class:`InputType`."""
        return InputType(getattr(self, "type"))  # noqa: B009 - each subclass declares `type`

    @property
    def is_secret(self) -> bool:
        """Whether values of this input must never be shown."""
        return self.input_type is InputType.SECRET

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw``; raises :class:`ValueProblem` when it is not one."""
        return parse_value(self.input_type, raw)

    def constraint_problem(self, value: Any) -> str | None:
        """Why a typed value breaks this input's rules, or ``None`` when it does not."""
        del value
        return None

    def typed_value(self, raw: Any) -> Any:
        """:meth:`parse` then :meth:`constraint_problem`, as one step."""
        value = self.parse(raw)
        problem = self.constraint_problem(value)
        if problem is not None:
            raise ValueProblem(problem)
        return value

    def checks_declared_values(self) -> bool:
        """Whether literal ``defaults``/``prefill`` can be checked when the flow is read."""
        return True

    @model_validator(mode="after")
    def _declared_values_are_valid(self) -> InputBase:
        if self.defaults is not None and self.prefill is not None:
            raise ValueError("`defaults` and `prefill` cannot be used together")
        if not self.checks_declared_values():
            return self
        for key in ("defaults", "prefill"):
            value = getattr(self, key)
            if value is None or is_template(value):
                continue
            try:
                self.typed_value(value)
            except ValueProblem as problem:
                raise ValueError(
                    f"`{key}` is not a valid {self.input_type.value}: {problem}"
                ) from None
        return self
