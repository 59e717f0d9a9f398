"""Checks across the whole flow that no single model can make.

Duplicate task ids anywhere in the tree, duplicate trigger, input and output ids, Pebble syntax
in every string that is rendered, and references to inputs (``inputs.x``) and to resume inputs
(``outputs.<pause>.onResume.x``) that nothing declares.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError

from perch.errors import Problem, TemplateError, TemplateSyntaxError
from perch.flows.build import FlowBuilder, accepted_keys
from perch.flows.conditiontypes import SUPPORTED, unsupported_conditions
from perch.flows.flow import Flow
from perch.flows.guards import guarded_chains, is_guarded
from perch.flows.paths import Path, format_path
from perch.flows.properties import scalar_text
from perch.flows.tasks.base import TaskKind
from perch.flows.tasks.flowable import Subflow
from perch.flows.tasks.pause import Pause
from perch.flows.yamlsource import YamlDocument
from perch.inputs import InputBase, InputDeclaration, declaration_problems
from perch.templating import check_syntax, is_template, references

# Keys whose strings Kestra never renders, at any depth.
_NOT_RENDERED = frozenset({"id", "type", "description", "displayName"})
# Top-level keys of the flow that hold no expressions.
_FLOW_PLAIN_KEYS = frozenset({"id", "namespace", "revision", "description", "disabled", "inputs"})


def duplicate_ids(builder: FlowBuilder) -> None:
    """Report every task id used twice anywhere in the tree (the second use is the problem)."""
    first: dict[str, Path] = {}
    for task_id, path in builder.task_ids:
        if task_id in first:
            builder.report(
                (*path, "id"),
                f"duplicate task id '{task_id}' (already used at {format_path(first[task_id])})",
            )
        else:
            first[task_id] = path


def duplicate_list_ids(builder: FlowBuilder, data: dict[str, Any], key: str, what: str) -> None:
    """Report repeated ``id`` values in the flow's ``key`` list (triggers, inputs, outputs)."""
    items = data.get(key)
    if not isinstance(items, list):
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        item_id = scalar_text(item.get("id")) if isinstance(item, dict) else None
        if item_id is None:
            continue
        if item_id in seen:
            builder.report(
                (key, index, "id"),
                f"duplicate {what} id '{item_id}' (already {key}[{seen[item_id]}])",
            )
        else:
            seen[item_id] = index


_DECLARATION = TypeAdapter(InputDeclaration)


