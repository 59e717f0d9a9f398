"""Build models from a flow's plain data, one task at a time, collecting every problem.

Each task mapping is read through the registry by its ``type``; its nested tasks are built
first (so their problems keep their full path), then the model itself is validated. A task that
cannot be built is replaced by a placeholder so that the rest of the flow is still checked
without knock-on errors (an empty ``tasks`` list, say).
"""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from perch.errors import Problem
from perch.flows.flow import Flow
from perch.flows.introspect import model_at, property_names
from perch.flows.messages import merge_alternatives, pydantic_message, shown
from perch.flows.paths import Path, format_path
from perch.flows.properties import scalar_text
from perch.flows.registry import Registry
from perch.flows.tasks.base import ChildShape, Task
from perch.flows.tasks.pause import Pause
from perch.flows.triggers import Trigger
from perch.flows.yamlsource import YamlDocument
from perch.inputs import declaration_problems

M = TypeVar("M", bound=BaseModel)

_FLOW_TASK_LISTS = ("tasks", "errors", "finally", "afterExecution")


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, merging nested mappings key by key."""
    result = dict(base)
    for key, value in top.items():
        below = result.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            result[key] = _merge(below, value)
        else:
            result[key] = value
    return result


def accepted_keys(model: type[BaseModel]) -> set[str]:
    """Every key a model reads: field names, aliases and alternative spellings."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.update({name, info.alias or name})
        choices = getattr(info.validation_alias, "choices", None)
        if choices is not None:
            keys.update(c for c in choices if isinstance(c, str))
        elif isinstance(info.validation_alias, str):
            keys.add(info.validation_alias)
    return keys


