"""The one error tree of Perch.

Every error Perch raises on purpose derives from :class:`PerchError`. A class's docstring is its
default message, so ``raise FlowNotFound()`` already says something useful. Boundaries (CLI, HTTP)
translate these classes into exit codes and status codes in one table each; library code raises
them with ``raise ... from`` when it translates a lower-level exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PerchError(Exception):
    """Something went wrong in Perch."""

    def __init__(self, message: str | None = None) -> None:
        doc = (type(self).__doc__ or "").strip().splitlines()
        self.message = message or (doc[0] if doc else type(self).__name__)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# --- locations and problems ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document, with where it is.

    ``path`` is a dotted/indexed path such as ``tasks[2].then[0].message``; ``line`` and
    ``column`` are 1-based positions in the YAML source when known.
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path or "<flow>"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


# --- flows -----------------------------------------------------------------------------------


class FlowError(PerchError):
    """The flow is not valid."""


class FlowValidationError(FlowError):
    """The flow is not valid."""

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        summary = message or f"The flow has {count} problem{'s' if count != 1 else ''}"
        super().__init__(summary)

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  - {p}" for p in self.problems)])


class FlowParseError(FlowValidationError):
    """The flow is not well-formed YAML."""


class UnknownTaskType(FlowError):
    """This task type is not known to Perch."""


# --- templating ------------------------------------------------------------------------------


class TemplateError(PerchError):
    """The expression could not be evaluated."""

    def __init__(
        self,
        message: str | None = None,
        *,
        line: int | None = None,
        column: int | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.source = source

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{self.message} ({where})"


class TemplateSyntaxError(TemplateError):
    """The expression is not valid Pebble syntax."""


class TemplateRenderError(TemplateError):
    """The expression failed while rendering."""


class UndefinedVariableError(TemplateRenderError):
    """The expression uses a variable that is not defined."""

    def __init__(
        self,
        name: str,
        *,
        line: int | None = None,
        column: int | None = None,
        source: str | None = None,
    ) -> None:
        self.name = name
        super().__init__(
            f"Variable '{name}' is not defined", line=line, column=column, source=source
        )


class TemplateSecurityError(TemplateRenderError):
    """The expression tried to reach something templates may not touch."""


class TemplateBudgetError(TemplateRenderError):
    """A rendering ran over one of its budgets (time, output size, loop iterations); the
    message names the limit and the setting that raises it."""


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One input that was rejected, and why."""

    input_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.input_id}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.input_id, "message": self.message}


class InputValidationError(PerchError):
    """Some inputs are not valid."""

    def __init__(self, problems: list[InputProblem], message: str | None = None) -> None:
        self.problems = list(problems)
        summary = message or "Invalid inputs: " + "; ".join(str(p) for p in self.problems)
        super().__init__(summary)


class InvalidDuration(PerchError):
    """The value is not an ISO-8601 duration such as PT5M or P1DT2H."""


# --- engine ----------------------------------------------------------------------------------


class InvalidWorkerFilter(PerchError):
    """The worker's group, task types or namespaces are not valid."""


class EngineError(PerchError):
    """The execution could not be changed."""


class NotFound(EngineError):
    """Not found."""


class ExecutionNotFound(NotFound):
    """The execution does not exist."""


class FlowNotFound(NotFound):
    """The flow does not exist."""


class IllegalState(EngineError):
    """The execution is not in a state that allows this."""


class NotPaused(IllegalState):
    """The execution is not paused."""

    def __init__(
        self, execution_id: str, resumed_by: str | None = None, *, killed_by: str | None = None
    ) -> None:
        self.execution_id = execution_id
        self.resumed_by = resumed_by
        """Who resumed (or restarted) the pause last, when someone did."""
        self.killed_by = killed_by
        """Who killed the execution while it was paused, when someone did."""
        super().__init__(f"Execution '{execution_id}' is not paused, can't resume it")

    @property
    def decided(self) -> str | None:
        """What ended the pause, in words: ``resumed by X`` or ``killed by X``."""
        if self.killed_by:
            return f"killed by {self.killed_by}"
        if self.resumed_by:
            return f"resumed by {self.resumed_by}"
        return None


