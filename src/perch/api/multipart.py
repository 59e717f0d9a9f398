"""Reading input values from a request body, as Kestra's clients send them.

Inputs come as ``multipart/form-data`` (``curl -F name=value``), one part per input; a part given
several times (a MULTISELECT's choices) becomes a list. ``application/x-www-form-urlencoded``
reads the same way, and, as a Perch extra, an ``application/json`` object is taken as it is. An
empty body is no inputs at all (a resume without ``onResume`` values).

A part with a filename is a file: it comes back as an :class:`UploadedFile`. Kestra's older form
names such parts ``files`` and puts the input id in the filename; that form is read too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from perch.api.bodies import PARSED_JSON, checked_json
from perch.engine.service.files import Upload
from perch.errors import InvalidRequest

MAX_FILE_BYTES = 10 * 1024 * 1024
"""The largest file a form may carry (413 beyond)."""
MAX_FIELD_BYTES = 1024 * 1024
"""The largest text value of one form field."""
MAX_PARTS = 1000
"""The most fields one form may carry."""
MAX_FILES = 20
"""The most files one form may carry."""

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": (
            "One field per input id (`curl -F approved=true -F reason=ok`); a field given "
            "several times is a list (MULTISELECT). A JSON object is accepted too."
        ),
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
        },
    }
}
"""``openapi_extra`` for routes that read :func:`form_inputs` (FastAPI cannot see that body)."""


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a form: its name as the client gave it, its type and its bytes."""

    filename: str
    content_type: str | None
    content: bytes


async def form_inputs(request: Request) -> dict[str, Any]:
    """The submitted inputs of ``request``: field name → text, list of texts (a repeated
    field), :class:`UploadedFile`, or, from a JSON body, any JSON value.

    Raises :class:`perch.errors.InvalidRequest` (422) for a body that is neither a form nor a
    JSON object, and a 413 error for a file over :data:`MAX_FILE_BYTES`.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _FORM_TYPES:
        return await _form(request)
    body = await request.body()
    if not body.strip():
        return {}
    if media_type == "application/json" or media_type.endswith("+json"):
        return await _json_object(request, body)
    raise InvalidRequest(
        f"inputs are sent as multipart/form-data (or a JSON object), not `{media_type or 'no'}`"
        " content"
    )


async def _form(request: Request) -> dict[str, Any]:
    try:
        form = await request.form(
            max_files=MAX_FILES, max_fields=MAX_PARTS, max_part_size=MAX_FIELD_BYTES
        )
    except HTTPException as error:
        # Starlette's own limits and parse errors are 400s; Kestra answers a bad body with 422.
        raise InvalidRequest(f"the form cannot be read: {error.detail}") from None
    values: dict[str, Any] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                key, upload = await _file(name, value)
                _add(values, key, upload)
            else:
                _add(values, name, value)
    finally:
        await form.close()
    return values


async def _file(name: str, upload: UploadFile) -> tuple[str, UploadedFile]:
    content = await upload.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise HTTPException(
            413, f"Request Entity Too Large: the file of `{name}` is over {MAX_FILE_BYTES} bytes"
        )
    filename = upload.filename or name
    # Kestra's legacy form: a part named `files` whose filename is the input id.
    key = filename if name == "files" else name
    return key, UploadedFile(filename, upload.content_type, content)


def _add(values: dict[str, Any], key: str, item: Any) -> None:
    if key not in values:
        values[key] = item
    elif isinstance(values[key], list):
        values[key].append(item)
    else:
        values[key] = [values[key], item]


async def _json_object(request: Request, body: bytes) -> dict[str, Any]:
    before = request.scope.get("state", {}).get(PARSED_JSON)
    try:
        if before is not None and before[0] == body:  # parsed by StrictJsonBodies already
            parsed = before[1]
        else:
            parsed = await checked_json(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"Invalid json: {error}") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("the JSON body must be an object of input values")
    return parsed


def split_uploads(inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Text values, and the files sent for FILE inputs (one file per input)."""
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for name, value in inputs.items():
        if isinstance(value, UploadedFile):
            uploads[name] = Upload(value.filename, value.content)
        elif isinstance(value, list) and any(isinstance(v, UploadedFile) for v in value):
            raise InvalidRequest(f"`{name}` was sent several times with files: send one file")
        else:
            values[name] = value
    return values, uploads
