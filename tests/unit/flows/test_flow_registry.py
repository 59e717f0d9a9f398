"""The task registry: Kestra class names, older names, short aliases and plugins."""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from perch.flows import build_task_registry, check_flow, default_task_registry, parse_flow
from perch.flows.registry import Registry, RegistryError, build_trigger_registry
from perch.flows.tasks import BUILTIN_TASKS, Task
from perch.flows.tasks.core import Log
from perch.flows.tasks.pause import Pause


def test_every_builtin_answers_to_its_class_name_and_older_names() -> None:
    registry = default_task_registry()
    for model in BUILTIN_TASKS:
        for name in model.type_names:
            assert registry.resolve(name) is model, name


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("Log", "io.kestra.plugin.core.log.Log"),
        ("io.kestra.core.tasks.log.Log", "io.kestra.plugin.core.log.Log"),
        ("Pause", "io.kestra.plugin.core.flow.Pause"),
        ("io.kestra.core.tasks.flows.Pause", "io.kestra.plugin.core.flow.Pause"),
        ("If", "io.kestra.plugin.core.flow.If"),
        ("HumanTask", "io.kestra.plugin.ee.flow.HumanTask"),
        ("io.kestra.core.tasks.flows.Flow", "io.kestra.plugin.core.flow.Subflow"),
        ("io.kestra.plugin.fs.http.Request", "io.kestra.plugin.core.http.Request"),
        ("Set", "io.kestra.plugin.core.kv.Set"),
    ],
)
def test_aliases_resolve_to_the_kestra_class(alias: str, canonical: str) -> None:
    model = default_task_registry().resolve(alias)
    assert model is not None
    assert model.type_names[0] == canonical


def test_ambiguous_short_names_are_not_aliases() -> None:
    registry = default_task_registry()
    # Both shell and python have Commands and Script tasks.
    assert registry.resolve("Commands") is None
    assert registry.resolve("Script") is None
    assert "Commands" not in registry.names()
    assert "Pause" in registry.names()


def test_unknown_types_suggest_the_closest_name() -> None:
    registry = default_task_registry()
    assert registry.unknown_message("Pasue") == "unknown task type 'Pasue' (did you mean 'Pause'?)"
    assert (
        registry.suggest("io.kestra.plugin.core.flow.Pasue") == "io.kestra.plugin.core.flow.Pause"
    )
    assert registry.suggest("log") == "Log"
    assert registry.unknown_message("Zzzzzz") == "unknown task type 'Zzzzzz'"
    triggers = build_trigger_registry()
    assert triggers.suggest("io.kestra.plugin.core.trigger.Schedul") == (
        "io.kestra.plugin.core.trigger.Schedule"
    )


def test_aliases_round_trip_through_dump_and_parse() -> None:
    source = (
        "id: a\nnamespace: b\ntasks:\n"
        "  - {id: l, type: Log, message: hi}\n"
        "  - {id: p, type: io.kestra.core.tasks.flows.Pause, delay: PT1M,"
        " onResume: [{id: ok, type: BOOLEAN, displayName: OK?}]}\n"
        "  - {id: i, type: io.kestra.core.tasks.flows.If, condition: x,"
        " then: [{id: r, type: io.kestra.core.tasks.debugs.Return, format: y}]}\n"
    )
    flow = parse_flow(source)
    dumped = flow.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert [t["type"] for t in dumped["tasks"]] == [
        "Log",
        "io.kestra.core.tasks.flows.Pause",
        "io.kestra.core.tasks.flows.If",
    ]
    assert [t.canonical_type for t in flow.tasks] == [
        "io.kestra.plugin.core.log.Log",
        "io.kestra.plugin.core.flow.Pause",
        "io.kestra.plugin.core.flow.If",
    ]
    out = StringIO()
    YAML().dump(dumped, out)
    again = parse_flow(out.getvalue())
    assert again.model_dump(by_alias=True, exclude_unset=True, mode="json") == dumped


class Echo(Task):
    """A plugin-style task used by the tests."""

    type_names = ("com.example.Echo",)
    text: str


def test_extra_models_register_and_cannot_take_builtin_names() -> None:
    registry = build_task_registry([Echo], group=None)
    assert registry.resolve("com.example.Echo") is Echo
    assert registry.resolve("Echo") is Echo

    class FakeLog(Task):
        type_names = ("io.kestra.plugin.core.log.Log",)

    with pytest.raises(RegistryError):
        build_task_registry([FakeLog], group=None)


def test_a_plugin_short_name_never_shadows_a_builtin_alias() -> None:
    class OtherPause(Task):
        type_names = ("com.example.flow.Pause",)

    registry: Registry[Task] = build_task_registry([OtherPause], group=None)
    assert registry.resolve("Pause") is Pause
    assert registry.resolve("com.example.flow.Pause") is OtherPause


PLUGIN_SOURCE = '''
from typing import ClassVar
from perch.flows.tasks import Task, TaskKind

class Greet(Task):
    """Say hello to someone."""
    type_names: ClassVar[tuple[str, ...]] = ("com.example.perch.Greet", "com.example.Hello")
    kind: ClassVar[TaskKind] = TaskKind.RUNNABLE
    name: str

NOT_A_TASK = 42
'''


def _install_fake_distribution(root: Path, entry_points: str) -> None:
    (root / "perch_fake_plugin.py").write_text(PLUGIN_SOURCE)
    info = root / "perch_fake_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: perch-fake-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_plugins_register_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_distribution(
        tmp_path,
        "[perch.tasks]\n"
        "greet = perch_fake_plugin:Greet\n"
        "broken = perch_fake_plugin:Missing\n"
        "number = perch_fake_plugin:NOT_A_TASK\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "perch_fake_plugin", raising=False)
    registry = build_task_registry()
    greet: Any = registry.resolve("com.example.perch.Greet")
    assert greet is not None
    assert greet.__name__ == "Greet"
    assert registry.resolve("com.example.Hello") is greet
    assert registry.resolve("Greet") is greet
    assert len(registry.load_errors) == 2
    assert any("broken" in error for error in registry.load_errors)
    assert any("not a subclass" in error for error in registry.load_errors)

    source = (
        "id: a\nnamespace: b\ntasks:\n"
        "  - {id: g, type: com.example.Hello, name: Ann}\n"
        "  - {id: h, type: Greet}\n"
    )
    result = check_flow(source, tasks=registry)
    assert [(p.path, p.message) for p in result.problems] == [
        ("tasks[1].name", "missing required property 'name'")
    ]
    # Without the plugin the same type is unknown.
    plain = check_flow(source, tasks=build_task_registry(group=None))
    assert plain.problems[0].message.startswith("unknown task type 'com.example.Hello'")


def test_models_without_type_names_are_rejected() -> None:
    registry: Registry[Task] = Registry("task")
    with pytest.raises(RegistryError):
        registry.register(Task)
    registry.register(Log)
    assert registry.models() == [Log]
