"""Flow validation never crashes, whatever text it is given.

``validate_flow`` must return problems (never raise), ``parse_flow`` must raise only
``FlowValidationError``, and ``resolve_inputs`` only ``InputValidationError``. Three generators
feed them: arbitrary text, arbitrary YAML structures under the flow's own keys, and mutations of
the bundled examples. ``PERCH_FUZZ_EXAMPLES`` raises the number of examples for a long
exploration outside the suite; each crash such a run found is kept in ``FOUND`` below.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from perch.errors import FlowValidationError, InputValidationError, Problem
from perch.flows import Flow, default_task_registry, parse_flow, validate_flow
from perch.flows.tasks.pause import Pause
from perch.flows.yamlsource import load_yaml
from perch.inputs import InputBase, resolve_inputs

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*.yaml"))
SOURCES = [path.read_text(encoding="utf-8") for path in EXAMPLES]

FUZZ = settings(
    max_examples=int(os.environ.get("PERCH_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_never_raises(source: str) -> list[Problem]:
    """The invariants: problems (with a message) from validate_flow, one exception type from
    parse_flow, and a flow exactly when there is no problem."""
    problems = validate_flow(source)
    assert isinstance(problems, list)
    assert all(isinstance(p, Problem) and p.message for p in problems)
    # Every problem says where it is, so that editors and people can find it.
    assert all(p.line is not None and p.line >= 1 for p in problems)
    if problems:
        with pytest.raises(FlowValidationError) as caught:
            parse_flow(source)
        assert caught.value.problems == problems
    else:
        assert isinstance(parse_flow(source), Flow)
    return problems


def dump(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


# --- generators --------------------------------------------------------------------------------

KEYS = [
    "id",
    "namespace",
    "tasks",
    "inputs",
    "triggers",
    "type",
    "values",
    "onResume",
    "onPause",
    "pauseDuration",
    "behavior",
    "message",
    "cases",
    "then",
    "else",
    "errors",
    "finally",
    "defaults",
    "dependsOn",
    "cron",
    "validator",
    "key",
    "value",
    "retry",
    "labels",
    "pluginDefaults",
    "outputs",
    "concurrency",
    "<<",
]
TYPE_NAMES = [*default_task_registry().names(), "STRING", "SELECT", "BOOL", "Schedule", "x"]
TEMPLATES = [
    "{{ inputs.x }}",
    "{{ outputs.wait.onResume.ok ?? false }}",
    "{% if inputs.x %}{{ x }}",
    "{{ a" + ".b" * 1500 + " }}",
    "{{ " + "(" * 400 + "1" + ")" * 400 + " }}",
]
REGEXES = ["(" * 600 + ")" * 600, "a{99999999999}", "[[a]", "(a+)+", "\\1"]
ODD_TEXT = ["\x00", "\ufeff", "\u202e", "\ud7ff", "🙂", "\u0085", "\u2028", "{{", "{%", "}}", "'"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**400),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from([*TYPE_NAMES, *ODD_TEXT, "PT5M", "5m", "every day", *TEMPLATES, *REGEXES]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
structures = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
flows = st.dictionaries(st.sampled_from(KEYS[:6]), structures, max_size=6)
yamlish_text = st.lists(
    st.sampled_from([*"ab:-[]{}&*!|>'\"#%@`,? \n\t<0.~", *ODD_TEXT, "id: ", "- ", "<<: "]),
    max_size=40,
).map("".join)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _structural(data: Any, path: tuple[Any, ...], op: str, new: Any) -> Any:
    """``data`` with one change at ``path`` (the root itself cannot be dropped)."""
    if not path:
        return new if op != "drop" else {}
    parent = _at(data, path[:-1])
    key = path[-1]
    old = parent[key]
    if op == "drop":
        del parent[key]
    elif op == "replace":
        parent[key] = new
    elif op == "unknown_key" and isinstance(old, dict):
        old["bogus_" + str(new)[:5]] = new
    elif op == "swap_type" and isinstance(old, dict):
        old["type"] = new
    elif op == "break_template" and isinstance(old, str):
        parent[key] = old + " {{ " + str(new)
    elif op == "list_for_map":
        parent[key] = [old] if isinstance(old, dict) else {"k": old}
    elif op == "number_for_string":
        parent[key] = 12345678901234567890 if isinstance(old, str) else str(old)
    elif op == "deep":
        parent[key] = _nested(300)
    else:
        parent[key] = new
    return data


TEXT_EDITS = [
    lambda s, n: s.replace("  ", "\t", 1 + n % 3),
    lambda s, n: s + "\n---\n" + s,
    lambda s, n: s + "\nid: again\n",
    lambda s, n: "base: &b {id: x, type: Log}\n" + s.replace("tasks:\n", "tasks:\n  - <<: *b\n"),
    lambda s, n: s.replace("tasks:", "tasks: &t", 1) + "\nerrors: *t\n",
    lambda s, n: s[: n % (len(s) + 1)] + "\x00" + s[n % (len(s) + 1) :],
    lambda s, n: s[: n % (len(s) + 1)],
    lambda s, n: "\n".join(
        line[1:] if i == n % 20 else line for i, line in enumerate(s.split("\n"))
    ),
    lambda s, n: s.replace("type: ", "type: !!binary ", 1),
    lambda s, n: s.replace(": ", ": [", 1),
    lambda s, n: "%YAML 1.1\n---\n" + s,
    lambda s, n: s + "\nvariables: &v {a: [*v]}\n",
    lambda s, n: (
        s + "\nvariables:\n  a: &a [x, x, x, x]\n  b: &b [*a, *a, *a, *a]\n"
        "  c: &c [*b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c]\n  e: &e [*d, *d, *d, *d]\n"
        "  f: &f [*e, *e, *e, *e]\n  g: [*f, *f, *f, *f]\n"
    ),
    lambda s, n: s.replace("message: ", "message: {{ ", 1),
    lambda s, n: re.sub(r"(?m)^(\s*)- id: (\w+)", r"\1- id: \2\n\1  id: \2", s, count=1),
]


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            data = load_yaml(source).data
            if not isinstance(data, dict | list):
                break
            path = draw(st.sampled_from(_paths(data)))
            op = draw(
                st.sampled_from(
                    [
                        "drop",
                        "replace",
                        "unknown_key",
                        "swap_type",
                        "break_template",
                        "list_for_map",
                        "number_for_string",
                        "deep",
                    ]
                )
            )
            new = draw(st.one_of(structures, st.sampled_from(TYPE_NAMES)))
            source = dump(_structural(data, path, op, new))
        else:
            edit = draw(st.sampled_from(TEXT_EDITS))
            source = edit(source, draw(st.integers(0, 10_000)))
    return source


# --- the properties ----------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(), yamlish_text))
def test_any_text_gives_problems_not_exceptions(source: str) -> None:
    check_never_raises(source)


@FUZZ
@given(flows)
def test_any_yaml_structure_gives_problems_not_exceptions(data: dict[str, Any]) -> None:
    check_never_raises(dump(data))


@FUZZ
@given(mutated_examples())
def test_mutated_examples_give_problems_not_exceptions(source: str) -> None:
    check_never_raises(source)


def _declaration_lists() -> list[list[InputBase]]:
    found: list[list[InputBase]] = []
    for source in SOURCES:
        flow = parse_flow(source)
        if flow.inputs:
            found.append(list(flow.inputs))
        found += [list(t.onResume) for t in flow.all_tasks() if isinstance(t, Pause) and t.onResume]
    return found


DECLARATIONS = _declaration_lists()
submitted_values = st.recursive(
    st.one_of(
        scalars,
        st.dates(),
        st.datetimes(),
        st.times(),
        st.timedeltas(),
        st.sampled_from(["", "true", "2024-07-01", "PT5M", "[1, 2]", '["a"]', "{{ 1 }}", "NaN"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@FUZZ
@given(st.data())
def test_any_submitted_inputs_give_input_problems_only(data: st.DataObject) -> None:
    declarations = data.draw(st.sampled_from(DECLARATIONS))
    ids = [d.id for d in declarations]
    submitted = data.draw(
        st.dictionaries(st.sampled_from(ids) | st.text(max_size=5), submitted_values, max_size=6)
    )
    outcome: dict[str, Any] | InputValidationError
    try:
        outcome = resolve_inputs(declarations, submitted)
    except InputValidationError as exc:
        outcome = exc
    assert isinstance(outcome, dict) or outcome.problems


def test_there_are_declarations_to_fuzz() -> None:
    assert len(DECLARATIONS) >= 5


# --- what longer explorations found ------------------------------------------------------------

_TASK = "id: a\nnamespace: b\ntasks:\n  - id: t\n    type: Log\n    message: "
_INPUT = "id: a\nnamespace: b\ninputs:\n  - id: x\n    type: STRING\n    validator: "
_TASKS = "tasks: [{id: t, type: Log, message: m}]\n"
FOUND: dict[str, str] = {
    # A document holding only null was "valid" (no problem) yet parse_flow raised.
    "null-document": "~",
    "null-tag": "!",
    # Python recursion without end or beyond its limit.
    "alias-inside-its-anchor": "a: &a [*a]\n",
    "deep-flow-nesting": "a: " + "[\n" * 2000 + "]" * 2000 + "\n",
    "deep-block-nesting": "".join("  " * i + "k:\n" for i in range(600)),
    "long-attribute-chain": _TASK + "'{{ a" + ".b" * 3000 + " }}'\n",
    # ruamel warns about a repeated anchor; with warnings as errors that escaped.
    "repeated-anchor": "id: a\nnamespace: b\nx: &t 1\ny: &t 2\ntasks: []\n",
    # Expanded into 9**6 values before being checked.
    "billion-laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
    ),
    # 5,000 copies of one 50 KB template, each checked again: minutes of work.
    "alias-repeats-a-long-text": "a: &a '" + "{{ x }}" * 7000 + "'\nb: [" + "*a, " * 5000 + "]\n",
    # Half a UTF-16 pair: fine in Python, but the CLI crashed printing it.
    "lone-surrogate": 'id: "\\ud800"\nnamespace: b\ntasks: [{id: t, type: Log, message: m}]\n',
    # re.compile raised RecursionError / OverflowError, and warned (an error under pytest).
    "validator-nested-groups": _INPUT + '"' + "(" * 1000 + ")" * 1000 + '"\n' + _TASKS,
    "validator-huge-repeat": _INPUT + "'a{99999999999}'\n" + _TASKS,
    "validator-possible-nested-set": _INPUT + "'[[a]'\n" + _TASKS,
    # A TypeError (unhashable key) and a ValueError from int() escaped pydantic's wording.
    "label-key-a-mapping": "id: a\nnamespace: b\nlabels: [{key: {a: 1}, value: x}]\n" + _TASKS,
    "duration-of-5000-digits": _TASK.replace("Log", "Pause").replace("message: ", "delay: ")
    + "P"
    + "9" * 5000
    + "D\n",
    "foreach-values-deep-json": _TASK.replace("Log", "ForEach").replace("message: ", "values: ")
    + "'"
    + "[" * 100_000
    + "'\n",
    "merge-of-a-scalar": "id: a\n<<: 5\nnamespace: b\ntasks: [{id: t, type: Log, message: m}]\n",
}


@pytest.mark.parametrize("source", list(FOUND.values()), ids=list(FOUND))
def test_found_crashes_stay_fixed(source: str) -> None:
    check_never_raises(source)
