"""Script task properties, run the way a worker runs them (no store: no files in or out):
``failFast``, ``interpreter``, ``beforeCommands``, the WARN lines for what is not used here,
and the refusals."""

from __future__ import annotations

from pathlib import Path

from perch.engine.states import StateType
from perch.flows import Task, parse_flow
from perch.tasks import RunContext, TaskOutcome, run_task


def task_of(body: str) -> Task:
    flow = parse_flow(f"id: f\nnamespace: company.team\ntasks:\n  - id: t\n{body}")
    return flow.tasks[0]


def run(body: str) -> TaskOutcome:
    context = RunContext(variables={"flow": {"id": "f"}}, execution_id="e", task_run_id="r")
    return run_task(task_of(body), context)


def infos(outcome: TaskOutcome) -> list[str]:
    return [message for level, message in outcome.logs if level == "INFO"]


def warnings(outcome: TaskOutcome) -> list[str]:
    return [message for level, message in outcome.logs if level == "WARN"]


SHELL = "    type: io.kestra.plugin.scripts.shell.Commands\n"


def test_without_fail_fast_every_command_runs_and_the_last_decides() -> None:
    outcome = run(SHELL + "    failFast: false\n    commands: ['false', 'echo after']")
    assert outcome.state is StateType.SUCCESS
    assert infos(outcome) == ["after"]


def test_before_commands_run_first_in_the_same_shell() -> None:
    outcome = run(SHELL + "    beforeCommands: ['X=from-before']\n    commands: ['echo $X']")
    assert infos(outcome) == ["from-before"]


def test_the_interpreter_is_honoured() -> None:
    code = "import sys; print(sys.version_info.major)"
    outcome = run(SHELL + f"    interpreter: [python, -c]\n    commands: ['{code}']")
    assert outcome.state is StateType.SUCCESS, outcome.error
    assert infos(outcome) == ["3"]


def test_a_shell_script_runs_from_a_file_in_the_working_directory() -> None:
    outcome = run(
        "    type: io.kestra.plugin.scripts.shell.Script\n"
        '    script: |\n      echo "{{ flow.id }}"\n      ls -a\n      pwd\n'
    )
    assert outcome.state is StateType.SUCCESS, outcome.error
    lines = infos(outcome)
    assert lines[0] == "f"
    assert ".perch-script.sh" in lines
    assert not Path(lines[-1]).exists()


def test_a_process_task_runner_warns_about_nothing() -> None:
    outcome = run(
        SHELL + "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n"
        "    commands: [true]"
    )
    assert outcome.state is StateType.SUCCESS
    assert warnings(outcome) == []


def test_what_is_not_used_here_is_named_in_warnings() -> None:
    outcome = run(
        "    type: io.kestra.plugin.scripts.python.Commands\n"
        "    runner: DOCKER\n    docker:\n      image: python:3.12\n"
        "    namespaceFiles:\n      enabled: true\n"
        "    dependencies: [pandas]\n"
        "    commands: ['python -c pass']"
    )
    assert outcome.state is StateType.SUCCESS, outcome.error
    [local, namespace, dependencies] = warnings(outcome)
    assert "local process" in local
    assert "docker" in local
    assert "runner: DOCKER" in local
    assert "namespaceFiles are not supported yet" in namespace
    assert "pandas" in dependencies


def test_an_output_pattern_outside_the_working_directory_is_refused() -> None:
    outcome = run(SHELL + "    outputFiles: ['../*']\n    commands: [true]")
    assert outcome.state is StateType.FAILED
    assert outcome.error is not None
    assert "must be a relative path inside the working directory" in outcome.error


def test_input_files_from_a_json_string() -> None:
    outcome = run(
        SHELL + "    inputFiles: '{\"a/b.txt\": \"hello\"}'\n    commands: ['cat a/b.txt']"
    )
    assert outcome.state is StateType.SUCCESS, outcome.error
    assert infos(outcome) == ["hello"]


def test_an_env_name_with_an_equals_sign_is_refused() -> None:
    outcome = run(SHELL + "    env:\n      'A=B': x\n    commands: [true]")
    assert outcome.state is StateType.FAILED
    assert "not a usable variable name" in (outcome.error or "")


def test_commands_too_long_for_one_argument_are_refused() -> None:
    outcome = run(SHELL + f"    commands: ['echo {'x' * 110_000}']")
    assert outcome.state is StateType.FAILED
    assert "put long code in script or inputFiles" in (outcome.error or "")


def test_a_missing_interpreter_fails_clearly() -> None:
    outcome = run(SHELL + "    interpreter: [/no/such/shell, -c]\n    commands: [true]")
    assert outcome.state is StateType.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith("Could not start /no/such/shell")
