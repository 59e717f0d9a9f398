"""Script tasks: shell and Python, as ``Commands`` (a list of commands) or ``Script`` (inline).

The task-runner settings (``taskRunner``, ``docker``, ``namespaceFiles`` …) are read as mappings
and interpreted when the task runs.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from perch.flows.properties import Choice, DynBool, Text
from perch.flows.tasks.base import Task


class _ScriptTask(Task):
    """Properties every script task shares."""

    beforeCommands: list[Text] | Text | None = None
    env: dict[str, Text] | None = None
    interpreter: list[Text] | Text | None = None
    taskRunner: dict[str, Any] | None = None
    containerImage: Text | None = None
    docker: dict[str, Any] | None = None
    runner: Annotated[str, Choice("PROCESS", "DOCKER", dynamic=False)] | None = None
    inputFiles: dict[str, Text] | Text | None = None
    outputFiles: list[Text] | None = None
    namespaceFiles: dict[str, Any] | None = None
    outputDirectory: DynBool | None = None
    warningOnStdErr: DynBool | None = None
    failFast: DynBool | None = None
    targetOS: Annotated[str, Choice("LINUX", "WINDOWS", "AUTO")] | None = None


class ShellCommands(_ScriptTask):
    """Run shell ``commands`` one after the other."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.shell.Commands",)

    commands: list[Text] | Text


class ShellScript(_ScriptTask):
    """Run an inline shell ``script``."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.shell.Script",)

    script: Text


class _PythonTask(_ScriptTask):
    dependencies: list[Text] | Text | None = None
    pythonVersion: Text | None = None
    dependencyCacheEnabled: DynBool | None = None
    packageManager: Annotated[str, Choice("UV", "PIP")] | None = None
    uvAutoInstallEnabled: DynBool | None = None
    uvInstallerVersion: Text | None = None
    uvInstallerSha256: Text | None = None


class PythonCommands(_PythonTask):
    """Run ``commands`` in a Python environment (``python main.py`` …)."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.python.Commands",)

    commands: list[Text] | Text


class PythonScript(_PythonTask):
    """Run an inline Python ``script``."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.scripts.python.Script",)

    script: Text


MODELS: tuple[type[Task], ...] = (ShellCommands, ShellScript, PythonCommands, PythonScript)
