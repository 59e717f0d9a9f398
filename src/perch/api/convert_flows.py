"""Stored flow revisions and validation verdicts to the JSON shapes of
:mod:`perch.api.shapes_flows`."""

from __future__ import annotations

from typing import Any

from perch.api.convert import iso
from perch.engine.ports import StoredFlow
from perch.engine.service.flowsearch import FlowCheck
from perch.errors import Problem
from perch.flows import Flow
from perch.flows.yamlsource import load_yaml

_HEAD = ("id", "namespace", "revision", "tenantId", "description", "labels")


def _label_list(labels: object) -> list[dict[str, str]] | None:
    # Kestra serialises labels as a list of {key, value} (a flow may write a map or a list).
    if isinstance(labels, dict):
        return [{"key": str(k), "value": str(v)} for k, v in labels.items()]
    if isinstance(labels, list):
        return [
            {"key": str(item["key"]), "value": str(item["value"])}
            for item in labels
            if isinstance(item, dict) and "key" in item and "value" in item
        ]
    return None


def _document(stored: StoredFlow, flow: Flow | None) -> dict[str, Any]:
    if flow is not None:
        dumped: dict[str, Any] = flow.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped
    # A revision that today's validator rejects is still shown, as written.
    data = load_yaml(stored.source).data
    if not isinstance(data, dict):
        return {}
    kept = {str(k): v for k, v in data.items()}
    if not isinstance(kept.get("description"), str):
        kept.pop("description", None)
    for key in ("tasks", "inputs", "triggers"):
        if not isinstance(kept.get(key), list):
            kept.pop(key, None)
        else:
            kept[key] = [item for item in kept[key] if isinstance(item, dict)]
    if not isinstance(kept.get("variables"), dict):
        kept.pop("variables", None)
    return kept


def flow_json(stored: StoredFlow, flow: Flow | None, *, source: bool = False) -> dict[str, Any]:
    """A flow revision as Kestra's Flow JSON; with ``source``, as its FlowWithSource (the YAML
    byte for byte in ``source``). ``flow`` is the parsed revision, ``None`` if it no longer
    validates (the JSON then comes from the raw YAML)."""
    document = _document(stored, flow)
    labels = _label_list(document.pop("labels", None))
    document.pop("revision", None)
    head: dict[str, Any] = {
        "id": stored.id,
        "namespace": stored.namespace,
        "revision": stored.revision,
        "tenantId": stored.tenant,
    }
    if isinstance(document.get("description"), str):
        head["description"] = document["description"]
    if labels:
        head["labels"] = labels
    body = head | {k: v for k, v in document.items() if k not in _HEAD}
    body.setdefault("tasks", [])
    body["disabled"] = bool(document.get("disabled", False))
    body["deleted"] = stored.deleted
    if stored.updated is not None:
        body["updated"] = iso(stored.updated)
    if source:
        body["source"] = stored.source
    return body


def check_json(check: FlowCheck) -> dict[str, Any]:
    """A validation verdict as Kestra's ValidateConstraintViolation, plus ``problems``."""
    return {
        "index": check.index,
        "flow": check.flow,
        "namespace": check.namespace,
        "constraints": "\n".join(str(p) for p in check.problems) or None,
        "outdated": check.outdated,
        "deprecationPaths": [],
        "warnings": [str(p) for p in check.warnings],
        "infos": [],
        "problems": [_problem_json(p) for p in check.problems],
        "warningProblems": [_problem_json(p) for p in check.warnings],
    }


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "message": problem.message,
        "line": problem.line,
        "column": problem.column,
    }
