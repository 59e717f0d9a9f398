"""Realistic mistakes get messages in plain words: what is wrong, where, and on which line."""

from __future__ import annotations

import pytest

from perch.flows import validate_flow

LOG = "  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
PAUSE = "  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n"
INDENTATION = (
    "invalid YAML: wrong indentation: this line does not line up with the lines above it "
    "(the keys of one mapping, and the items of one list, must start in the same column)"
)
AS_LIST = (
    "expected a list (items written '- …'), got a mapping (key: value); "
    "write each input as a list item: '- id: name' then 'type: STRING'"
)
ID_RULE = "use letters, digits, '.', '_' and '-', starting with a letter or a digit"


def flow(tasks: str = LOG, *, inputs: str = "", extra: str = "") -> str:
    """A small flow: lines 1-2 are id and namespace, then ``inputs``, ``tasks:`` and ``extra``."""
    return f"id: approve\nnamespace: company.team\n{inputs}tasks:\n{tasks}{extra}"


def problems(source: str) -> list[tuple[str, int | None, str]]:
    # strict: the warnings (an undeclared input) are listed with the problems
    return [(p.path, p.line, p.message) for p in validate_flow(source, strict=True)]


CASES = [
    pytest.param(
        flow("  - id: hello\n    type: io.kestra.plugin.core.log.Log\n   message: hi\n"),
        [("", 6, INDENTATION)],
        id="property-indented-one-space-less",
    ),
    pytest.param(
        flow(LOG + "   - id: two\n     type: io.kestra.plugin.core.log.Log\n     message: x\n"),
        [("", 7, INDENTATION)],
        id="second-task-indented-differently",
    ),
    pytest.param(
        flow("  - id: hello\n    type: io.kestra.plugin.core.log.Log\nmessage: hi\n"),
        [
            ("tasks[0].message", 4, "missing required property 'message'"),
            (
                "message",
                6,
                "unknown property 'message' of the flow; "
                "if it belongs to a task, indent it under that task",
            ),
        ],
        id="task-property-not-indented",
    ),
    pytest.param(
        flow("  - id: hello\n\ttype: io.kestra.plugin.core.log.Log\n"),
        [
            (
                "",
                5,
                "invalid YAML: a tab character is not allowed for indentation in YAML; "
                "indent with spaces",
            )
        ],
        id="tab-indentation",
    ),
    pytest.param(
        flow("  - id: wait\n    type: pause\n"),
        [("tasks[0].type", 5, "unknown task type 'pause' (did you mean 'Pause'?)")],
        id="type-pause-lowercase",
    ),
    pytest.param(
        flow(PAUSE + "    onResume:\n      approved:\n        type: BOOL\n"),
        [("tasks[0].onResume", 6, AS_LIST)],
        id="onResume-as-a-map",
    ),
    pytest.param(
        flow(inputs="inputs:\n  env:\n    type: STRING\n"),
        [("inputs", 3, AS_LIST)],
        id="inputs-as-a-map",
    ),
    pytest.param(
        flow(PAUSE + "    pauseDuration: 5m\n"),
        [("tasks[0].pauseDuration", 6, "'5m' is not an ISO-8601 duration such as PT5M or P1DT2H")],
        id="pauseDuration-5m",
    ),
    pytest.param(
        flow(PAUSE + "    pauseDuration: 300\n"),
        [
            (
                "tasks[0].pauseDuration",
                6,
                "must be an ISO-8601 duration such as PT5M, or an expression; "
                "got 300 (for 300 seconds write PT300S)",
            )
        ],
        id="pauseDuration-a-number",
    ),
    pytest.param(
        flow(PAUSE + "    pauseDuration: PT5M\n    behavior: resume\n"),
        [
            (
                "tasks[0].behavior",
                7,
                "must be one of RESUME, WARN, CANCEL, FAIL, or an expression; "
                "got 'resume' (did you mean 'RESUME'? the case matters)",
            )
        ],
        id="behavior-lowercase",
    ),
    pytest.param(
        "namespace: company.team\ntasks:\n" + LOG,
        [("id", 1, "missing required property 'id'")],
        id="missing-id",
    ),
    pytest.param(
        "id: approve\nnamespace: company.team\n",
        [("tasks", 1, "missing required property 'tasks'")],
        id="missing-tasks",
    ),
    pytest.param(
        "id: approve\nnamespace: company.team\ntasks: []\n",
        [("tasks", 3, "must not be empty")],
        id="empty-tasks",
    ),
    pytest.param(
        "id: approve\nnamespace: company.team\ntasks:\n  hello:\n    type: Log\n",
        [
            (
                "tasks",
                3,
                "must be a list of tasks (items written '- id: …'), got a mapping (key: value)",
            )
        ],
        id="tasks-as-a-map",
    ),
    pytest.param(
        flow(extra="triggers:\n  - id: daily\n    type: Schedule\n    cron: every day\n"),
        [
            (
                "triggers[0].cron",
                10,
                "'every day' is not a cron expression: it has 2 fields, expected 5 (minute hour "
                "day-of-month month day-of-week), such as '0 9 * * *' (every day at 9:00) or a "
                "nickname such as @daily",
            )
        ],
        id="cron-every-day",
    ),
    pytest.param(
        flow(inputs="inputs:\n  - id: env\n    type: SELECT\n"),
        [
            (
                "inputs[0]",
                4,
                "a SELECT input needs `values` (its choices) or an `expression`",
            )
        ],
        id="select-without-values",
    ),
    pytest.param(
        flow(inputs="inputs:\n  - id: env\n    type: string\n"),
        [("inputs[0].type", 5, "unknown type 'string' (did you mean 'STRING'?)")],
        id="input-type-lowercase",
    ),
    pytest.param(
        flow(inputs="inputs:\n  - id: my env\n    type: STRING\n"),
        [("inputs[0].id", 4, f"'my env' is not a valid input id: {ID_RULE}")],
        id="input-id-with-a-space",
    ),
    pytest.param(
        "id: approve\nnamespace: Company\ntasks:\n" + LOG,
        [
            (
                "namespace",
                2,
                "'Company' is not a valid namespace: use lowercase letters, digits, '.', '_' "
                "and '-', starting with a letter or a digit",
            )
        ],
        id="namespace-uppercase",
    ),
    pytest.param(
        flow("  - hello\n"),
        [("tasks[0]", 4, "must be a task: a mapping with at least 'id' and 'type', got 'hello'")],
        id="task-written-as-a-name",
    ),
    pytest.param(
        flow(
            "  - id: check\n    type: If\n    condition: '{{ true }}'\n    then:\n"
            "      id: a\n      type: Log\n      message: hi\n"
        ),
        [
            (
                "tasks[0].then",
                7,
                "must be a list of tasks (items written '- id: …'), got a mapping (key: value)",
            )
        ],
        id="then-as-a-single-task",
    ),
    pytest.param(
        flow(inputs="inputs:\n  - id: n\n    type: STRING\n    required: maybe\n"),
        [("inputs[0].required", 6, "expected true or false, got 'maybe'")],
        id="required-maybe",
    ),
    pytest.param(
        flow("  - id: hello\n    type: Log\n    message: {{ inputs.x }}\n"),
        [
            (
                "tasks[0].message",
                6,
                "an expression must be quoted: write '{{ inputs.x }}' or \"{{ inputs.x }}\"",
            ),
            ("tasks[0].message", 6, "'inputs.x' is not an input of this flow"),
        ],
        id="unquoted-expression",
    ),
    pytest.param(
        flow(extra="concurrency:\n  limit: 0\n"),
        [("concurrency.limit", 8, "must be at least 1, got 0")],
        id="concurrency-limit-zero",
    ),
    pytest.param(
        flow(extra="revision: 1" + "0" * 5000 + "\n"),
        [("revision", 7, "the number is too large")],
        id="huge-number",
    ),
    pytest.param(
        flow(LOG.replace("hi\n", "hi\n    disabled: nope\n")),
        [("tasks[0].disabled", 7, "expected true or false, got 'nope'")],
        id="disabled-not-a-boolean",
    ),
    pytest.param(
        flow(extra="pluginDefaults:\n  - type: Log\n    values:\n      - a\n"),
        [("pluginDefaults[0].values", 9, "expected a mapping (key: value), got a list")],
        id="plugin-default-values-as-a-list",
    ),
    pytest.param(
        flow(extra="variables:\n  - a\n"),
        [("variables", 7, "expected a mapping (key: value), got a list")],
        id="variables-as-a-list",
    ),
    pytest.param(
        flow(extra="description:\n  a: b\n"),
        [("description", 7, "expected text, got a mapping (key: value)")],
        id="description-as-a-map",
    ),
    pytest.param(
        flow(extra="triggers:\n  - id: wh\n    type: Webhook\n    key: " + "k" * 300 + "\n"),
        [("triggers[0].key", 10, "must be at most 256 characters long (it has 300)")],
        id="webhook-key-too-long",
    ),
    pytest.param(
        "id: a\x00\n",
        [("", 1, "invalid YAML: the character U+0000 is not allowed in YAML text")],
        id="nul-character",
    ),
    pytest.param(
        "id: a\nnamespace: b\n---\nid: c\n",
        [
            (
                "",
                3,
                "invalid YAML: a flow file must hold one YAML document, "
                "but '---' starts another one here",
            )
        ],
        id="two-documents",
    ),
    pytest.param(
        "id: a\nnamespace: b\ntasks:\n  - <<: *base\n",
        [("", 4, "invalid YAML: the alias '*base' refers to no anchor '&base' above it")],
        id="undefined-alias",
    ),
    pytest.param(
        flow("  - id: hello\n    type: Log\n    message: {{ inputs.x }} done\n"),
        [
            (
                "",
                6,
                "invalid YAML: unexpected text after a value: a value that starts with a quote "
                "or '{' ends where it closes; put the whole value in quotes "
                "(\"{{ a }} b\", or 'it''s' for a quote)",
            )
        ],
        id="unquoted-expression-followed-by-text",
    ),
    pytest.param(
        flow(extra="labels: {team: hr\n"),
        [
            (
                "",
                8,
                "invalid YAML: a mapping written with '{' is not closed with '}' before this "
                "point (or one of its values contains ': ' and must be quoted)",
            )
        ],
        id="unclosed-brace",
    ),
    pytest.param(
        flow(LOG.replace("hi", "@here, approve?")),
        [("", 6, "invalid YAML: a value cannot start with '@'; put it in quotes")],
        id="value-starting-with-at",
    ),
    pytest.param(
        flow(LOG.replace("hi", '"C:\\qa"')),
        [
            (
                "",
                6,
                "invalid YAML: '\\q' is not an escape a double-quoted value may use; "
                "write '\\\\q', or use single quotes",
            )
        ],
        id="bad-escape-in-double-quotes",
    ),
    pytest.param(
        "~\n",
        [("", 1, "a flow must be a YAML mapping with id, namespace and tasks")],
        id="null-document",
    ),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_mistakes_are_explained_in_plain_words(
    source: str, expected: list[tuple[str, int, str]]
) -> None:
    assert problems(source) == expected


def test_no_message_uses_pydantic_wording() -> None:
    for case in CASES:
        for _, line, message in problems(str(case.values[0])):
            assert line is not None
            assert "Input should" not in message
            assert "after validation" not in message
