"""Core runnable tasks: log.Log, debug.Echo (deprecated), debug.Return, output.OutputValues,
execution.Fail, flow.Sleep."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator

from perch.flows.properties import LOG_LEVELS, Choice, Duration, Text
from perch.flows.tasks.base import Task


class Log(Task):
    """Write ``message`` (one string, or a list of strings) to the execution's logs."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.log.Log",
        "io.kestra.core.tasks.log.Log",
    )

    message: Text | list[Text]
    level: Annotated[str, Choice(*LOG_LEVELS)] = "INFO"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class Echo(Task):
    """Deprecated: write ``format`` to the logs at ``level``, as ``log.Log`` does."""

    short_alias: ClassVar[bool] = False  # deprecated: the alias `Echo` stays free for plugins
    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.debug.Echo",
        "io.kestra.core.tasks.debugs.Echo",
    )

    format: Annotated[Text, AfterValidator(_not_blank)]
    level: Annotated[str, Choice(*LOG_LEVELS)] = "INFO"


class Return(Task):
    """Render ``format`` and expose it as the output ``value``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.debug.Return",
        "io.kestra.core.tasks.debugs.Return",
    )

    format: Text | None = None


class OutputValues(Task):
    """Expose ``values`` (rendered) as this task's outputs."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.output.OutputValues",)

    values: dict[str, Any] | None = None


class Fail(Task):
    """Fail the execution, optionally only when ``condition`` renders truthy."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.execution.Fail",
        "io.kestra.core.tasks.executions.Fail",
    )

    condition: Text | None = None
    errorMessage: Text | None = None


class Sleep(Task):
    """Wait for ``duration`` before finishing."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.Sleep",)

    duration: Duration


MODELS: tuple[type[Task], ...] = (Log, Echo, Return, OutputValues, Fail, Sleep)
