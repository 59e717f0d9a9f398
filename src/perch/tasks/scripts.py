"""Kestra's script tasks (``scripts.shell.Commands``/``Script``, ``scripts.python.Commands``/
``Script``), run as local processes on the server.

An attempt runs in a fresh private directory with a clean environment
(:mod:`perch.tasks.workdir`). ``beforeCommands`` then ``commands`` are joined into one text run
by the ``interpreter`` (``/bin/sh -c`` by default); with ``failFast`` (the default) a shell runs
it under ``set -e``, so the first failing command stops the rest. A ``script`` is written to a
file in the working directory and run by ``/bin/sh`` (shell) or by the server's own Python
(python; ``python`` on PATH is that interpreter too, so ``from kestra import Kestra`` works when
the ``kestra`` package is installed beside Perch).

No container runtime is used: ``taskRunner``, ``containerImage``, ``docker`` and
``runner: DOCKER`` are accepted and named in one WARN line. ``namespaceFiles`` is not supported
yet: it is named in a WARN line and the script runs without them. Python ``dependencies`` are
not installed (WARN line); install packages where Perch runs, or with ``beforeCommands``.

Outputs are Kestra's: ``exitCode``, ``vars`` (from ``::{"outputs": {...}}::`` lines),
``outputFiles`` (name to ``kestra:///`` URI), ``stdOutLineCount`` and ``stdErrLineCount``. A
non-zero exit fails the task ("Command failed with exit code N"); stderr output alone does not
(``warningOnStdErr`` is accepted and, as in Kestra since 0.23, has no effect). The task's
``timeout`` stops the process group; a kill of the execution does too, and the attempt ends
KILLED.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from perch.durations import parse_duration
from perch.engine.states import StateType
from perch.errors import PerchError
from perch.flows.tasks.scripts import PythonCommands, PythonScript, ShellCommands, ShellScript
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.process import Ending, run_group
from perch.tasks.scriptout import Collector
from perch.tasks.shareddir import restore, save
from perch.tasks.workdir import (
    ScriptError,
    Workspace,
    environment,
    store_output_files,
    workspace,
    write_input_files,
)
from perch.templating.values import truthy

_ScriptTask = ShellCommands | ShellScript | PythonCommands | PythonScript

DEFAULT_INTERPRETER = ("/bin/sh", "-c")
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "zsh", "busybox"})
PROCESS_RUNNERS = frozenset(
    {"io.kestra.plugin.core.runner.Process", "io.kestra.core.models.tasks.runners.types.Process"}
)
MAX_COMMANDS_BYTES = 100 * 1024
"""The joined ``beforeCommands`` and ``commands`` go to the interpreter as one argument, and
Linux refuses an argument over 128 KiB; longer code belongs in ``script`` or ``inputFiles``."""
MAX_SCRIPT_BYTES = 1024 * 1024
SCRIPT_FILE = {"shell": ".perch-script.sh", "python": ".perch-script.py"}


def _texts(context: RunContext, value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [context.render_text(item) for item in items]


def _interpreter(context: RunContext, task: _ScriptTask) -> list[str]:
    if task.interpreter is None:
        return list(DEFAULT_INTERPRETER)
    if isinstance(task.interpreter, list):
        words = _texts(context, task.interpreter)
    else:
        words = shlex.split(context.render_text(task.interpreter))
    if not words or not words[0].strip():
        raise ScriptError("interpreter must name a program, such as ['/bin/sh', '-c']")
    return words


def _is_shell(interpreter: list[str]) -> bool:
    return PurePosixPath(interpreter[0]).name in SHELLS


def _flag(context: RunContext, value: Any, default: bool) -> bool:
    return default if value is None else truthy(context.render(value))


def _timeout(context: RunContext, task: _ScriptTask) -> float | None:
    if task.timeout is None:
        return None
    try:
        return parse_duration(context.render_text(task.timeout)).total_seconds()
    except PerchError:
        return None  # the engine warns about it when the attempt starts


def _local_process_warning(context: RunContext, task: _ScriptTask) -> str | None:
    ignored: list[str] = []
    if task.taskRunner is not None:
        kind = str(task.taskRunner.get("type") or "")
        if kind not in PROCESS_RUNNERS:
            ignored.append(f"taskRunner {kind or '(no type)'}")
    if task.containerImage is not None:
        ignored.append(f"containerImage {context.render_text(task.containerImage)}")
    if task.docker is not None:
        ignored.append("docker")
    if task.runner == "DOCKER":
        ignored.append("runner: DOCKER")
    if not ignored:
        return None
    return (
        "No container runtime here: the script runs as a local process on the server "
        f"(ignoring {', '.join(ignored)})"
    )


def _warnings(context: RunContext, task: _ScriptTask) -> list[str]:
    found = []
    local = _local_process_warning(context, task)
    if local:
        found.append(local)
    files = task.namespaceFiles
    if files is not None and _flag(context, files.get("enabled", True), True):
        found.append(
            "namespaceFiles are not supported yet: the working directory holds only inputFiles"
        )
    if isinstance(task, (PythonCommands, PythonScript)) and task.dependencies:
        wanted = ", ".join(_texts(context, task.dependencies))
        found.append(
            f"dependencies are not installed ({wanted}): the script uses the server's Python "
            "and its packages"
        )
    return found


def _main_commands(context: RunContext, task: _ScriptTask, space: Workspace) -> list[str]:
    """``commands``, or the command that runs ``script`` from its file."""
    if isinstance(task, (ShellCommands, PythonCommands)):
        commands = _texts(context, task.commands)
        if not any(command.strip() for command in commands):
            raise ScriptError("commands: nothing to run")
        return commands
    assert isinstance(task, (ShellScript, PythonScript))
    script = context.render_text(task.script)
    if len(script.encode("utf-8")) > MAX_SCRIPT_BYTES:
        raise ScriptError(f"script: over {MAX_SCRIPT_BYTES} bytes")
    python = isinstance(task, PythonScript)
    path = space.work / SCRIPT_FILE["python" if python else "shell"]
    path.write_text(script, encoding="utf-8")
    interpreter = _interpreter(context, task)
    runner = "python" if python else (interpreter[0] if _is_shell(interpreter) else "/bin/sh")
    return [f"{shlex.quote(runner)} {shlex.quote(path.name)}"]


def _argv(context: RunContext, task: _ScriptTask, space: Workspace) -> list[str]:
    interpreter = _interpreter(context, task)
    lines = [*_texts(context, task.beforeCommands), *_main_commands(context, task, space)]
    if _is_shell(interpreter) and _flag(context, task.failFast, True):
        lines.insert(0, "set -e")
    text = "\n".join(lines)
    if len(text.encode("utf-8")) > MAX_COMMANDS_BYTES:
        raise ScriptError(
            f"commands: over {MAX_COMMANDS_BYTES} bytes; put long code in script or inputFiles"
        )
    return [*interpreter, text]


def _failure(code: int) -> str:
    if code < 0:
        return f"Command was ended by signal {-code}"
    return f"Command failed with exit code {code}"


def _attempt(task: _ScriptTask, context: RunContext, space: Workspace) -> TaskOutcome:
    collector = Collector()
    scoped = replace(
        context,
        variables={
            **context.variables,
            "workingDir": str(space.work),
            "outputDir": str(space.output),
        },
    )
    for warning in _warnings(scoped, task):
        collector.note("WARN", warning)
    write_input_files(scoped, task.inputFiles, space)
    argv = _argv(scoped, task, space)
    env = environment(scoped, task.env, space)
    try:
        finished = run_group(
            argv,
            cwd=str(space.work),
            env=env,
            sink=lambda stream, line, cut: collector.feed(stream, line, cut=cut),
            cancelled=context.cancelled,
            timeout=_timeout(scoped, task),
        )
    except OSError as exc:
        raise ScriptError(f"Could not start {argv[0]}: {exc.strerror or exc}") from None
    if finished.output_left_open:
        collector.note("WARN", "A process left the task's group and kept its output open")
    outputs: dict[str, Any] = {
        "exitCode": finished.exit_code,
        "vars": dict(collector.vars),
        "stdOutLineCount": collector.stdout_lines,
        "stdErrLineCount": collector.stderr_lines,
    }
    logs = tuple(collector.logs)
    if finished.ending is Ending.CANCELLED:
        return TaskOutcome(StateType.KILLED, outputs, logs, "The task was killed")
    if finished.ending is Ending.TIMED_OUT:
        limit = context.render_text(task.timeout)
        return TaskOutcome(StateType.FAILED, outputs, logs, f"Command timed out after {limit}")
    if finished.exit_code != 0:
        return TaskOutcome(StateType.FAILED, outputs, logs, _failure(finished.exit_code))
    skip = {space.work / name for name in SCRIPT_FILE.values()}
    files = store_output_files(
        scoped,
        _texts(scoped, task.outputFiles),
        space,
        skip,
        lambda message: collector.note("WARN", message),
    )
    if files is not None:
        outputs["outputFiles"] = files
    return TaskOutcome(StateType.SUCCESS, outputs, tuple(collector.logs))


def _run(task: _ScriptTask, context: RunContext) -> TaskOutcome:
    with workspace() as space:
        restore(context, space)  # the WorkingDirectory's files, when the task runs in one
        outcome = _attempt(task, context, space)
        if outcome.state is StateType.SUCCESS:
            save(context, space, {space.work / name for name in SCRIPT_FILE.values()})
        return outcome


def run_shell_commands(task: ShellCommands, context: RunContext) -> TaskOutcome:
    """``io.kestra.plugin.scripts.shell.Commands``."""
    return _run(task, context)


def run_shell_script(task: ShellScript, context: RunContext) -> TaskOutcome:
    """``io.kestra.plugin.scripts.shell.Script``."""
    return _run(task, context)


def run_python_commands(task: PythonCommands, context: RunContext) -> TaskOutcome:
    """``io.kestra.plugin.scripts.python.Commands``."""
    return _run(task, context)


def run_python_script(task: PythonScript, context: RunContext) -> TaskOutcome:
    """``io.kestra.plugin.scripts.python.Script``."""
    return _run(task, context)


__all__ = [
    "run_python_commands",
    "run_python_script",
    "run_shell_commands",
    "run_shell_script",
]
