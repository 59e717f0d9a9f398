"""Trigger models: Schedule, Flow (preconditions and the older conditions) and Webhook."""

from __future__ import annotations

from textwrap import dedent

from perch.flows import parse_flow, validate_flow
from perch.flows.triggers import FlowTrigger, Schedule, Webhook

HEAD = "id: a\nnamespace: b\ntasks: [{id: t, type: Log, message: m}]\ntriggers:\n"


def test_all_trigger_types() -> None:
    triggers = """\
      - id: nightly
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "0 2 * * *"
        timezone: Europe/Paris
        recoverMissedSchedules: NONE
        stopAfter: [FAILED]
        inputs: {day: "{{ trigger.date }}"}
      - id: upstream
        type: io.kestra.core.models.triggers.types.Flow
        states: [SUCCESS, PAUSED]
        conditions:
          - type: io.kestra.plugin.core.condition.ExecutionStatus
            in: [SUCCESS]
          - type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: demo
            flowId: pause_demo
      - id: both
        type: Flow
        preconditions:
          id: both_done
          timeWindow: {type: SLIDING_WINDOW, window: PT1H}
          flows:
            - {namespace: demo, flowId: a, states: [SUCCESS]}
            - {namespace: demo, flowId: b, labels: {team: ops}}
          where:
            - id: filter
              operand: OR
              filters:
                - {field: NAMESPACE, type: STARTS_WITH, value: demo}
                - {field: EXPRESSION, type: IS_TRUE, value: "{{ labels.some == 'x' }}"}
      - id: hook
        type: Webhook
        key: 4wjtkzwVGBM9yKnjm3yv8r
        wait: true
        returnOutputs: true
    """
    flow = parse_flow(HEAD + dedent(triggers))
    nightly, upstream, both, hook = flow.triggers or []
    assert isinstance(nightly, Schedule)
    assert nightly.timezone == "Europe/Paris"
    assert isinstance(upstream, FlowTrigger)
    assert upstream.conditions is not None
    assert upstream.conditions[0].type.endswith("ExecutionStatus")
    assert isinstance(both, FlowTrigger)
    assert both.preconditions is not None
    assert both.preconditions.where is not None
    assert both.preconditions.where[0].filters[1].type == "IS_TRUE"
    assert isinstance(hook, Webhook)
    assert hook.wait is True


def test_trigger_problems_have_paths_and_lines() -> None:
    triggers = """\
      - id: s
        type: Schedule
        cron: "0 2 * * *"
        tz: UTC
      - id: f
        type: Flow
        states: [DONE]
        preconditions:
          flows: [{flowId: a}]
      - id: w
        type: Webhook
    """
    problems = validate_flow(HEAD + dedent(triggers))
    assert [(p.path, p.line, p.message) for p in problems] == [
        ("triggers[0].tz", 8, "unknown property 'tz'"),
        (
            "triggers[1].states[0]",
            11,
            "must be one of CREATED, SUBMITTED, RUNNING, PAUSED, RESTARTED, KILLING, SUCCESS, "
            "WARNING, FAILED, KILLED, CANCELLED, QUEUED, RETRYING, RETRIED, SKIPPED, BREAKPOINT, "
            "RESUBMITTED; got 'DONE'",
        ),
        ("triggers[1].preconditions.id", 12, "missing required property 'id'"),
        (
            "triggers[1].preconditions.flows[0].namespace",
            13,
            "missing required property 'namespace'",
        ),
        ("triggers[2].key", 14, "missing required property 'key'"),
    ]
