"""Environments compile templates once, cache them, and render them.

Rendering is single-pass: a value that contains ``{{ … }}`` prints as it is, so text typed by
people can never run as an expression. Only the ``render()`` function renders a string again.

Typed evaluation: when a string is exactly one ``{{ expr }}`` (surrounding whitespace is
allowed and dropped), :meth:`Environment.evaluate` returns the expression's value itself, so a
boolean stays a boolean and a list stays a list; otherwise it returns the rendered string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from perch.errors import (
    PerchError,
    TemplateBudgetError,
    TemplateError,
    TemplateRenderError,
    TemplateSecurityError,
    TemplateSyntaxError,
    UndefinedVariableError,
)
from perch.templating import budget, core, taint
from perch.templating.calls import CallContext
from perch.templating.codegen import CodeGenerator, Compiled
from perch.templating.nodes import Node
from perch.templating.parser import parse

Hooks = Mapping[str, Callable[..., Any]]
_NO_HOOKS: Final[Hooks] = MappingProxyType({})
_RenderFn = Callable[[Mapping[str, Any], Hooks], Any]


_LONG_CALLS: Final = ("jq", "range", "render")


def is_template(source: str) -> bool:
    """Whether ``source`` contains ``{{``, ``{%`` or ``{#`` and so needs rendering."""
    return "{{" in source or "{%" in source or "{#" in source


class Template:
    """A compiled template. Get one from :meth:`Environment.compile`."""

    __slots__ = ("_budgeted", "_globals", "_positions", "_render", "_value", "nodes", "source")

    def __init__(
        self, source: str, nodes: tuple[Node, ...], compiled: Compiled, namespace: dict[str, Any]
    ) -> None:
        self.source = source
        self.nodes = nodes
        self._render: _RenderFn = namespace["_root"]
        self._value: _RenderFn | None = namespace["_value"] if compiled.typed else None
        self._positions = compiled.positions
        # A flat template spends a budget too when it calls what takes time (jq, range(),
        # render()): otherwise each such call would start a budget of its own.
        self._budgeted = compiled.budgeted or any(name in source for name in _LONG_CALLS)
        self._globals = namespace

    def _locate(self, exc: BaseException) -> tuple[int, int] | None:
        """The template position of the innermost generated line the exception went through."""
        lineno = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_globals is self._globals:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        while lineno:
            position = self._positions.get(lineno)
            if position is not None:
                return position
            lineno -= 1
        return None

    def _fail(self, exc: Exception) -> TemplateError:
        error = (
            exc
            if isinstance(exc, TemplateError)
            else TemplateRenderError(f"{type(exc).__name__}: {exc}")
        )
        if error.source is None:
            error.source = self.source
        if error.line is None and error.source == self.source:
            position = self._locate(exc)
            if position is not None:
                error.line, error.column = position
        return error

    def render(self, variables: Mapping[str, Any], *, hooks: Hooks | None = None) -> str:
        """Render to a string (a :class:`perch.templating.taint.Secret` when it read one)."""
        return self._run(self._render, variables, hooks, text=True)  # type: ignore[no-any-return]

    def evaluate(self, variables: Mapping[str, Any], *, hooks: Hooks | None = None) -> Any:
        """The value of a single-expression template; the rendered string otherwise."""
        if self._value is None:
            return self.render(variables, hooks=hooks)
        return self._run(self._value, variables, hooks, text=False)

    def _run(
        self, function: _RenderFn, variables: Mapping[str, Any], hooks: Hooks | None, *, text: bool
    ) -> Any:
        # The secret flag of this rendering: raised by any lookup that reads a secret, it marks
        # the whole value (see perch.templating.taint).
        token = taint.begin()
        # A template with tags opens the budget of this rendering (render() opens one too);
        # text and {{ }} alone cannot loop, so they spend none of their own.
        opened = budget.enter() if self._budgeted else None
        try:
            result = function(variables, _NO_HOOKS if hooks is None else hooks)
            if text:
                result = str(result)
            if type(result) is not str or len(result) > budget.SMALL:
                budget.check_size(result, opened)
        except PerchError as exc:
            secret = taint.end(token)
            if isinstance(exc, TemplateError):
                raise _hidden(self._fail(exc), secret) from None
            raise
        except Exception as exc:
            secret = taint.end(token)
            raise _hidden(self._fail(exc), secret) from (None if secret else exc)
        finally:
            if opened is not None:
                budget.leave(opened)
        if taint.end(token):
            return taint.mark(result)
        return result


def _hidden(error: TemplateError, secret: bool) -> TemplateError:
    """``error``, its message replaced when the rendering had read a secret: a message about a
    value (``cannot parse 'hunter2' as a number``) would show it. Messages that only name
    template text (an undefined variable, a forbidden name) stay as they are."""
    if not secret or isinstance(
        error,
        UndefinedVariableError | TemplateSecurityError | TemplateSyntaxError | TemplateBudgetError,
    ):
        return error
    return TemplateRenderError(
        "the message is hidden because the expression reads a SECRET value",
        line=error.line,
        column=error.column,
        source=error.source,
    )


class Environment:
    """Filters and functions, plus a cache of compiled templates keyed by source."""

    def __init__(
        self,
        *,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.filters: dict[str, Callable[..., Any]] = {"default": core.default_filter}
        self.filters.update(filters or {})
        self.functions: dict[str, Callable[..., Any]] = dict(core.FUNCTIONS)
        self.functions.update(functions or {})
        self._cached: Callable[[str], Template] = lru_cache(maxsize=cache_size)(self._compile)

    def _compile(self, source: str) -> Template:
        try:
            body = parse(source)
            compiled = CodeGenerator(source, self.filters, self.functions).compile(body)
            code = compile(compiled.code, "<template>", "exec")
        except (RecursionError, MemoryError) as exc:
            raise TemplateSyntaxError("The template is nested too deeply", source=source) from exc
        except SyntaxError as exc:
            # Python's own limits ("too many statically nested blocks", "too many nested
            # parentheses") stop absurd templates; any other SyntaxError is a bug here.
            if "too many" not in str(exc.msg):
                raise
            raise TemplateSyntaxError("The template is nested too deeply", source=source) from exc
        namespace = compiled.namespace
        namespace["_ctx"] = self._context
        exec(code, namespace)
        return Template(source, body, compiled, namespace)

    def _context(self, variables: Mapping[str, Any], hooks: Hooks) -> CallContext:
        def render(text: str) -> Any:
            return self.render(text, variables, hooks=hooks)

        return CallContext(variables=variables, hooks=hooks, render=render)

    def compile(self, source: str) -> Template:
        """Compile ``source`` (cached); raise :class:`TemplateSyntaxError` when it is invalid."""
        return self._cached(source)

    def render(
        self, source: str, variables: Mapping[str, Any], *, hooks: Hooks | None = None
    ) -> str:
        """Render ``source`` to a string; text without delimiters comes back unchanged."""
        if "{" not in source or not is_template(source):
            return source
        return self._cached(source).render(variables, hooks=hooks)

    def evaluate(
        self, source: str, variables: Mapping[str, Any], *, hooks: Hooks | None = None
    ) -> Any:
        """Typed rendering: the value of a lone ``{{ expr }}``, else the rendered string."""
        if "{" not in source or not is_template(source):
            return source
        return self._cached(source).evaluate(variables, hooks=hooks)

    def render_value(
        self, value: Any, variables: Mapping[str, Any], *, hooks: Hooks | None = None
    ) -> Any:
        """Evaluate every string inside dicts and lists (keys are rendered as strings)."""
        if isinstance(value, str):
            return self.evaluate(value, variables, hooks=hooks)
        if isinstance(value, Mapping):
            return {
                (self.render(k, variables, hooks=hooks) if isinstance(k, str) else k): (
                    self.render_value(v, variables, hooks=hooks)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.render_value(v, variables, hooks=hooks) for v in value]
        return value


def _library(module: str, attribute: str) -> dict[str, Callable[..., Any]]:
    import importlib

    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only the library module itself may be absent; a broken import inside it must surface.
        if exc.name == module:
            return {}
        raise
    return dict(getattr(loaded, attribute, {}))


@lru_cache(maxsize=1)
def default_environment() -> Environment:
    """The shared environment with the standard Kestra filters and functions."""
    functions = _library("perch.templating.functions", "FUNCTIONS")
    # render() and renderOnce() belong to the engine, whatever the library says.
    functions.update(core.FUNCTIONS)
    return Environment(filters=_library("perch.templating.filters", "FILTERS"), functions=functions)


def check_syntax(source: str) -> None:
    """Raise :class:`TemplateSyntaxError` if ``source`` is not a valid template.

    Unknown filters, functions and tests count as syntax errors. A static path to a dunder
    (``''.__class__``) raises :class:`TemplateSecurityError`; both are ``TemplateError``.
    """
    if is_template(source):
        default_environment().compile(source)
