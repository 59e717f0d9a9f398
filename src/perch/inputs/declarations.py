"""One pydantic model per input ``type``, and :data:`InputDeclaration`, their union on ``type``.

Keys are Kestra's camelCase names (``allowCustomValue``, ``itemType``); the snake_case Python
names are accepted too. Every rule that concerns one declaration alone is checked here, so that
pydantic reports it with its location: a regex that does not compile, ``min`` above ``max``, a
SELECT without values, a literal ``defaults`` that is not a valid value of the input. Rules that
span declarations (unknown ``dependsOn`` ids, duplicates) are in :mod:`perch.inputs.graph`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from perch.inputs.base import InputBase, check_pattern
from perch.inputs.parsing import InputType, parse_value
from perch.inputs.values import serialize_input_value
from perch.patterns import compile_pattern

__all__ = [
    "ArrayInput",
    "BooleanInput",
    "DateInput",
    "DateTimeInput",
    "DurationInput",
    "EmailInput",
    "EnumInput",
    "FileInput",
    "FloatInput",
    "InputDeclaration",
    "IntInput",
    "JsonInput",
    "MultiselectInput",
    "SecretInput",
    "SelectInput",
    "StringInput",
    "TimeInput",
    "UriInput",
    "YamlInput",
]

_EMAIL = re.compile(r"^$|^[a-zA-Z0-9_!#$%&'*+/=?`{|}~^.-]+@[a-zA-Z0-9.-]+$")


def _quoted(value: Any) -> str:
    return f"`{serialize_input_value(value)}`"


def _bound(input_type: InputType) -> Any:
    """A ``mode="before"`` reader for ``min``/``max``/``after``/``before`` of ``input_type``."""

    def read(value: Any) -> Any:
        return None if value is None else parse_value(input_type, value)

    return read


def _range_problem(value: Any, low: Any, high: Any, words: tuple[str, str]) -> str | None:
    if low is not None and value < low:
        return f"it must be {words[0]} {_quoted(low)}"
    if high is not None and value > high:
        return f"it must be {words[1]} {_quoted(high)}"
    return None


def _ordered(low: Any, high: Any, names: tuple[str, str]) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"`{names[0]}` ({_quoted(low)}) must not be greater than `{names[1]}`")


def _choice_list(values: Any) -> Any:
    # Kestra's values are strings; a number or a boolean written unquoted in YAML is meant as one.
    if not isinstance(values, list):
        return values
    return [_choice_text(v) if isinstance(v, (bool, int, float)) else v for v in values]


def _choice_text(value: Any) -> str:
    text = serialize_input_value(value)
    if isinstance(text, bool):
        return "true" if text else "false"
    return str(text)


class _PatternInput(InputBase):
    validator: Annotated[str | None, AfterValidator(check_pattern)] = None

    def constraint_problem(self, value: Any) -> str | None:
        if self.validator is not None and compile_pattern(self.validator).fullmatch(value) is None:
            return f"it must match the pattern `{self.validator}`"
        return None


class StringInput(_PatternInput):
    """``STRING``: text, optionally matching ``validator`` (a regex that must match whole)."""

    type: Literal["STRING"]


class SecretInput(_PatternInput):
    """``SECRET``: text that is never shown; the value is a :class:`perch.inputs.Secret`."""

    type: Literal["SECRET"]


class IntInput(InputBase):
    """``INT``: a whole number between ``min`` and ``max`` (both inclusive)."""

    type: Literal["INT"]
    min: Annotated[int | None, BeforeValidator(_bound(InputType.INT))] = None
    max: Annotated[int | None, BeforeValidator(_bound(InputType.INT))] = None

    @model_validator(mode="after")
    def _min_not_above_max(self) -> IntInput:
        _ordered(self.min, self.max, ("min", "max"))
        return self

    def constraint_problem(self, value: Any) -> str | None:
        return _range_problem(value, self.min, self.max, ("more than", "less than"))


class FloatInput(InputBase):
    """``FLOAT``: a number between ``min`` and ``max`` (both inclusive)."""

    type: Literal["FLOAT"]
    min: Annotated[float | None, BeforeValidator(_bound(InputType.FLOAT))] = None
    max: Annotated[float | None, BeforeValidator(_bound(InputType.FLOAT))] = None

    @model_validator(mode="after")
    def _min_not_above_max(self) -> FloatInput:
        _ordered(self.min, self.max, ("min", "max"))
        return self

    def constraint_problem(self, value: Any) -> str | None:
        return _range_problem(value, self.min, self.max, ("more than", "less than"))


class BooleanInput(InputBase):
    """``BOOL``, or the deprecated ``BOOLEAN``: true or false."""

    type: Literal["BOOL", "BOOLEAN"]


class DateInput(InputBase):
    """``DATE``: a calendar date (``2024-07-01``) between ``after`` and ``before``."""

    type: Literal["DATE"]
    after: Annotated[date | None, BeforeValidator(_bound(InputType.DATE))] = None
    before: Annotated[date | None, BeforeValidator(_bound(InputType.DATE))] = None

    @model_validator(mode="after")
    def _after_not_past_before(self) -> DateInput:
        _ordered(self.after, self.before, ("after", "before"))
        return self

    def constraint_problem(self, value: Any) -> str | None:
        return _range_problem(value, self.after, self.before, ("after", "before"))


class DateTimeInput(InputBase):
    """``DATETIME``: an instant with a zone (``2042-04-02T04:20:42Z``), read in UTC."""

    type: Literal["DATETIME"]
    after: Annotated[datetime | None, BeforeValidator(_bound(InputType.DATETIME))] = None
    before: Annotated[datetime | None, BeforeValidator(_bound(InputType.DATETIME))] = None

    @model_validator(mode="after")
    def _after_not_past_before(self) -> DateTimeInput:
        _ordered(self.after, self.before, ("after", "before"))
        return self

    def constraint_problem(self, value: Any) -> str | None:
        return _range_problem(value, self.after, self.before, ("after", "before"))


class TimeInput(InputBase):
    """``TIME``: a time of day (``10:15:30``) between ``after`` and ``before``."""

    type: Literal["TIME"]
    after: Annotated[time | None, BeforeValidator(_bound(InputType.TIME))] = None
    before: Annotated[time | None, BeforeValidator(_bound(InputType.TIME))] = None

    @model_validator(mode="after")
    def _after_not_past_before(self) -> TimeInput:
        _ordered(self.after, self.before, ("after", "before"))
        return self

    def constraint_problem(self, value: Any) -> str | None:
        return _range_problem(value, self.after, self.before, ("after", "before"))


class DurationInput(InputBase):
    """``DURATION``: an ISO-8601 duration (``PT5M``) between ``min`` and ``max``."""

    type: Literal["DURATION"]
    min: Annotated[timedelta | None, BeforeValidator(_bound(InputType.DURATION))] = None
    max: Annotated[timedelta | None, BeforeValidator(_bound(InputType.DURATION))] = None

    @model_validator(mode="after")
    def _min_not_above_max(self) -> DurationInput:
        _ordered(self.min, self.max, ("min", "max"))
        return self

    def constraint_problem(self, value: Any) -> str | None:
        return _range_problem(value, self.min, self.max, ("more than", "less than"))


class UriInput(InputBase):
    """``URI``: an absolute URI with a scheme and an authority (``https://example.com/x``)."""

    type: Literal["URI"]


class EmailInput(InputBase):
    """``EMAIL``: an e-mail address (Kestra's pattern, which also lets an empty string through)."""

    type: Literal["EMAIL"]

    def constraint_problem(self, value: Any) -> str | None:
        return None if _EMAIL.match(value) else "it must be a valid email address"


class JsonInput(InputBase):
    """``JSON``: any JSON value, given as JSON text or already parsed."""

    type: Literal["JSON"]


class YamlInput(InputBase):
    """``YAML``: any YAML value, given as YAML text or already parsed."""

    type: Literal["YAML"]


class FileInput(InputBase):
    """``FILE``: for now the URI the file was given as (``kestra://…``); storage comes later."""

    type: Literal["FILE"]
    allowed_file_extensions: list[str] | None = Field(default=None, alias="allowedFileExtensions")
    extension: str | None = None

    def constraint_problem(self, value: Any) -> str | None:
        if not self.allowed_file_extensions:
            return None
        wanted = [e if e.startswith(".") else f".{e}" for e in self.allowed_file_extensions]
        path = str(value).split("?", 1)[0].lower()
        if any(path.endswith(e.lower()) for e in wanted):
            return None
        return f"the file extension must be one of `{', '.join(wanted)}`"


class _ChoiceInput(InputBase):
    values: Annotated[list[str] | None, BeforeValidator(_choice_list)] = None
    expression: str | None = None
    allow_custom_value: bool = Field(default=False, alias="allowCustomValue")
    auto_select_first: bool = Field(default=False, alias="autoSelectFirst")

    def choices(self) -> list[str] | None:
        """The allowed values, or ``None`` while they still come from an ``expression``."""
        return self.values

    def checks_declared_values(self) -> bool:
        return self.choices() is not None

    def _choice_problem(self, item: Any) -> str | None:
        choices = self.choices()
        if self.allow_custom_value or choices is None or _choice_text(item) in choices:
            return None
        return f"it must match the values `[{', '.join(choices)}]`"

    def _values_or_expression(self) -> None:
        if self.choices() is not None and self.expression is not None:
            raise ValueError("use either `values` or `expression`, not both")
        if self.choices() is None and self.expression is None:
            kind = self.input_type.value
            raise ValueError(f"a {kind} input needs `values` (its choices) or an `expression`")
        if self.choices() == []:
            raise ValueError("`values` must not be empty")


class SelectInput(_ChoiceInput):
    """``SELECT``: one of ``values`` (or of the list an ``expression`` gives)."""

    type: Literal["SELECT"]
    is_radio: bool = Field(default=False, alias="isRadio")

    @model_validator(mode="after")
    def _has_choices(self) -> SelectInput:
        self._values_or_expression()
        return self

    def constraint_problem(self, value: Any) -> str | None:
        return self._choice_problem(value)


def _item_type(forbidden: frozenset[InputType]) -> Any:
    def read(value: Any) -> Any:
        if value is not None and value in forbidden:
            raise ValueError(f"`itemType` cannot be {value}")
        return value

    return read


class MultiselectInput(_ChoiceInput):
    """``MULTISELECT``: a list of ``values`` (deprecated spelling: ``options``)."""

    type: Literal["MULTISELECT"]
    options: Annotated[list[str] | None, BeforeValidator(_choice_list)] = None
    item_type: Annotated[
        InputType, AfterValidator(_item_type(frozenset({InputType.ARRAY, InputType.MULTISELECT})))
    ] = Field(default=InputType.STRING, alias="itemType")

    @model_validator(mode="after")
    def _has_choices(self) -> MultiselectInput:
        if self.values is not None and self.options is not None:
            raise ValueError("use either `values` or the deprecated `options`, not both")
        self._values_or_expression()
        return self

    def choices(self) -> list[str] | None:
        return self.values if self.values is not None else self.options

    def parse(self, raw: Any) -> Any:
        return parse_value(InputType.MULTISELECT, raw, item_type=self.item_type)

    def constraint_problem(self, value: Any) -> str | None:
        for item in value:
            problem = self._choice_problem(item)
            if problem is not None:
                return problem
        return None


class EnumInput(InputBase):
    """``ENUM`` (deprecated, use SELECT): one of ``values``."""

    type: Literal["ENUM"]
    values: Annotated[list[str], BeforeValidator(_choice_list)]

    @field_validator("values")
    @classmethod
    def _not_empty(cls, values: list[str]) -> list[str]:
        if not values:
            raise ValueError("`values` must not be empty")
        return values

    def constraint_problem(self, value: Any) -> str | None:
        if value in self.values:
            return None
        return f"it must match the values `[{', '.join(self.values)}]`"


class ArrayInput(InputBase):
    """``ARRAY``: a list whose items are all of ``itemType``."""

    type: Literal["ARRAY"]
    item_type: Annotated[
        InputType,
        AfterValidator(
            _item_type(frozenset({InputType.ARRAY, InputType.MULTISELECT, InputType.SECRET}))
        ),
    ] = Field(alias="itemType")

    def parse(self, raw: Any) -> Any:
        return parse_value(InputType.ARRAY, raw, item_type=self.item_type)


InputDeclaration = Annotated[
    StringInput
    | SecretInput
    | IntInput
    | FloatInput
    | BooleanInput
    | DateInput
    | DateTimeInput
    | TimeInput
    | DurationInput
    | UriInput
    | EmailInput
    | JsonInput
    | YamlInput
    | FileInput
    | SelectInput
    | MultiselectInput
    | EnumInput
    | ArrayInput,
    Field(discriminator="type"),
]
"""Any input declaration, chosen by its ``type``."""
