"""Find which model describes a place in a flow document, to suggest property names.

Pydantic reports an unknown key with its location only; to say "did you mean 'message'?" for a
key nested in ``retry`` or in an input declaration, Perch follows the location through the
models' annotations (choosing a union member by its ``type`` tag, as validation did).
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel

from perch.flows.paths import Path


def property_names(model: type[BaseModel]) -> list[str]:
    """The YAML names of a model's properties (aliases where they differ from Python names)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def _members(annotation: Any) -> list[Any]:
    """Flatten ``Annotated``, ``Optional``, unions and ``list[...]`` into candidate types."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    if origin is list:
        return _members(typing.get_args(annotation)[0])
    return [annotation]


def _tag_of(model: type[BaseModel]) -> tuple[str, ...]:
    info = model.model_fields.get("type")
    if info is None or typing.get_origin(info.annotation) is not Literal:
        return ()
    return tuple(str(v) for v in typing.get_args(info.annotation))


def _pick(annotation: Any, data: Any) -> type[BaseModel] | None:
    models = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(models) == 1:
        return models[0]
    tag = data.get("type") if isinstance(data, dict) else None
    tagged = [m for m in models if tag is not None and str(tag) in _tag_of(m)]
    return tagged[0] if len(tagged) == 1 else None


def model_at(root: type[BaseModel], path: Path, data: Any) -> type[BaseModel] | None:
    """The model that reads the mapping at ``path`` inside ``data`` (validated by ``root``)."""
    model: type[BaseModel] | None = root
    node = data
    pending: Any = None  # a field's annotation, resolved once its list index (if any) is known
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if pending is not None:
            model, pending = _pick(pending, node), None
        if model is None:
            return None
        field = next(
            (info for name, info in model.model_fields.items() if part in (info.alias, name)),
            None,
        )
        if field is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        pending = field.annotation
    return _pick(pending, node) if pending is not None else model
