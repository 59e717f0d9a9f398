"""Reading submitted values against input declarations: the one validator for flow ``inputs``
(when an execution starts) and Pause ``onResume`` (when a person resumes).

For each declaration, in dependency order:

1. ``dependsOn``: the input is *enabled* only if every input it depends on is enabled, valid and
   has a value, and its ``condition`` evaluates to true. A disabled input is skipped: it is not
   required and is absent from the result. Ids in ``dependsOn`` that name no input are ignored,
   as in Kestra (:func:`perch.inputs.declaration_problems` reports them when a flow is read).
2. SELECT/MULTISELECT ``expression``: evaluated to get the allowed values.
3. The value: the submitted one; else ``defaults`` (evaluated when it holds ``{{``); else the first
   choice with ``autoSelectFirst``. ``prefill`` is a suggestion for forms and is not applied here.
   An empty string counts as no value, except for text types (STRING, SECRET, SELECT, ...).
4. Parsing and the type's rules (:meth:`InputBase.typed_value`).

Submitted values are data: they are never evaluated as templates. Only the flow author's
``defaults``, ``condition`` and ``expression`` are, with ``variables`` plus ``inputs`` holding the
values of the input's dependencies. Submitted keys that match no declaration are ignored, as
Kestra ignores them. A dotted id is looked up flat (``request.name``, as form fields are named)
and then nested (``{"request": {"name": ...}}``, as a JSON body may be).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from perch.errors import InputProblem, InputValidationError, PerchError
from perch.inputs.base import InputBase, is_template
from perch.inputs.declarations import MultiselectInput, SelectInput
from perch.inputs.parsing import TEXT_TYPES, ValueProblem
from perch.inputs.values import Secret, nest_values
from perch.templating.taint import holds_secret, mark

__all__ = ["Evaluator", "InputCheck", "check_inputs", "resolve_inputs"]


class Evaluator(Protocol):
    """What the resolver needs from the template engine (``perch.templating.Environment``)."""

    def evaluate(self, source: str, variables: Mapping[str, Any]) -> Any:
        """The typed result of rendering ``source`` with ``variables``."""
        ...


@dataclass(frozen=True, slots=True)
class InputCheck:
    """The outcome for one declared input, as the ``/validate`` endpoints report it."""

    id: str
    value: Any
    enabled: bool
    is_default: bool
    errors: list[str] = field(default_factory=list)


def check_inputs(
    declarations: Sequence[InputBase],
    submitted: Mapping[str, Any],
    *,
    variables: Mapping[str, Any] | None = None,
    environment: Evaluator | None = None,
) -> list[InputCheck]:
    """Check every declared input without raising; one :class:`InputCheck` per declaration.

    A SECRET's value is a :class:`perch.inputs.Secret`, and is ``None`` when it is invalid.
    """
    resolution = _Resolution(declarations, submitted, variables or {}, environment)
    return [resolution.resolve(d) for d in resolution.declarations]


def resolve_inputs(
    declarations: Sequence[InputBase],
    submitted: Mapping[str, Any],
    *,
    variables: Mapping[str, Any] | None = None,
    environment: Evaluator | None = None,
) -> dict[str, Any]:
    """The typed values of the enabled inputs, nested by dotted id (``a.b`` -> ``{"a": {"b":
    ...}}``); an optional input with no value is present as ``None``.

    Raises :class:`perch.errors.InputValidationError` with one
    :class:`perch.errors.InputProblem` per invalid input, all of them at once.
    """
    checks = check_inputs(declarations, submitted, variables=variables, environment=environment)
    problems = [InputProblem(c.id, "; ".join(c.errors)) for c in checks if c.errors]
    if problems:
        raise InputValidationError(problems)
    return nest_values({c.id: c.value for c in checks if c.enabled})


class _Resolution:
    """One submission being checked; remembers each input's outcome for its dependants."""

    def __init__(
        self,
        declarations: Sequence[InputBase],
        submitted: Mapping[str, Any],
        variables: Mapping[str, Any],
        environment: Evaluator | None,
    ) -> None:
        self.declarations: list[InputBase] = []
        self.by_id: dict[str, InputBase] = {}
        for declaration in declarations:
            # The first declaration of a duplicated id wins, as in Kestra.
            if declaration.id not in self.by_id:
                self.by_id[declaration.id] = declaration
                self.declarations.append(declaration)
        self.submitted = submitted
        self.variables = variables
        self.environment = environment
        self.done: dict[str, InputCheck] = {}
        self.in_progress: set[str] = set()

    def resolve(self, declaration: InputBase) -> InputCheck:
        if declaration.id in self.done:
            return self.done[declaration.id]
        self.in_progress.add(declaration.id)
        try:
            check = self._resolve(declaration)
        finally:
            self.in_progress.discard(declaration.id)
        self.done[declaration.id] = check
        return check

    def _resolve(self, declaration: InputBase) -> InputCheck:
        input_id = declaration.id
        dependency_ids = [
            d
            for d in (declaration.depends_on.inputs if declaration.depends_on else [])
            if d != input_id and d in self.by_id
        ]
        if any(d in self.in_progress for d in dependency_ids):
            return _failed(input_id, "`dependsOn` forms a cycle")
        dependencies = [self.resolve(self.by_id[d]) for d in dependency_ids]
        if not all(d.enabled and not d.errors and d.value is not None for d in dependencies):
            return InputCheck(input_id, None, enabled=False, is_default=False)
        context = self._context(dependencies)

        condition = declaration.depends_on.condition if declaration.depends_on else None
        if condition is not None:
            try:
                result = self._evaluate(condition, context)
            except PerchError as error:
                return _failed(input_id, f"Invalid condition: {error}", enabled=False)
            if not _is_true(result):
                return InputCheck(input_id, None, enabled=False, is_default=False)

        if isinstance(declaration, SelectInput | MultiselectInput) and declaration.expression:
            try:
                declaration = _with_rendered_choices(declaration, self._evaluate, context)
            except _ChoicesProblem as problem:
                return _failed(input_id, str(problem))

        raw = _submitted_value(self.submitted, input_id)
        if raw == "" and declaration.input_type not in TEXT_TYPES:
            raw = None
        is_default = False
        if raw is None:
            try:
                raw = self._fallback(declaration, context)
            except PerchError as error:
                return _failed(input_id, f"Cannot render `defaults`: {error}")
            is_default = raw is not None
        if raw is None:
            if declaration.required:
                return _failed(input_id, f"Missing required input: {input_id}")
            return InputCheck(input_id, None, enabled=True, is_default=False)

        # A value derived from a secret (a subflow input rendered from one) stays a secret,
        # whatever the input's type.
        secret = declaration.is_secret or holds_secret(raw)
        try:
            value = declaration.typed_value(raw)
        except ValueProblem as problem:
            shown = None if secret else raw
            reason = "the value is not valid" if secret and not declaration.is_secret else problem
            return InputCheck(
                input_id,
                shown,
                True,
                is_default,
                [f"Invalid value for input `{input_id}`: {reason}"],
            )
        if declaration.is_secret:
            value = Secret(value)
        elif secret:
            value = mark(value)
        return InputCheck(input_id, value, enabled=True, is_default=is_default)

    def _fallback(self, declaration: InputBase, context: Mapping[str, Any]) -> Any:
        """The value used when none was submitted: ``defaults``, then ``autoSelectFirst``."""
        if declaration.defaults is not None:
            if is_template(declaration.defaults):
                return self._evaluate(declaration.defaults, context)
            return declaration.defaults
        if (
            isinstance(declaration, SelectInput | MultiselectInput)
            and declaration.auto_select_first
        ):
            choices = declaration.choices()
            if choices:
                return [choices[0]] if isinstance(declaration, MultiselectInput) else choices[0]
        return None

    def _context(self, dependencies: Sequence[InputCheck]) -> dict[str, Any]:
        context = dict(self.variables)
        known = nest_values({d.id: d.value for d in dependencies})
        existing = context.get("inputs")
        context["inputs"] = _merged(existing, known) if isinstance(existing, Mapping) else known
        return context

    def _evaluate(self, source: str, context: Mapping[str, Any]) -> Any:
        if self.environment is None:
            self.environment = _default_environment()
        if self.environment is None:
            raise PerchError("expressions cannot be evaluated: no template engine is available")
        return self.environment.evaluate(source, context)


