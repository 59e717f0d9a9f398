"""The mixed flows the scale-out tests run, and what each execution must look like at its end.

Every task that does work is an HTTP ``Request`` posting to the :class:`Ledger`; the flowables
around them (Sequential, Parallel, ForEach, Subflow, Pause) run in the executor. The checks
read the execution over the REST API and compare it with the ledger: a task run that ended
SUCCESS posted in its last attempt and never after it; an earlier attempt posted only if the
execution shows that attempt as lost (FAILED); outputs are the answers to the run's own post.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.scaleout.ledger import Post

NAMESPACE = "scale.mixed"
EACH_VALUES = ("x", "y", "z")

_POST = """\
- id: {task_id}
  type: io.kestra.plugin.core.http.Request
  uri: "{{{{ vars.ledger }}}}"
  method: POST
  contentType: application/json
  body: >-
    {{"executionId": "{{{{ execution.id }}}}", "taskRunId": "{{{{ taskrun.id }}}}",
    "taskId": "{{{{ task.id }}}}", "attempt": {{{{ taskrun.attemptsCount }}}}{extra}}}
"""


def _post(task_id: str, indent: int, extra: str = "") -> str:
    return textwrap.indent(_POST.format(task_id=task_id, extra=extra), " " * indent)


def _flow(flow_id: str, ledger_url: str, body: str, head: str = "") -> str:
    return (
        f"id: {flow_id}\nnamespace: {NAMESPACE}\n{head}"
        f'variables:\n  ledger: "{ledger_url}"\ntasks:\n{body}'
    )


def flows(ledger_url: str) -> list[str]:
    """The flows' sources (``leaf`` first: ``parent`` calls it)."""
    chain = (
        _post("first", 2)
        + "  - id: steps\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n"
        + _post("second", 6)
        + "      - id: mark\n        type: io.kestra.plugin.core.debug.Return\n"
        + '        format: "{{ outputs.second.body.taskRunId }}"\n'
        + _post("third", 2)
    )
    fan = "  - id: fan\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n" + "".join(
        _post(f"branch{i}", 6) for i in range(3)
    )
    values = ", ".join(f'"{v}"' for v in EACH_VALUES)
    each = (
        f"  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{values}]\n"
        "    tasks:\n" + _post("item", 6, ', "value": "{{ taskrun.value }}"')
    )
    leaf_outputs = (
        'outputs:\n  - id: got\n    type: STRING\n    value: "{{ outputs.hello.body.taskRunId }}"\n'
    )
    parent = (
        "  - id: child\n    type: io.kestra.plugin.core.flow.Subflow\n"
        f"    namespace: {NAMESPACE}\n    flowId: leaf\n    wait: true\n"
        + _post("after", 2, ', "child": "{{ outputs.child.outputs.got }}"')
    )
    gate = (
        _post("before", 2)
        + "  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n"
        + "      - id: decision\n        type: STRING\n"
        + _post("after", 2, ', "decision": "{{ outputs.wait.onResume.decision }}"')
        + "  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n"
        + '    format: "{{ outputs.wait.onResume.decision }}"\n'
    )
    timed = (
        _post("before", 2)
        + "  - id: nap\n    type: io.kestra.plugin.core.flow.Pause\n"
        + '    pauseDuration: "{{ inputs.nap }}"\n'
        + _post("after", 2)
    )
    nap_input = "inputs:\n  - id: nap\n    type: STRING\n    defaults: PT1S\n"
    return [
        _flow("leaf", ledger_url, _post("hello", 2)) + leaf_outputs,
        _flow("chain", ledger_url, chain),
        _flow("fan", ledger_url, fan),
        _flow("each", ledger_url, each),
        _flow("parent", ledger_url, parent),
        _flow("gate", ledger_url, gate),
        _flow("timed", ledger_url, timed, head=nap_input),
    ]


STARTED = ("chain", "fan", "each", "parent", "gate", "timed")
"""The flows a test starts (``leaf`` runs as their subflow)."""

