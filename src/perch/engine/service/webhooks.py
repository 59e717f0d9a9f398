"""Webhook triggers: a call to ``/executions/webhook/{namespace}/{flowId}/{key}`` starts an
execution of the flow whose Webhook trigger has that key.

The call carries no credentials: the key is the secret. It is compared in constant time with
every enabled Webhook trigger's key, so the time of a refusal says nothing about how much of a
key was right. The request's body (JSON when it parses as JSON, else text), headers and query
parameters become ``trigger.body``, ``trigger.headers`` and ``trigger.parameters``: data that
templates read, never templates rendered themselves.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from perch.engine.context import context_for, reading
from perch.engine.model import Execution, Label
from perch.engine.ports import Store
from perch.engine.principal import Principal, PrincipalKind
from perch.engine.service.executions import create_execution
from perch.engine.written import unit
from perch.errors import FlowNotFound, IllegalState, NotFound, PerchError
from perch.flows import Flow
from perch.flows.conditiontypes import condition_name
from perch.flows.triggers import Webhook
from perch.inputs import strictjson
from perch.templating import default_environment
from perch.templating.values import truthy

WEBHOOK_CALLER = Principal("webhook", PrincipalKind.SYSTEM)
"""Who an execution started by a webhook call is created by."""


class WebhookNotFound(NotFound):
    """No enabled Webhook trigger of the flow has this key."""


@dataclass(frozen=True)
class WebhookCall:
    """What arrived: the method, the raw body, its content type, headers and parameters."""

    method: str
    body: bytes
    headers: Mapping[str, Sequence[str]]
    parameters: Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class WebhookAnswer:
    """The execution started (None when the trigger's conditions refused the call) and what
    the trigger asks of the answer."""

    execution: Execution | None
    wait: bool = False
    return_outputs: bool = False


def body_value(body: bytes) -> Any:
    """The body as data: a JSON object or array when it is one, else its text."""
    if not body:
        return None
    try:
        value = strictjson.loads(body)
    except (strictjson.InvalidJson, ValueError, RecursionError):
        return body.decode("utf-8", "replace")
    return value if isinstance(value, (dict, list)) else body.decode("utf-8", "replace")


def fire_webhook(  # noqa: PLR0917 - the path's parts, then the call
    store: Store, tenant: str, namespace: str, flow_id: str, key: str, call: WebhookCall
) -> WebhookAnswer:
    """Start an execution of the flow for ``call``.

    :class:`FlowNotFound` when there is no such flow, :class:`WebhookNotFound` when no enabled
    Webhook trigger has ``key``, :class:`IllegalState` when the flow is disabled.
    """
    ctx = context_for(store)
    with reading(store) as tx:
        stored = tx.get_flow(tenant, namespace, flow_id)
        if stored is None or stored.deleted:
            raise FlowNotFound("Flow not found")
        flow = ctx.flow(tx, tenant, namespace, flow_id, stored.revision)
        disabled = {
            row.trigger_id for row in tx.list_triggers(tenant, namespace, flow_id) if row.disabled
        }
    if flow.disabled:
        raise IllegalState("Cannot execute a disabled flow")
    hooks = ctx.scoped_hooks(tenant, namespace) if ctx.scoped_hooks is not None else {}
    trigger = _matching(flow, key, disabled, hooks)
    if trigger is None:
        raise WebhookNotFound("Webhook not found")
    variables = {
        "body": body_value(call.body),
        "headers": {name: list(values) for name, values in call.headers.items()},
        "parameters": {name: list(values) for name, values in call.parameters.items()},
    }
    environment = default_environment()
    scope = {"trigger": variables, "flow": {"id": flow.id, "namespace": flow.namespace}}
    for condition in trigger.conditions or []:
        raw = condition.model_dump(by_alias=True, exclude_none=True)
        if condition_name(condition.type) != "Expression":
            raise IllegalState(
                f"Webhook trigger '{trigger.id}': condition {condition.type} does not apply "
                "to a webhook call"
            )
        if not truthy(environment.render_value(str(raw.get("expression", "")), scope, hooks=hooks)):
            return WebhookAnswer(None)
    inputs = environment.render_value(trigger.inputs or {}, scope, hooks=hooks)
    labels = [Label(k, str(v)) for k, v in (trigger.labels or {}).items()]
    execution = create_execution(
        store,
        tenant,
        namespace,
        flow_id,
        dict(inputs),
        WEBHOOK_CALLER,
        labels,
        trigger={"id": trigger.id, "type": trigger.canonical_type, "variables": variables},
    )
    _remember(store, (tenant, namespace, flow_id, trigger.id), execution)
    wait = _flag(trigger.wait, scope, hooks)
    return WebhookAnswer(execution, wait, wait and _flag(trigger.returnOutputs, scope, hooks))


def _matching(flow: Flow, key: str, disabled: set[str], hooks: Mapping[str, Any]) -> Webhook | None:
    """The enabled Webhook trigger whose key is ``key``; every key is compared, whole."""
    found: Webhook | None = None
    wanted = key.encode()
    for trigger in flow.triggers or []:
        if not isinstance(trigger, Webhook) or trigger.disabled or trigger.id in disabled:
            continue
        try:
            rendered = default_environment().render(
                trigger.key, {"flow": {"id": flow.id, "namespace": flow.namespace}}, hooks=hooks
            )
        except PerchError:
            continue  # a key that cannot be rendered matches nothing
        if hmac.compare_digest(str(rendered).strip().encode(), wanted) and found is None:
            found = trigger
    return found


def _flag(value: Any, scope: Mapping[str, Any], hooks: Mapping[str, Any]) -> bool:
    if value is None:
        return False
    return truthy(default_environment().render_value(value, scope, hooks=hooks))


def _remember(store: Store, key: tuple[str, str, str, str], execution: Execution) -> None:
    """The trigger's last fire, on its row (best effort: the execution exists already)."""
    try:
        with unit(store) as (tx, _):
            row = tx.get_trigger(key, for_update=True)
            if row is not None:
                started = execution.state.start_date
                tx.update_trigger(replace(row, last_date=started, last_execution_id=execution.id))
    except PerchError:
        pass


__all__ = ["WebhookAnswer", "WebhookCall", "WebhookNotFound", "fire_webhook"]
