"""Property types shared by task and trigger models.

Most Kestra properties are ``Property<T>``: either a literal ``T`` or a Pebble expression that is
rendered at run time. Each type here accepts both, checks the literal form now (durations,
enum values, numbers) and keeps expressions as strings for the engine to render later. Every
type carries its own JSON Schema so that ``perch flow schema`` describes both forms.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import core_schema

from perch.durations import parse_duration
from perch.errors import InvalidDuration
from perch.flows.messages import shown
from perch.templating import is_template

EXPRESSION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"\{[{%]",
    "description": "A Pebble expression such as {{ inputs.value }}",
}

TASK_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
FLOW_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _is_expression(value: object) -> bool:
    return isinstance(value, str) and is_template(value)


def _to_text(value: object) -> object:
    # Jackson turns YAML scalars into strings for String properties; so does Perch.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def scalar_text(value: object) -> str | None:
    """The text a YAML scalar gives a String property (``1`` -> ``"1"``), or ``None``."""
    text = _to_text(value)
    return text if isinstance(text, str) else None


Text = Annotated[str, BeforeValidator(_to_text)]
"""A string property; numbers and booleans written in YAML are read as their text."""


def _check_bool(value: object) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if _is_expression(value):
            return value
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
    raise ValueError(f"must be true or false, or an expression; got {shown(value)}")


DynBool = Annotated[
    bool | str,
    PlainValidator(_check_bool),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, EXPRESSION_SCHEMA]}),
]


def _check_int(value: object) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if _is_expression(value):
            return value
        if re.fullmatch(r"[-+]?[0-9]+", value.strip()):
            try:
                return int(value)
            except ValueError:  # beyond Python's 4300-digit limit for reading numbers
                raise ValueError("the number is too large") from None
    raise ValueError(f"must be a whole number, or an expression; got {shown(value)}")


DynInt = Annotated[
    int | str,
    PlainValidator(_check_int),
    WithJsonSchema({"anyOf": [{"type": "integer"}, EXPRESSION_SCHEMA]}),
]


def _check_duration(value: object) -> str:
    if isinstance(value, str):
        if _is_expression(value):
            return value
        try:
            parse_duration(value)
        except (InvalidDuration, ValueError) as exc:
            # A plain ValueError: Python refuses to read numbers of more than 4300 digits.
            reason = str(exc) if isinstance(exc, InvalidDuration) else ""
            hint = " " + reason[reason.index("(") :] if "(" in reason else ""
            raise ValueError(
                f"{shown(value)} is not an ISO-8601 duration such as PT5M or P1DT2H{hint}"
            ) from exc
        return value
    hint = ""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**9:
        hint = f" (for {value} seconds write PT{value}S)"
    raise ValueError(
        f"must be an ISO-8601 duration such as PT5M, or an expression; got {shown(value)}{hint}"
    )


Duration = Annotated[
    str,
    PlainValidator(_check_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^-?P",
                    "description": "An ISO-8601 duration such as PT5M or P1DT2H",
                },
                EXPRESSION_SCHEMA,
            ]
        }
    ),
]
"""An ISO-8601 duration (``PT5M``) or an expression; kept as written, checked now."""


class Choice:
    """Annotation for an enum property: ``Annotated[str, Choice("A", "B")]``.

    With ``dynamic=True`` (Kestra's ``Property<Enum>``) an expression is accepted as well and
    checked only when it is rendered.
    """

    def __init__(self, *values: str, dynamic: bool = True) -> None:
        self.values = values
        self.dynamic = dynamic

    def check(self, value: object) -> str:
        """Return ``value`` if allowed, else raise ``ValueError`` listing the choices."""
        if isinstance(value, str) and (
            value in self.values or (self.dynamic and _is_expression(value))
        ):
            return value
        allowed = ", ".join(self.values)
        suffix = ", or an expression" if self.dynamic else ""
        message = f"must be one of {allowed}{suffix}; got {shown(value)}"
        same = [v for v in self.values if isinstance(value, str) and v.lower() == value.lower()]
        if same:
            message += f" (did you mean '{same[0]}'? the case matters)"
        raise ValueError(message)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        plain: dict[str, Any] = {"enum": list(self.values)}
        return {"anyOf": [plain, EXPRESSION_SCHEMA]} if self.dynamic else plain


class Matches:
    """Annotation for an identifier: ``Annotated[str, Matches(PATTERN, "id")]``."""

    def __init__(
        self,
        pattern: re.Pattern[str],
        what: str,
        max_length: int | None = None,
        *,
        rule: str | None = None,
    ) -> None:
        self.pattern = pattern
        self.what = what
        self.max_length = max_length
        self.rule = rule or f"it must match {pattern.pattern}"

    def check(self, value: object) -> str:
        """Return ``value`` if it matches, else raise ``ValueError`` saying why."""
        # Jackson reads a YAML number (`id: 1`) into a String field as its text; so does Perch.
        value = _to_text(value)
        if not isinstance(value, str):
            raise ValueError(f"expected the {self.what} as text, got {shown(value)}")
        if not self.pattern.match(value):
            raise ValueError(f"{shown(value)} is not a valid {self.what}: {self.rule}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(
                f"the {self.what} must be at most {self.max_length} characters long "
                f"(it has {len(value)})"
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        result: dict[str, Any] = {"type": "string", "pattern": self.pattern.pattern}
        if self.max_length is not None:
            result["maxLength"] = self.max_length
        return result


_START = "starting with a letter or a digit"
TaskId = Annotated[
    str, Matches(TASK_ID_PATTERN, "id", rule=f"use letters, digits, '_' and '-', {_START}")
]
FlowId = Annotated[
    str,
    Matches(
        FLOW_ID_PATTERN, "flow id", 100, rule=f"use letters, digits, '.', '_' and '-', {_START}"
    ),
]
Namespace = Annotated[
    str,
    Matches(
        NAMESPACE_PATTERN,
        "namespace",
        150,
        rule=f"use lowercase letters, digits, '.', '_' and '-', {_START}",
    ),
]

STATES = (
    "CREATED",
    "SUBMITTED",
    "RUNNING",
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "QUEUED",
    "RETRYING",
    "RETRIED",
    "SKIPPED",
    "BREAKPOINT",
    "RESUBMITTED",
)
State = Annotated[str, Choice(*STATES, dynamic=False)]
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
LogLevel = Annotated[str, Choice(*LOG_LEVELS, dynamic=False)]


def _labels(value: object) -> object:
    # Kestra accepts labels as a map or as a list of {key, value}; Perch keeps a map.
    if isinstance(value, list):
        result: dict[object, object] = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict) or set(item) != {"key", "value"}:
                raise ValueError(f"item {index} must be a mapping with exactly 'key' and 'value'")
            key = _to_text(item["key"])
            if not isinstance(key, str):
                raise ValueError(f"item {index}: expected the key as text, got {shown(key)}")
            result[key] = item["value"]
        return result
    return value


Labels = Annotated[
    dict[str, Text],
    BeforeValidator(_labels),
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
            ]
        }
    ),
]
"""Labels written as a map or as a list of ``{key, value}``, read as a map."""
