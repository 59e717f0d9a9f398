"""Form fields generated from input declarations: a Pause's ``onResume`` (the Resume form) and
a flow's ``inputs`` (the Execute form). Each declaration becomes one :class:`Field` saying which
widget shows it, its label, hint, limits, choices and the value to show first; what people send
back goes to the same service functions the REST API calls, which validate it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from starlette.datastructures import FormData, UploadFile

from perch.engine.service.files import Upload
from perch.inputs import InputBase, InputType

MAX_UPLOAD = 64 * 1024 * 1024

_WIDGETS: dict[InputType, str] = {
    InputType.BOOLEAN: "checkbox",
    InputType.BOOL: "checkbox",
    InputType.INT: "number",
    InputType.FLOAT: "number",
    InputType.DATE: "date",
    InputType.DATETIME: "datetime-local",
    InputType.TIME: "time",
    InputType.SECRET: "password",
    InputType.EMAIL: "email",
    InputType.URI: "url",
    InputType.JSON: "json",
    InputType.YAML: "textarea",
    InputType.ARRAY: "textarea",
    InputType.SELECT: "select",
    InputType.ENUM: "select",
    InputType.MULTISELECT: "multiselect",
    InputType.FILE: "file",
}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a generated form."""

    id: str
    type: str
    widget: str
    label: str
    required: bool
    hint: str | None = None
    value: str = ""
    checked: bool = False
    chosen: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    custom: bool = False
    radio: bool = False
    minimum: str | None = None
    maximum: str | None = None
    step: str | None = None
    accept: str | None = None
    error: str | None = None


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _literal(value: Any) -> Any:
    # A default written as an expression is computed by the engine, not shown as text.
    return None if isinstance(value, str) and "{{" in value else value


def _bound(declaration: InputBase, *names: str) -> Any:
    # A bound of 0 is a bound: look for None, not for falsy values.
    for name in names:
        value = getattr(declaration, name, None)
        if value is not None:
            return value
    return None


def field_of(
    declaration: InputBase, sent: Mapping[str, Any] | None = None, error: str | None = None
) -> Field:
    """The field of one declaration; ``sent`` holds what was posted (shown again after an
    error), else the declared default."""
    kind = declaration.input_type
    widget = _WIDGETS.get(kind, "text")
    declared = declaration.defaults
    default = _literal(declaration.prefill if declared is None else declared)
    given = (sent or {}).get(declaration.id)
    value = given if given is not None else default
    hints: list[str | None] = []
    if declaration.display_name:
        hints.append(declaration.description)  # the label is the display name
    pattern = getattr(declaration, "validator", None)
    if pattern:
        hints.append(f"Must match {pattern}")
    minimum = _bound(declaration, "min", "after")
    maximum = _bound(declaration, "max", "before")
    if kind in (InputType.DURATION,):
        hints.append("An ISO-8601 duration, e.g. PT30M")
    if kind is InputType.JSON:
        hints.append("JSON")
    listed = getattr(declaration, "values", None) or getattr(declaration, "options", None)
    values = tuple(str(v) for v in listed or ())
    chosen: tuple[str, ...] = ()
    if kind is InputType.MULTISELECT:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = [value]
        chosen = tuple(str(v) for v in value or ())
    extensions = getattr(declaration, "allowed_file_extensions", None)
    return Field(
        id=declaration.id,
        type=kind.value,
        widget=widget,
        label=declaration.display_name or declaration.description or declaration.id,
        required=declaration.required,
        hint=" · ".join(h for h in hints if h) or None,
        value="" if kind is InputType.SECRET else _shown(value),
        checked=_shown(value) == "true",
        chosen=chosen,
        choices=values,
        custom=bool(getattr(declaration, "allow_custom_value", False)),
        radio=bool(getattr(declaration, "is_radio", False)),
        minimum=_shown(minimum) if minimum is not None else None,
        maximum=_shown(maximum) if maximum is not None else None,
        step="any" if kind is InputType.FLOAT else None,
        accept=",".join(extensions) if extensions else None,
        error=error,
    )


def fields_of(
    declarations: Sequence[InputBase],
    sent: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[Field]:
    return [field_of(d, sent, (errors or {}).get(d.id)) for d in declarations]


async def values_of(
    declarations: Sequence[InputBase], form: FormData
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """What a posted form says for each declared input, as the REST API's multipart body
    would, and the files sent. An unticked checkbox is ``false``; an empty field is no value
    (the input's default, or a "required" error)."""
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for declaration in declarations:
        kind, key = declaration.input_type, declaration.id
        if kind in (InputType.BOOLEAN, InputType.BOOL):
            values[key] = "true" if form.get(key) in ("true", "on") else "false"
            continue
        if kind is InputType.MULTISELECT:
            picked = [str(v) for v in form.getlist(key) if isinstance(v, str) and v]
            other = form.get(f"{key}__custom")
            if isinstance(other, str) and other.strip():
                picked.append(other.strip())
            if picked:
                values[key] = json.dumps(picked)
            continue
        sent = form.get(key)
        if isinstance(sent, UploadFile):
            if sent.filename:
                content = await sent.read(MAX_UPLOAD + 1)
                uploads[key] = Upload(sent.filename, content[:MAX_UPLOAD])
            continue
        custom = form.get(f"{key}__custom")
        if isinstance(custom, str) and custom.strip():
            sent = custom.strip()
        if isinstance(sent, str) and sent != "":
            values[key] = _zoned(sent) if kind is InputType.DATETIME else sent
    return values, uploads


_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _zoned(text: str) -> str:
    """A browser's ``datetime-local`` value (no zone; the form says it is UTC) as an instant."""
    if not _LOCAL_DATETIME.match(text):
        return text
    return f"{text}:00Z" if text.count(":") == 1 else f"{text}Z"