class FlowBuilder:
    """Builds a :class:`Flow` from a :class:`YamlDocument`, gathering problems on the way."""

    def __init__(
        self, doc: YamlDocument, tasks: Registry[Task], triggers: Registry[Trigger]
    ) -> None:
        self.doc = doc
        self.tasks = tasks
        self.triggers = triggers
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        """What Kestra accepts but fails at run time: the flow is valid, these are shown."""
        self.task_ids: list[tuple[str, Path]] = []
        self.defaults: list[dict[str, Any]] = []

    # --- problems ----------------------------------------------------------------------------

    def report(self, path: Path, message: str) -> None:
        """Record a problem at ``path``."""
        self.problems.append(self.doc.problem(path, message))

    def warn(self, path: Path, message: str) -> None:
        """Record a warning at ``path`` (the flow stays valid)."""
        self.warnings.append(self.doc.problem(path, message))

    def report_validation(
        self, exc: ValidationError, base: Path, data: Any, model: type[BaseModel]
    ) -> None:
        """Turn pydantic's errors into problems located in the YAML."""
        by_path: dict[Path, list[str]] = {}
        for error in exc.errors(include_url=False):
            path, message = self._locate(error, data, model)
            messages = by_path.setdefault((*base, *path), [])
            if message not in messages:
                messages.append(message)
        # A place the builder already reported (a `tasks` that is not a list, replaced by an
        # empty one) gets no knock-on message ("must not be empty") from the model.
        reported = {p.path for p in self.problems}
        for path, messages in by_path.items():
            if format_path(path) in reported:
                continue
            # Several messages at one place come from the branches of a union type.
            self.report(path, "; or ".join(merge_alternatives(messages)))

    def _locate(self, error: Any, data: Any, model: type[BaseModel]) -> tuple[Path, str]:
        loc: tuple[Any, ...] = tuple(error["loc"])
        kind: str = error["type"]
        real: list[str | int] = []
        current = data
        for index, part in enumerate(loc):
            last = index == len(loc) - 1
            in_dict = isinstance(current, dict) and isinstance(part, str) and part in current
            in_list = (
                isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
            )
            if in_dict or in_list:
                real.append(part)
                current = current[part]
            elif last and kind in ("missing", "extra_forbidden") and isinstance(part, str):
                real.append(part)
            # Anything else is a union member's tag (``STRING``, ``str``, ``list[str]``…),
            # which is not a place in the document.
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            return self._tag_problem(error, tuple(real))
        name = str(real[-1]) if real else ""
        if kind == "missing":
            return tuple(real), f"missing required property '{name}'"
        if kind == "extra_forbidden":
            message = f"unknown property '{name}'"
            owner = model_at(model, tuple(real[:-1]), data)
            if owner is Flow and self._is_task_property(name):
                # Usually a task's line that lost its indentation.
                message += " of the flow; if it belongs to a task, indent it under that task"
            elif owner is not None:
                close = difflib.get_close_matches(name, property_names(owner), n=1, cutoff=0.6)
                if close:
                    message += f" (did you mean '{close[0]}'?)"
            return tuple(real), message
        ctx: dict[str, Any] = error.get("ctx") or {}
        value = error.get("input")
        message = pydantic_message(kind, ctx, value, str(error["msg"]))
        if (
            kind == "list_type"
            and isinstance(value, dict)
            and real[-1:] in (["inputs"], ["onResume"])
        ):
            message += "; write each input as a list item: '- id: name' then 'type: STRING'"
        return tuple(real), message

    def _is_task_property(self, name: str) -> bool:
        return name not in Flow.model_fields and any(
            name in accepted_keys(m) for m in self.tasks.models()
        )

    @staticmethod
    def _tag_problem(error: Any, where: Path) -> tuple[Path, str]:
        """A discriminated union (input ``type``, retry ``type``) got an unknown or no tag."""
        ctx: dict[str, Any] = error.get("ctx") or {}
        key = str(ctx.get("discriminator", "type")).strip("'")
        if error["type"] == "union_tag_not_found":
            return (*where, key), f"missing required property '{key}'"
        tag = str(ctx.get("tag"))
        expected = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        close = difflib.get_close_matches(tag, expected, n=1, cutoff=0.6)
        if not close:
            close = [t for t in expected if t.lower() == tag.lower()]
        hint = f"did you mean '{close[0]}'?" if close else "expected one of " + ", ".join(expected)
        return (*where, key), f"unknown {key} '{tag}' ({hint})"

    # --- plugin defaults ---------------------------------------------------------------------

    def collect_defaults(self, flow: dict[str, Any]) -> None:
        """Remember ``pluginDefaults``/``taskDefaults`` to apply them to every task."""
        for key in ("pluginDefaults", "taskDefaults"):
            entries = flow.get(key)
            if isinstance(entries, list):
                self.defaults.extend(
                    e
                    for e in entries
                    if isinstance(e, dict)
                    and isinstance(e.get("type"), str)
                    and isinstance(e.get("values", {}), dict)
                )

    def apply_defaults(self, raw: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
        """``raw`` with the matching plugin defaults applied, as Kestra does before validating.

        Like Kestra, a default's ``type`` is a plain prefix of the task's type (so
        ``io.kestra.plugin.notifications.slack.Slack`` covers every Slack task), and a default
        value the model has no property for is dropped rather than reported: one prefix entry
        serves tasks that do not all share its properties.
        """
        result = dict(raw)
        written = str(raw.get("type"))
        names: tuple[str, ...] = getattr(model, "type_names", ())
        accepted = accepted_keys(model)
        for entry in self.defaults:
            prefix: str = entry["type"]
            if not any(n.startswith(prefix) for n in (written, *names)):
                continue
            values: dict[str, Any] = {
                k: v for k, v in (entry.get("values") or {}).items() if k in accepted
            }
            if entry.get("forced") is True:
                result = _merge(result, values)
            else:
                result = _merge(values, result)
        return result

    # --- tasks and triggers ------------------------------------------------------------------

    def build_task(self, raw: Any, path: Path) -> Task:
        """One task (and everything nested in it), or a placeholder if it has problems."""
        placeholder = Task.model_construct(id="<invalid>", type="<invalid>")
        if not isinstance(raw, dict):
            self.report(
                path, f"must be a task: a mapping with at least 'id' and 'type', got {shown(raw)}"
            )
            return placeholder
        task_id = scalar_text(raw.get("id"))
        if task_id is not None:
            self.task_ids.append((task_id, path))
        type_name = raw.get("type")
        if type_name is None:
            self.report(path, "missing required property 'type'")
            return placeholder
        if not isinstance(type_name, str):
            self.report((*path, "type"), "must be a string naming a task type")
            return placeholder
        model = self.tasks.resolve(type_name)
        if model is None:
            self.report((*path, "type"), self.tasks.unknown_message(type_name))
            return placeholder
        data = self.apply_defaults(raw, model)
        for key, shape in model.child_fields.items():
            if key in data and data[key] is not None:
                data[key] = self.build_children(data[key], (*path, key), shape)
        try:
            task = model.model_validate(data)
        except ValidationError as exc:
            self.report_validation(exc, path, data, model)
            return placeholder
        if isinstance(task, Pause) and task.onResume:
            for problem in declaration_problems(task.onResume):
                # perch.inputs words its messages for flow inputs; here the list is onResume.
                message = problem.message.replace("at inputs[", "at onResume[")
                self.report((*path, "onResume", problem.index, "id"), message)
        return task

    def build_children(self, value: Any, path: Path, shape: ChildShape) -> Any:
        """Nested tasks held by one property, built according to its shape."""
        if shape is ChildShape.SINGLE:
            return self.build_task(value, path)
        if shape is ChildShape.ENTRIES:
            return self.build_entries(value, path)
        if shape is ChildShape.MAP:
            if not isinstance(value, dict):
                self.report(
                    path, f"must be a mapping of names to lists of tasks, got {shown(value)}"
                )
                return {}
            return {
                name: self.build_task_list(tasks, (*path, name)) for name, tasks in value.items()
            }
        return self.build_task_list(value, path)

    def build_entries(self, value: Any, path: Path) -> list[Any]:
        """A Dag's list of ``{task: {..}, dependsOn: [..]}``, each ``task`` built as a task."""
        if not isinstance(value, list):
            self.report(
                path, f"must be a list of '- task: …' entries (with dependsOn), got {shown(value)}"
            )
            return []
        entries: list[Any] = []
        for index, item in enumerate(value):
            if isinstance(item, dict) and "task" in item:
                task = self.build_task(item["task"], (*path, index, "task"))
                entries.append({**item, "task": task})
            else:
                entries.append(item)
        return entries

    def build_task_list(self, value: Any, path: Path) -> list[Task]:
        """A list of tasks; a value that is not a list is a problem (and an empty list)."""
        if not isinstance(value, list):
            self.report(
                path, f"must be a list of tasks (items written '- id: …'), got {shown(value)}"
            )
            return []
        return [self.build_task(item, (*path, index)) for index, item in enumerate(value)]

    def build_trigger(self, raw: Any, path: Path) -> Trigger:
        """One trigger, or a placeholder if it has problems."""
        placeholder = Trigger.model_construct(id="<invalid>", type="<invalid>")
        if not isinstance(raw, dict):
            self.report(
                path,
                f"must be a trigger: a mapping with at least 'id' and 'type', got {shown(raw)}",
            )
            return placeholder
        type_name = raw.get("type")
        if not isinstance(type_name, str):
            self.report(path if type_name is None else (*path, "type"), "missing trigger type")
            return placeholder
        model = self.triggers.resolve(type_name)
        if model is None:
            self.report((*path, "type"), self.triggers.unknown_message(type_name))
            return placeholder
        data = self.apply_defaults(raw, model)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.report_validation(exc, path, data, model)
            return placeholder

    # --- the flow ----------------------------------------------------------------------------

    def build_flow(self, raw: Any) -> Flow | None:
        """The flow, or ``None`` if the document is not even a mapping or fails validation."""
        if not isinstance(raw, dict):
            self.report((), "a flow must be a YAML mapping with id, namespace and tasks")
            return None
        self.collect_defaults(raw)
        data = dict(raw)
        if "listeners" in data:
            # Deprecated in Kestra 0.x, removed in 2.0; its tasks ran after the execution.
            data.pop("listeners")
            self.report(
                ("listeners",),
                "'listeners' is not supported: use 'afterExecution' tasks (with 'runIf' for "
                "the conditions) or a Flow trigger",
            )
        for key in _FLOW_TASK_LISTS:
            if data.get(key) is not None:
                data[key] = self.build_task_list(data[key], (key,))
        triggers = data.get("triggers")
        if isinstance(triggers, list):
            data["triggers"] = [
                self.build_trigger(item, ("triggers", index)) for index, item in enumerate(triggers)
            ]
        elif triggers is not None:
            self.report(
                ("triggers",),
                f"must be a list of triggers (items written '- id: …'), got {shown(triggers)}",
            )
            data.pop("triggers")
        try:
            return Flow.model_validate(data)
        except ValidationError as exc:
            self.report_validation(exc, (), data, Flow)
            return None