def input_declarations(builder: FlowBuilder, items: Any, path: Path) -> None:
    """Rules across a list of input declarations (unique ids, ``dependsOn``), via perch.inputs.

    Declarations that are invalid on their own were already reported; they are left out here.
    """
    if not isinstance(items, list):
        return
    valid: list[tuple[int, InputBase]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, _DECLARATION.validate_python(item)))
        except ValidationError:
            continue
    for problem in declaration_problems([declaration for _, declaration in valid]):
        index = valid[problem.index][0]
        builder.report((*path, index, "id"), problem.message)


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOT_RENDERED:
                yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def rendered_strings(data: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    """Every string of the flow that Kestra renders as a template, with its path."""
    for key, value in data.items():
        if key not in _FLOW_PLAIN_KEYS:
            yield from _strings(value, (key,))
    inputs = data.get("inputs")
    if isinstance(inputs, list):
        # Input defaults and SELECT expressions are rendered; their descriptions are not.
        for index, item in enumerate(inputs):
            if isinstance(item, dict):
                for key in ("defaults", "expression", "prefill"):
                    if key in item:
                        yield from _strings(item[key], ("inputs", index, key))


def _declared(ids: list[str]) -> set[tuple[str, ...]]:
    return {tuple(i.split(".")) for i in ids}


def _is_declared(parts: tuple[str, ...], declared: set[tuple[str, ...]]) -> bool:
    # `request.name` declares `inputs.request` (a map) and `inputs.request.name`; a JSON input
    # `payload` makes every `inputs.payload.x` valid.
    return any(d[: len(parts)] == parts or parts[: len(d)] == d for d in declared)


def _input_ids(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    ids = []
    for item in items:
        if isinstance(item, dict):
            value = scalar_text(item.get("id", item.get("name")))
            if value is not None:
                ids.append(value)
    return ids


def _resume_inputs(builder: FlowBuilder, data: dict[str, Any]) -> dict[str, list[str]]:
    """Declared ``onResume`` input ids of every Pause-like task, by task id."""
    found: dict[str, list[str]] = {}

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            type_name = value.get("type")
            model = builder.tasks.resolve(type_name) if isinstance(type_name, str) else None
            if (
                model is not None
                and issubclass(model, Pause)
                and isinstance(value.get("id"), str)
                and isinstance(value.get("onResume"), list)
            ):
                found[value["id"]] = _input_ids(value["onResume"])
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    for key in ("tasks", "errors", "finally", "afterExecution"):
        visit(data.get(key))
    return found


def _resume_scope(data: dict[str, Any], path: Path) -> set[tuple[str, ...]]:
    """Inside an ``onResume`` list, ``inputs.x`` names the resume inputs declared beside it."""
    if "onResume" not in path:
        return set()
    cut = len(path) - 1 - path[::-1].index("onResume")
    node: Any = data
    for part in path[: cut + 1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return set()
    return _declared(_input_ids(node))


def _line_of(doc: YamlDocument, path: Path, error: TemplateError) -> tuple[int, int] | None:
    pos = doc.values.get(path)
    if pos is None:
        return None
    offset = (error.line or 1) - 1
    if pos.style in ("|", ">"):
        return pos.line + 1 + offset, 0
    if offset == 0 and error.column:
        quote = 1 if pos.style in ("'", '"') else 0
        return pos.line, pos.column + quote + error.column - 1
    return pos.line + offset, 0


def templates(builder: FlowBuilder, data: dict[str, Any]) -> None:
    """Check Pebble syntax and ``inputs``/``onResume`` references in every rendered string."""
    inputs = _input_ids(data.get("inputs"))
    declared = _declared(inputs)
    resume = {task: _declared(ids) for task, ids in _resume_inputs(builder, data).items()}
    for path, text in rendered_strings(data):
        if not is_template(text):
            continue
        scope = declared | _resume_scope(data, path)
        try:
            check_syntax(text)
        except TemplateError as exc:
            # A forbidden attribute (``x.__class__``) is refused at compile time too.
            kind = "syntax error" if isinstance(exc, TemplateSyntaxError) else "error"
            message = f"template {kind}: {exc.message}"
            # Kestra renders a flowable's condition only when it runs, so it accepts the flow
            # and fails that task run: a warning here (an error with --strict).
            lenient = _is_flowable_condition(builder, data, path)
            found_in = builder.warnings if lenient else builder.problems
            where = _line_of(builder.doc, path, exc)
            if where is None:
                (builder.warn if lenient else builder.report)(path, message)
            else:
                line, column = where
                found_in.append(Problem(format_path(path), message, line, column or None))
            continue
        try:
            guarded = guarded_chains(text)
            found = references(text)
        except (RecursionError, TemplateError):
            # The syntax check allows chains (`a.b.c…`) longer than the reference walk can
            # follow; such a template is certainly not what its author meant.
            builder.report(path, "template error: the expression is nested too deeply")
            continue
        for ref in found:
            parts = tuple(str(p) for p in ref.path)
            if is_guarded(parts, guarded):
                continue
            if len(parts) >= 2 and parts[0] == "inputs" and not _is_declared(parts[1:], scope):
                # Kestra accepts the flow and fails the rendering when it runs: a warning.
                name = ".".join(parts[1:])
                message = f"'inputs.{name}' is not an input of this flow"
                close = difflib.get_close_matches(name, inputs, n=1)
                builder.warn(path, message + (f" (did you mean '{close[0]}'?)" if close else ""))
            elif (
                len(parts) >= 4
                and parts[0] == "outputs"
                and parts[2] == "onResume"
                and parts[1] in resume
                and not _is_declared(parts[3:], resume[parts[1]])
            ):
                builder.report(
                    path,
                    f"'{'.'.join(parts[:4])}' is not an onResume input of task '{parts[1]}'",
                )


def _is_flowable_condition(builder: FlowBuilder, data: dict[str, Any], path: Path) -> bool:
    """Whether ``path`` is the ``condition`` of a flowable task (an If's, a Fail's is not)."""
    if not path or path[-1] != "condition":
        return False
    node: Any = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    type_name = node.get("type") if isinstance(node, dict) else None
    model = builder.tasks.resolve(type_name) if isinstance(type_name, str) else None
    return model is not None and model.kind is TaskKind.FLOWABLE


def recursive_subflows(builder: FlowBuilder, flow: Flow) -> None:
    """Report a Subflow task that starts the very flow it belongs to (Kestra refuses it too).

    Only literal names are compared: an expression may well name another flow at run time.
    """
    for path, task in flow.walk_tasks():
        if (
            isinstance(task, Subflow)
            and task.namespace == flow.namespace
            and task.flowId == flow.id
        ):
            builder.report(
                (*path, "flowId"),
                f"a flow cannot start itself as a subflow ({flow.namespace}.{flow.id})",
            )


def plugin_defaults(builder: FlowBuilder, data: dict[str, Any]) -> None:
    """Report plugin-default values Kestra refuses: a null value, or a property that the named
    task or trigger type does not have. A ``type`` that is only a prefix cannot be checked
    this way (Kestra does not either); its values are applied where they fit."""
    for key in ("pluginDefaults", "taskDefaults"):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
                continue
            type_name = entry.get("type")
            model = None
            if isinstance(type_name, str):
                model = builder.tasks.resolve(type_name) or builder.triggers.resolve(type_name)
                if model is not None and type_name not in model.type_names:
                    model = None  # a short alias is not how Kestra names a plugin
            known = accepted_keys(model) if model is not None else None
            for name, value in entry["values"].items():
                where = (key, index, "values", str(name))
                if value is None:
                    builder.report(where, f"no value given for '{name}'")
                elif known is not None and name not in known:
                    builder.report(where, f"'{name}' is not a property of {type_name}")


def trigger_conditions(builder: FlowBuilder, data: dict[str, Any]) -> None:
    """Report condition types no trigger here can evaluate (they would never be true)."""
    triggers = data.get("triggers")
    if not isinstance(triggers, list):
        return
    known = ", ".join(sorted(SUPPORTED))
    for index, trigger in enumerate(triggers):
        if not isinstance(trigger, dict):
            continue
        for key in ("conditions", "scheduleConditions"):
            items = trigger.get(key)
            if not isinstance(items, list):
                continue
            for position, raw in enumerate(items):
                if not isinstance(raw, dict):
                    continue
                for bad in unsupported_conditions([raw]):
                    builder.report(
                        ("triggers", index, key, position, "type"),
                        f"condition type '{bad}' is not supported (known: {known})",
                    )
