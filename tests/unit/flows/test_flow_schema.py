"""The JSON Schema of the flow language, checked with a tiny validator on real flows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from perch.flows import default_task_registry, flow_json_schema
from perch.flows.yamlsource import load_yaml

SEEDS = Path(__file__).parent / "seeds"


class TinyValidator:
    """Enough of Draft 2020-12 for these schemas: $ref, oneOf/anyOf, objects, arrays, enums."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def errors(self, value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/$defs/")
            return self.errors(value, self.root["$defs"][name], path)
        if "oneOf" in schema:
            matching = [s for s in schema["oneOf"] if not self.errors(value, s, path)]
            return [] if len(matching) == 1 else [f"{path}: {len(matching)} oneOf branches match"]
        if "anyOf" in schema:
            if any(not self.errors(value, s, path) for s in schema["anyOf"]):
                return []
            return [f"{path}: no anyOf branch matches"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{path}: {value!r} not in enum"]
        if "const" in schema and value != schema["const"]:
            return [f"{path}: {value!r} != const"]
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind else []
        if kinds and not any(self._is(value, k) for k in kinds):
            return [f"{path}: {value!r} is not {kind}"]
        if (
            isinstance(value, str)
            and "pattern" in schema
            and not re.search(schema["pattern"], value)
        ):
            return [f"{path}: {value!r} does not match {schema['pattern']}"]
        found: list[str] = []
        if isinstance(value, dict):
            props = schema.get("properties", {})
            found += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
            extra = schema.get("additionalProperties", True)
            for key, item in value.items():
                if key in props:
                    found += self.errors(item, props[key], f"{path}.{key}")
                elif extra is False:
                    found.append(f"{path}.{key}: not allowed")
                elif isinstance(extra, dict):
                    found += self.errors(item, extra, f"{path}.{key}")
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                found += self.errors(item, schema["items"], f"{path}[{index}]")
        return found

    @staticmethod
    def _is(value: Any, kind: str) -> bool:
        checks = {
            "object": isinstance(value, dict),
            "array": isinstance(value, list),
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "null": value is None,
        }
        return checks[kind]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return flow_json_schema()


def test_schema_is_draft_2020_12_json(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema
    assert {"id", "namespace", "tasks"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_tasks_are_one_of_every_registered_type(schema: dict[str, Any]) -> None:
    any_task = schema["$defs"]["AnyTask"]["oneOf"]
    assert len(any_task) == len(default_task_registry().models())
    pause = schema["$defs"]["Pause"]
    assert "io.kestra.plugin.core.flow.Pause" in pause["properties"]["type"]["enum"]
    assert "Pause" in pause["properties"]["type"]["enum"]
    assert "io.kestra.core.tasks.flows.Pause" in pause["properties"]["type"]["enum"]
    assert "Task" not in schema["$defs"]
    assert schema["properties"]["tasks"]["items"] == {"$ref": "#/$defs/AnyTask"}
    text = json.dumps(schema)
    assert '"#/$defs/Task"' not in text
    assert '"#/$defs/Trigger"' not in text


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.yaml")), ids=lambda p: p.stem)
def test_seed_flows_match_the_schema(schema: dict[str, Any], path: Path) -> None:
    data = load_yaml(path.read_text()).data
    assert TinyValidator(schema).errors(data, schema) == []


def test_schema_rejects_what_the_validator_rejects(schema: dict[str, Any]) -> None:
    checker = TinyValidator(schema)
    base: dict[str, Any] = {"id": "a", "namespace": "b"}
    unknown_key = {**base, "tasks": [{"id": "t", "type": "Log", "message": "m", "mesage": "x"}]}
    unknown_type = {**base, "tasks": [{"id": "t", "type": "Lgo", "message": "m"}]}
    bad_behavior = {**base, "tasks": [{"id": "p", "type": "Pause", "behavior": "STOP"}]}
    expression = {**base, "tasks": [{"id": "p", "type": "Pause", "behavior": "{{ inputs.b }}"}]}
    assert checker.errors(unknown_key, schema)
    assert checker.errors(unknown_type, schema)
    assert checker.errors(bad_behavior, schema)
    assert checker.errors(expression, schema) == []