class NotRunning(IllegalState):
    """The execution is not running."""


class AlreadyFinished(IllegalState):
    """Execution is already finished, can't kill it."""


class BulkInvalid(EngineError):
    """Some executions of a bulk action cannot be acted on; none was."""

    def __init__(self, action: str, invalids: list[tuple[str, str]]) -> None:
        self.action = action
        self.invalids = list(invalids)
        """``(execution id, why)`` for each execution refused."""
        super().__init__(f"invalid bulk {action}")


class ConcurrentUpdate(EngineError):
    """Someone else changed the execution first; reload it and try again."""


class StaleResult(EngineError):
    """The result belongs to an attempt that is no longer current; it was ignored."""


class StoreError(EngineError):
    """What the database holds is not what Perch wrote (a part of a document is missing)."""


class SchemaMismatch(StoreError):
    """The database's schema is not this Perch's (older: ``perch db upgrade``; newer: upgrade
    Perch)."""


# --- access ----------------------------------------------------------------------------------


class AccessError(PerchError):
    """Access denied."""


class Unauthenticated(AccessError):
    """Credentials are missing or wrong: use HTTP Basic or an API token."""


class SetupRequired(Unauthenticated):
    """Perch has no administrator yet: open the one-time setup link printed by the server."""


class Forbidden(AccessError):
    """You are not allowed to do this."""


class NotAssigned(Forbidden):
    """Access denied to resume this execution"""


class TooManyAttempts(AccessError):
    """Too many attempts: try again later."""

    def __init__(self, message: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class BodyTooLarge(PerchError):
    """The request body is too large."""


class InvalidRequest(PerchError):
    """The request is not valid."""


# --- identity --------------------------------------------------------------------------------


class BadRequest(InvalidRequest):
    """A request Kestra answers with 400 (the trigger API's refusals: "No backfill found")."""


class IdentityError(PerchError):
    """The user, service account or token request is not valid."""


class AlreadyExists(IdentityError):
    """It already exists."""


class WeakPassword(IdentityError):
    """The password is too short: use at least 8 characters."""


# --- secrets ---------------------------------------------------------------------------------


class SecretError(PerchError):
    """The secret request is not valid."""


class SecretNotFound(NotFound):
    """The secret does not exist."""


class SecretUnavailable(TemplateRenderError):
    """A secret a template asked for cannot be found (the message names it, never a value)."""


class TaskFileError(PerchError):
    """A task asked for a file it may not read, or to write one it may not write."""


# --- KV store --------------------------------------------------------------------------------


class KvError(PerchError):
    """The KV request is not valid."""


class KvNotFound(NotFound):
    """The key does not exist."""


class KvExpired(KvNotFound):
    """The key has expired."""


class KvUnavailable(TemplateRenderError):
    """A KV pair a template asked for does not exist or has expired."""


# --- outbound HTTP ---------------------------------------------------------------------------


class HttpTaskError(PerchError):
    """The HTTP request of a task failed."""


class AddressRefused(HttpTaskError):
    """The network policy refuses to connect to this address."""


class NetworkFailure(HttpTaskError):
    """The server could not be reached, or stopped answering."""


class ResponseTooLarge(HttpTaskError):
    """The response is larger than the server allows a task to read."""


# --- outbound mail ---------------------------------------------------------------------------


class MailTaskError(PerchError):
    """The e-mail of a task could not be built or sent."""


# --- tasks that act on executions, triggers and states ---------------------------------------


class ActingTaskError(PerchError):
    """A task could not act on an execution, a trigger or a state."""


class SystemLabelRefused(ActingTaskError):
    """Labels starting with 'system.' are set by Perch, never by a task."""


class StateNotFound(ActingTaskError):
    """The state does not exist."""