POSTING = {
    "leaf": ("hello",),
    "chain": ("first", "second", "third"),
    "fan": ("branch0", "branch1", "branch2"),
    "each": ("item",),
    "parent": ("after",),
    "gate": ("before", "after"),
    "timed": ("before", "after"),
}
"""The tasks of each flow that post to the ledger."""

TASK_RUNS = {
    "leaf": Counter(hello=1),
    "chain": Counter(first=1, steps=1, second=1, mark=1, third=1),
    "fan": Counter(fan=1, branch0=1, branch1=1, branch2=1),
    "each": Counter(each=1, item=len(EACH_VALUES)),
    "parent": Counter(child=1, after=1),
    "gate": Counter(before=1, wait=1, after=1, echo=1),
    "timed": Counter(before=1, nap=1, after=1),
}
"""The task runs of each flow's execution once it succeeded."""

PAUSED_RUNS = {"gate": Counter(before=1, wait=1)}
"""The task runs of a gate execution that is never resumed."""


def _runs(execution: dict[str, Any]) -> list[dict[str, Any]]:
    return list(execution.get("taskRunList") or [])


def _history(state: dict[str, Any]) -> list[str]:
    return [h["state"] for h in state.get("histories") or []]


def _expected_run_state(run: dict[str, Any], paused: bool) -> str:
    return "PAUSED" if paused and run["taskId"] == "wait" else "SUCCESS"


def check_posts(run: dict[str, Any], posts: list[Post]) -> list[str]:
    """Problems with one posting task run's side effects."""
    where = f"{run['executionId']} {run['taskId']} {run['id']}"
    attempts = run.get("attempts") or []
    final = run["state"]["current"]
    made = [p.attempt for p in posts]
    problems: list[str] = []
    if len(made) != len(set(made)):
        problems.append(f"{where}: an attempt posted twice: {sorted(made)}")
    if final != "SUCCESS":
        states = [a["state"]["current"] for a in attempts]
        return [*problems, f"{where}: ended {final}, attempts {states}, posted in {made}"]
    last = len(attempts) - 1
    if last not in made:
        problems.append(f"{where}: SUCCESS in attempt {last}, which never posted ({made})")
    for attempt in made:
        if attempt > last:
            problems.append(f"{where}: posted in attempt {attempt} after attempt {last} succeeded")
        elif attempt < last and attempts[attempt]["state"]["current"] != "FAILED":
            state = attempts[attempt]["state"]["current"]
            problems.append(f"{where}: attempt {attempt} posted but is {state}, not lost")
    body = (run.get("outputs") or {}).get("body") or {}
    if body.get("taskRunId") != run["id"] or body.get("attempt") != last:
        problems.append(f"{where}: outputs are not its own last post: {body}")
    return problems


def check_execution(
    execution: dict[str, Any],
    ledger: dict[str, list[Post]],
    *,
    paused: bool = False,
    decision: str | None = None,
) -> list[str]:
    """Problems with one execution at its end: SUCCESS (or PAUSED when ``paused``), its task
    runs, their side effects, and the decision it was resumed with."""
    flow_id = execution["flowId"]
    where = f"{flow_id} {execution['id']}"
    state = execution["state"]["current"]
    expected_state = "PAUSED" if paused else "SUCCESS"
    runs = _runs(execution)
    problems: list[str] = []
    if state != expected_state:
        summary = [(r["taskId"], r["state"]["current"]) for r in runs]
        problems = [f"{where}: {state}, not {expected_state}: {summary}"]
        for run in runs:
            if run["taskId"] in POSTING[flow_id] and run["state"]["current"] != "SUCCESS":
                problems += check_posts(run, ledger.get(run["id"], []))
        return problems
    counts = Counter(r["taskId"] for r in runs)
    expected_runs = PAUSED_RUNS[flow_id] if paused else TASK_RUNS[flow_id]
    if counts != expected_runs:
        problems.append(f"{where}: task runs {dict(counts)}, not {dict(expected_runs)}")
    for run in runs:
        if run["taskId"] in POSTING[flow_id]:
            problems += check_posts(run, ledger.get(run["id"], []))
        elif run["state"]["current"] != _expected_run_state(run, paused):
            problems.append(f"{where}: {run['taskId']} is {run['state']['current']}")
    by_task = {r["taskId"]: r for r in runs}
    if paused:
        return problems
    outputs = {r["taskId"]: r.get("outputs") or {} for r in runs}
    if flow_id == "chain" and outputs["mark"].get("value") != by_task["second"]["id"]:
        problems.append(f"{where}: mark says {outputs['mark']}, not second's run id")
    if flow_id == "each":
        values = sorted(r.get("value") for r in runs if r["taskId"] == "item")
        items = [r for r in runs if r["taskId"] == "item"]
        posted = sorted(p.fields.get("value") for r in items for p in ledger.get(r["id"], [])[-1:])
        if values != list(EACH_VALUES) or posted != list(EACH_VALUES):
            problems.append(f"{where}: iterations {values}, posted {posted}")
    if flow_id == "gate":
        problems += _check_decision(where, by_task, outputs, ledger, decision)
    if flow_id == "timed":
        problems += _check_timer(where, execution, by_task["nap"])
    return problems


