"""The Environment API: typed evaluation, caching, hooks, errors and single-pass rendering."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from perch.errors import (
    TemplateRenderError,
    TemplateSyntaxError,
    UndefinedVariableError,
)
from perch.templating import (
    CallContext,
    Environment,
    Template,
    check_syntax,
    default_environment,
    is_template,
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ inputs.flag }}", True),
        ("{{ inputs.off }}", False),
        ("{{ inputs.list }}", [1, 2, 3]),
        ("{{ inputs.request }}", {"name": "Ann", "days": 10}),
        ("  {{ inputs.zero }}\n", 0),
        ("{{ inputs.employee }}", None),
        ("{{ 7 / 2 }}", 3),
        ("{{ 1.5 }}", 1.5),
        ("{{ outputs.await_decision.onResume.approved is false }}", False),
        ("{{ inputs.missing ?? inputs.list }}", [1, 2, 3]),
        ("{{ execution.startDate }}", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("{{ 1 }} {{ 2 }}", "1 2"),
        ("x{{ 1 }}", "x1"),
        ("{% if true %}{{ 1 }}{% endif %}", "1"),
        ("{# note #}{{ 1 }}", 1),  # a comment renders nothing, so this is still one expression
        ("no template at all", "no template at all"),
        ("{ not a template }", "{ not a template }"),
    ],
)
def test_evaluate_is_typed_for_a_lone_expression(
    engine: Environment, variables: dict[str, Any], source: str, expected: Any
) -> None:
    result = engine.evaluate(source, variables)
    assert result == expected
    assert type(result) is type(expected)


def test_text_without_delimiters_is_returned_without_compiling(engine: Environment) -> None:
    # '{{' missing: even a broken-looking text is just text.
    text = "price: {5} } {"
    assert engine.render(text, {}) is text
    assert engine.evaluate(text, {}) is text


def test_render_value_walks_dicts_and_lists(engine: Environment, variables: dict[str, Any]) -> None:
    value = {
        "url": "{{ inputs.slack_webhook_uri }}",
        "approved": "{{ outputs.await_decision.onResume.approved }}",
        "nested": [{"n": "{{ inputs.request.days }}"}, 5, None, "plain"],
        "{{ flow.id }}": "key rendered",
    }
    assert engine.render_value(value, variables) == {
        "url": "https://hooks.slack.com/x",
        "approved": True,
        "nested": [{"n": 10}, 5, None, "plain"],
        "vacation": "key rendered",
    }


def test_compile_is_cached_by_source(engine: Environment) -> None:
    first = engine.compile("{{ 1 + 1 }}")
    assert isinstance(first, Template)
    assert engine.compile("{{ 1 + 1 }}") is first
    assert first.source == "{{ 1 + 1 }}"


def test_cache_is_bounded() -> None:
    env = Environment(cache_size=2)
    a = env.compile("{{ 'a' }}")
    env.compile("{{ 'b' }}")
    env.compile("{{ 'c' }}")
    assert env.compile("{{ 'a' }}") is not a


def test_values_are_never_rendered_twice(engine: Environment, variables: dict[str, Any]) -> None:
    hostile = {"inputs": {"reason": "{{ secret('DB_PASSWORD') }}{% for x in 1..3 %}x{% endfor %}"}}
    assert engine.render("Reason: {{ inputs.reason }}", hostile) == (
        "Reason: {{ secret('DB_PASSWORD') }}{% for x in 1..3 %}x{% endfor %}"
    )
    assert engine.evaluate("{{ inputs.reason }}", hostile) == hostile["inputs"]["reason"]


def test_functions_receive_a_call_context(
    variables: dict[str, Any], hooks: Mapping[str, Callable[..., Any]]
) -> None:
    seen: list[CallContext] = []

    def spy(ctx: CallContext, *args: Any) -> str:
        seen.append(ctx)
        assert ctx.render is not None
        return str(ctx.render("{{ flow.id }}"))

    env = Environment(functions={"spy": spy})
    assert env.render("{{ spy() }}", variables, hooks=hooks) == "vacation"
    assert seen[0].variables is variables
    assert seen[0].hooks is hooks


def test_hooks_default_to_empty(engine: Environment) -> None:
    with pytest.raises(TemplateRenderError, match="secret"):
        engine.render("{{ secret('X') }}", {})


def test_undefined_error_names_the_variable_and_its_position(engine: Environment) -> None:
    with pytest.raises(UndefinedVariableError) as caught:
        engine.render("line one\n  {{ inputs.request.nmae }}", {"inputs": {"request": {}}})
    error = caught.value
    assert error.name == "inputs.request.nmae"
    assert (error.line, error.column) == (2, 6)
    assert error.source == "line one\n  {{ inputs.request.nmae }}"
    assert "inputs.request.nmae" in str(error)


def test_undefined_error_stops_at_the_first_missing_step(engine: Environment) -> None:
    with pytest.raises(UndefinedVariableError) as caught:
        engine.render("{{ inputs.missing.deeper }}", {"inputs": {}})
    assert caught.value.name == "inputs.missing"


def test_syntax_error_has_position_and_clear_message(engine: Environment) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        engine.compile("ok\n{{ inputs.a + }}")
    error = caught.value
    assert (error.line, error.column) == (2, 15)
    assert "Unexpected token '}}'" in error.message


def test_unknown_filter_is_a_syntax_error_with_position(engine: Environment) -> None:
    with pytest.raises(TemplateSyntaxError, match="Unknown filter 'nope'") as caught:
        engine.compile("{{ x | nope }}")
    assert (caught.value.line, caught.value.column) == (1, 8)


def test_a_failing_filter_becomes_a_render_error() -> None:
    def broken(value: Any) -> Any:
        raise ValueError("bad value")

    env = Environment(filters={"broken": broken})
    with pytest.raises(TemplateRenderError, match="bad value") as caught:
        env.render("{{ 1 | broken }}", {})
    assert isinstance(caught.value.__cause__, ValueError)


def test_perch_errors_from_filters_pass_through() -> None:
    def strict(value: Any) -> Any:
        raise UndefinedVariableError("deep")

    env = Environment(filters={"strict": strict})
    with pytest.raises(UndefinedVariableError, match="deep"):
        env.render("{{ 1 | strict }}", {})


def test_variables_may_be_any_mapping(engine: Environment) -> None:
    from types import MappingProxyType

    frozen = MappingProxyType({"inputs": MappingProxyType({"name": "Ann"})})
    assert engine.render("{{ inputs.name }}", frozen) == "Ann"
    assert engine.render("{{ inputs.other ?? 'x' }}", frozen) == "x"


def test_tuples_behave_as_lists(engine: Environment) -> None:
    assert engine.render("{{ xs[1] }} {{ xs }}", {"xs": (1, 2)}) == "2 [1,2]"


def test_is_template() -> None:
    assert is_template("{{ x }}")
    assert is_template("{% if %}")
    assert is_template("{# c #}")
    assert not is_template("{ x }")
    assert not is_template("")


def test_default_environment_is_a_singleton_and_checks_syntax() -> None:
    assert default_environment() is default_environment()
    check_syntax("plain")
    check_syntax("{{ inputs.a ?? 'b' }}")
    with pytest.raises(TemplateSyntaxError):
        check_syntax("{{ inputs.a ?? }}")


def test_default_environment_renders_render_itself(variables: dict[str, Any]) -> None:
    env = default_environment()
    assert env.render("{{ render(vars.greeting) }}", variables) == "Hello Ann"


def test_render_function_recurses_until_stable() -> None:
    env = Environment()
    variables = {"a": "{{ b }}", "b": "{{ c }}", "c": "end"}
    assert env.render("{{ render(a) }}", variables) == "end"
    assert env.render("{{ renderOnce(a) }}", variables) == "{{ c }}"
    assert env.render("{{ render(a, recursive=false) }}", variables) == "{{ c }}"


def test_render_function_stops_on_endless_expansion() -> None:
    env = Environment()
    variables = {"a": "x{{ a }}"}
    with pytest.raises(TemplateRenderError, match="render"):
        env.render("{{ render(a) }}", variables)


def test_loop_variables_do_not_leak(engine: Environment) -> None:
    source = "{% for x in [1, 2] %}{{ x }}{% endfor %}{{ x ?? '-' }}{{ loop is defined }}"
    assert engine.render(source, {}) == "12-false"


def test_outer_variable_is_restored_after_loop(engine: Environment) -> None:
    source = "{% for x in [1, 2] %}{{ x }}{% endfor %}{{ x }}"
    assert engine.render(source, {"x": "outer"}) == "12outer"


def test_set_in_branch_falls_back_to_variables(engine: Environment) -> None:
    source = "{% if flag %}{% set who = 'set' %}{% endif %}{{ who }}"
    assert engine.render(source, {"flag": True, "who": "var"}) == "set"
    assert engine.render(source, {"flag": False, "who": "var"}) == "var"


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("{{ 1 / 0 }}", 1, 1),
        ("a\n{{ 'x' }} {{ 1 | broken }}", 2, 11),
        ("{% if true %}\n  ok\n  {{ 1 | broken }}\n{% endif %}", 3, 3),
        ("{% for x in [1] %}\n{% if x | broken %}{% endif %}{% endfor %}", 2, 11),
        ("{% set y = 1 | broken %}", 1, 4),
        ("{% for x in 'abc' %}{% endfor %}", 1, 4),
        ("{{ missing ?? (1 | broken) }}", 1, 1),
    ],
)
def test_render_errors_point_into_the_template(source: str, line: int, column: int) -> None:
    def broken(value: Any) -> Any:
        raise ValueError("bad value")

    env = Environment(filters={"broken": broken})
    with pytest.raises(TemplateRenderError) as caught:
        env.render(source, {})
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.source == source


def test_errors_inside_render_point_into_the_rendered_text() -> None:
    env = Environment()
    with pytest.raises(UndefinedVariableError) as caught:
        env.render("outer {{ render(inner) }}", {"inner": "\n  {{ nope }}"})
    assert caught.value.source == "\n  {{ nope }}"
    assert (caught.value.line, caught.value.column) == (2, 6)
