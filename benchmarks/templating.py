"""Render typical Kestra expressions with Perch and with Jinja2, and compare.

Run with ``python benchmarks/templating.py``. Both sides are compiled before timing. Jinja2 runs
as a plain ``Environment`` (no sandbox, no StrictUndefined), which makes it the faster, more
demanding baseline: Perch pays for strict lookups and its sandbox, Jinja2 here does not.
Each template is timed for about half a second on each side; the figure is the best of
several rounds. Jinja2's ``Template.render`` builds a fresh context on every call, which is most
of its cost on short templates; Perch passes the variables mapping straight to compiled code.
A second table gives the cold compile time of each template (no cache) on both sides.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import jinja2

from perch.templating import Environment
from perch.templating.parser import parse

VARIABLES: dict[str, Any] = {
    "flow": {"id": "vacation-approval", "namespace": "company.hr"},
    "execution": {"id": "5wGpZb9Q3nTn6Q5Yk3Hk1c"},
    "inputs": {
        "employee": None,
        "start_date": "2026-07-01",
        "end_date": "2026-07-15",
        "request": {"name": "Ann Example", "days": 10},
        "lines": [{"name": f"item-{i}", "qty": i} for i in range(10)],
    },
    "labels": {"system": {"username": "ann@example.com", "correlationId": "abc"}},
    "outputs": {
        "await_decision": {
            "onResume": {"approved": True, "reason": "Enjoy"},
            "resumed": {"by": "boss@example.com", "on": "2026-06-01T10:00:00", "to": "SUCCESS"},
        }
    },
}

FILTERS: dict[str, Callable[..., Any]] = {
    "upper": lambda value: str(value).upper(),
    "trim": lambda value: str(value).strip(),
    "replace": lambda value, mapping: _replace(str(value), mapping),
}


def _replace(value: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        value = value.replace(old, new)
    return value


# name: (Perch template, Jinja2 translation)
CASES: dict[str, tuple[str, str]] = {
    "attribute chain": (
        "{{ outputs.await_decision.onResume.reason }}",
        "{{ outputs.await_decision.onResume.reason }}",
    ),
    "null-coalescing": (
        "Review request from {{ inputs.employee ?? labels.system.username }}",
        "Review request from {{ inputs.employee if inputs.employee is not none "
        "else labels.system.username }}",
    ),
    "ternary": (
        "{{ outputs.await_decision.onResume.approved ? 'APPROVED' : 'REJECTED' }}",
        "{{ 'APPROVED' if outputs.await_decision.onResume.approved else 'REJECTED' }}",
    ),
    "filter chain": (
        "{{ inputs.request.name | trim | replace({' ': '-'}) | upper }}",
        "{{ inputs.request.name | trim | replace(' ', '-') | upper }}",
    ),
    "url": (
        "http://localhost:28080/ui/executions/{{flow.namespace}}/{{flow.id}}/{{execution.id}}",
        "http://localhost:28080/ui/executions/{{flow.namespace}}/{{flow.id}}/{{execution.id}}",
    ),
    "if/for block": (
        "{% for item in inputs.lines %}{% if item.qty is even %}{{ item.name }}={{ item.qty }}"
        "{% if not loop.last %}, {% endif %}{% endif %}{% endfor %}",
        "{% for item in inputs.lines %}{% if item.qty is even %}{{ item.name }}={{ item.qty }}"
        "{% if not loop.last %}, {% endif %}{% endif %}{% endfor %}",
    ),
    "slack payload": (
        '{"channel": "#hr", "text": "Review request from '
        "{{ inputs.employee ?? labels.system.username }}\\n*Dates*: {{ inputs.start_date }} → "
        "{{ inputs.end_date }}\\nDecision: {{ outputs.await_decision.onResume.approved ? "
        "'APPROVED' : 'REJECTED' }} by {{ outputs.await_decision.resumed.by }}\", "
        '"link": "http://localhost:28080/ui/executions/{{flow.namespace}}/{{flow.id}}/'
        '{{execution.id}}"}',
        '{"channel": "#hr", "text": "Review request from '
        "{{ inputs.employee if inputs.employee is not none else labels.system.username }}"
        "\\n*Dates*: {{ inputs.start_date }} → {{ inputs.end_date }}\\nDecision: "
        "{{ 'APPROVED' if outputs.await_decision.onResume.approved else 'REJECTED' }} by "
        '{{ outputs.await_decision.resumed.by }}", '
        '"link": "http://localhost:28080/ui/executions/{{flow.namespace}}/{{flow.id}}/'
        '{{execution.id}}"}',
    ),
}


def _rate(fn: Callable[[], Any], seconds: float = 0.5, rounds: int = 5) -> float:
    """Best renders per second over a few rounds."""
    count = 1
    while True:
        start = time.perf_counter()
        for _ in range(count):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        count *= 2
    per_round = max(1, int(count * seconds / rounds / elapsed))
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        best = min(best, (time.perf_counter() - start) / per_round)
    return 1.0 / best


def main() -> None:
    """Print renders/s per template and the Perch/Jinja2 time ratio."""
    perch = Environment(filters=FILTERS)
    jinja = jinja2.Environment()
    jinja.filters["replace"] = lambda value, old, new: str(value).replace(old, new)
    ratios = []
    print(f"{'template':<18}{'perch/s':>12}{'jinja2/s':>12}{'time ratio':>12}")
    for name, (pebble_source, jinja_source) in CASES.items():
        ours = perch.compile(pebble_source)
        theirs = jinja.from_string(jinja_source)
        expected = theirs.render(VARIABLES)
        got = ours.render(VARIABLES)
        if got != expected:
            raise SystemExit(f"{name}: outputs differ\n perch: {got!r}\n jinja: {expected!r}")
        perch_rate = _rate(partial(ours.render, VARIABLES))
        jinja_rate = _rate(partial(theirs.render, VARIABLES))
        ratio = jinja_rate / perch_rate
        ratios.append(ratio)
        print(f"{name:<18}{perch_rate:>12,.0f}{jinja_rate:>12,.0f}{ratio:>11.2f}x")
    geometric = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"{'geometric mean':<42}{geometric:>11.2f}x  (Perch time / Jinja2 time; <1 is faster)")
    print()
    print("cold compile (parse + code generation + compile(), no cache), microseconds:")
    for name, (pebble_source, jinja_source) in CASES.items():
        ours_us = 1e6 / _rate(partial(_compile_uncached, perch, pebble_source), 0.2)
        theirs_us = 1e6 / _rate(partial(jinja.from_string, jinja_source), 0.2)
        print(f"  {name:<18}perch {ours_us:>8.0f}   jinja2 {theirs_us:>8.0f}")


def _compile_uncached(env: Environment, source: str) -> object:
    parse.cache_clear()
    return env._compile(source)


if __name__ == "__main__":
    main()
