"""The JSON Schema (Draft 2020-12) of the flow language, for editors.

Pydantic describes every model; this module stitches them into one document where a task is
``oneOf`` the registered task models, each pinned by the ``type`` names it accepts (and likewise
for triggers), so an editor can complete and check the properties of each task type.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from perch.flows.flow import Flow
from perch.flows.registry import Registry, default_task_registry, default_trigger_registry
from perch.flows.tasks.base import Task
from perch.flows.triggers import Trigger

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_REF = "#/$defs/{model}"


def _names_by_model(registry: Registry[Any]) -> dict[type[BaseModel], list[str]]:
    names: dict[type[BaseModel], list[str]] = {}
    for name in registry.names():
        model = registry.resolve(name)
        if model is not None:
            names.setdefault(model, []).append(name)
    return names


def _rewrite_refs(node: Any, replacements: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in replacements:
            return {**node, "$ref": replacements[ref]}
        return {key: _rewrite_refs(value, replacements) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, replacements) for item in node]
    return node


def flow_json_schema(
    tasks: Registry[Task] | None = None, triggers: Registry[Trigger] | None = None
) -> dict[str, Any]:
    """A JSON Schema describing a flow document, with one branch per task and trigger type."""
    task_names = _names_by_model(tasks or default_task_registry())
    trigger_names = _names_by_model(triggers or default_trigger_registry())
    models: list[type[BaseModel]] = [Flow, Task, Trigger, *task_names, *trigger_names]
    keys, top = models_json_schema([(model, "validation") for model in models], ref_template=_REF)
    defs: dict[str, Any] = top.get("$defs", {})
    ref_of = {model: keys[(model, "validation")]["$ref"] for model in models}
    name_of = {model: ref.rsplit("/", 1)[-1] for model, ref in ref_of.items()}

    for group, names in (("AnyTask", task_names), ("AnyTrigger", trigger_names)):
        for model, accepted in names.items():
            schema = defs[name_of[model]]
            schema["properties"]["type"] = {"enum": sorted(accepted)}
            schema.setdefault("required", [])
            if "type" not in schema["required"]:
                schema["required"].append("type")
        defs[group] = {
            "oneOf": [{"$ref": ref_of[model]} for model in names],
            "description": f"One {group[3:].lower()}, chosen by its type",
        }
    # The base classes only stand for "any registered type" in the models' annotations.
    replacements = {ref_of[Task]: "#/$defs/AnyTask", ref_of[Trigger]: "#/$defs/AnyTrigger"}
    defs.pop(name_of[Task])
    defs.pop(name_of[Trigger])
    defs = _rewrite_refs(defs, replacements)
    flow_def = defs.pop(name_of[Flow])
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "Perch flow (Kestra flow syntax)",
        **{k: v for k, v in flow_def.items() if k != "title"},
        "$defs": defs,
    }
