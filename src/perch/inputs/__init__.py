"""Typed inputs: declarations (flow ``inputs``, Pause ``onResume``) and the validator.

* :data:`InputDeclaration`: the pydantic union, on ``type``, of every input type's model.
* :func:`resolve_inputs`: typed, nested values, or one :class:`perch.errors.InputProblem` per
  invalid input raised together in :class:`perch.errors.InputValidationError`.
* :func:`check_inputs`: the same without raising, one :class:`InputCheck` per input.
* :func:`serialize_input_value`: the JSON form of a typed value, for storage and APIs.
* :func:`declaration_problems`: rules spanning a list of declarations (ids, ``dependsOn``).
"""

from __future__ import annotations

from perch.inputs.base import DependsOn, InputBase, is_template
from perch.inputs.declarations import (
    ArrayInput,
    BooleanInput,
    DateInput,
    DateTimeInput,
    DurationInput,
    EmailInput,
    EnumInput,
    FileInput,
    FloatInput,
    InputDeclaration,
    IntInput,
    JsonInput,
    MultiselectInput,
    SecretInput,
    SelectInput,
    StringInput,
    TimeInput,
    UriInput,
    YamlInput,
)
from perch.inputs.graph import DeclarationProblem, declaration_problems
from perch.inputs.parsing import InputType, ValueProblem, parse_value
from perch.inputs.resolver import Evaluator, InputCheck, check_inputs, resolve_inputs
from perch.inputs.values import Secret, nest_values, serialize_input_value

__all__ = [
    "ArrayInput",
    "BooleanInput",
    "DateInput",
    "DateTimeInput",
    "DeclarationProblem",
    "DependsOn",
    "DurationInput",
    "EmailInput",
    "EnumInput",
    "Evaluator",
    "FileInput",
    "FloatInput",
    "InputBase",
    "InputCheck",
    "InputDeclaration",
    "InputType",
    "IntInput",
    "JsonInput",
    "MultiselectInput",
    "Secret",
    "SecretInput",
    "SelectInput",
    "StringInput",
    "TimeInput",
    "UriInput",
    "ValueProblem",
    "YamlInput",
    "check_inputs",
    "declaration_problems",
    "is_template",
    "nest_values",
    "parse_value",
    "resolve_inputs",
    "serialize_input_value",
]