def _check_decision(
    where: str,
    by_task: dict[str, dict[str, Any]],
    outputs: dict[str, dict[str, Any]],
    ledger: dict[str, list[Post]],
    decision: str | None,
) -> list[str]:
    problems: list[str] = []
    got = (outputs["wait"].get("onResume") or {}).get("decision")
    if decision is not None and got != decision:
        problems.append(f"{where}: resumed with {decision!r} (204) but shows {got!r}")
    if outputs["echo"].get("value") != got:
        problems.append(f"{where}: echo says {outputs['echo']}, decision {got!r}")
    sent = [p.fields.get("decision") for p in ledger.get(by_task["after"]["id"], [])]
    if not sent or sent[-1] != got:
        problems.append(f"{where}: after posted {sent}, decision {got!r}")
    if _history(by_task["wait"]["state"]).count("PAUSED") != 1:
        problems.append(f"{where}: wait history {_history(by_task['wait']['state'])}")
    return problems


def _check_timer(where: str, execution: dict[str, Any], nap: dict[str, Any]) -> list[str]:
    """The pause duration's expiry was applied once: one PAUSED, one SUCCESS, resumed to
    SUCCESS by no one."""
    problems: list[str] = []
    history = _history(nap["state"])
    if history.count("PAUSED") != 1 or history.count("SUCCESS") != 1 or history[-1] != "SUCCESS":
        problems.append(f"{where}: nap history {history}")
    paused_times = _history(execution["state"]).count("PAUSED")
    if paused_times != 1:
        history = _history(execution["state"])
        problems.append(f"{where}: execution paused {paused_times} times: {history}")
    resumed = (nap.get("outputs") or {}).get("resumed") or {}
    if resumed.get("to") != "SUCCESS" or resumed.get("by") is not None:
        problems.append(f"{where}: nap resumed {resumed}")
    return problems


def stray_posts(posts: Iterable[Post], executions: dict[str, dict[str, Any]]) -> list[str]:
    """Posts naming an execution or a task run the database does not have."""
    runs = {r["id"] for e in executions.values() for r in _runs(e)}
    return [
        f"stray post {p}"
        for p in posts
        if p.execution_id not in executions or p.task_run_id not in runs
    ]


def check_subflows(
    executions: dict[str, dict[str, Any]], ledger: dict[str, list[Post]]
) -> list[str]:
    """Each parent got the output of its own leaf: the leaves' ``hello`` runs and the values
    the parents posted after their subflow are the same, one parent per leaf."""
    leaves = [
        r["id"]
        for e in executions.values()
        if e["flowId"] == "leaf"
        for r in _runs(e)
        if r["taskId"] == "hello"
    ]
    told = [
        posts[-1].fields.get("child")
        for e in executions.values()
        if e["flowId"] == "parent" and e["state"]["current"] == "SUCCESS"
        for r in _runs(e)
        if r["taskId"] == "after" and (posts := ledger.get(r["id"]))
    ]
    if sorted(leaves) != sorted(told):
        return [f"subflow outputs: leaves ran {len(leaves)}, parents were told {len(told)}"]
    return []