class _ChoicesProblem(Exception):
    """The ``expression`` of a SELECT or MULTISELECT did not give a list of values."""


def _with_rendered_choices(
    declaration: SelectInput | MultiselectInput, evaluate: Any, context: Mapping[str, Any]
) -> SelectInput | MultiselectInput:
    try:
        result = evaluate(declaration.expression, context)
    except PerchError as error:
        raise _ChoicesProblem(f"Cannot render 'expression'. Cause: {error}") from None
    if not isinstance(result, list):
        kind = type(result).__name__ if result is not None else "<null>"
        raise _ChoicesProblem(
            f"Invalid expression result. Expected a list of strings, but received {kind}"
        )
    values = [str(v) for v in result if v is not None]
    # model_copy skips validation on purpose: the expression may legitimately give no values.
    return declaration.model_copy(update={"values": values, "expression": None})


def _submitted_value(submitted: Mapping[str, Any], input_id: str) -> Any:
    """The value given for ``input_id``: under its flat dotted id (form fields), or else at its
    nested place (a JSON body such as ``{"request": {"name": ...}}``)."""
    if input_id in submitted:
        return submitted[input_id]
    node: Any = submitted
    for part in input_id.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _failed(input_id: str, message: str, *, enabled: bool = True) -> InputCheck:
    return InputCheck(input_id, None, enabled=enabled, is_default=False, errors=[message])


def _is_true(result: Any) -> bool:
    # Kestra wants a boolean; a renderer that only produces text gives "true".
    return result is True or (isinstance(result, str) and result.strip().lower() == "true")


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merged(current, value)
        else:
            merged[key] = value
    return merged


def _default_environment() -> Evaluator | None:
    """Perch's template engine when it is installed (it is being written alongside)."""
    try:
        from perch import templating
    except ImportError:  # pragma: no cover - the package always exists
        return None
    factory = getattr(templating, "default_environment", None)
    if factory is None:
        return None
    environment: Evaluator = factory()
    return environment
