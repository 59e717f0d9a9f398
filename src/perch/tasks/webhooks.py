"""Slack and Microsoft Teams incoming webhooks: POST a JSON message to the webhook's ``url``.

``payload`` is rendered, then parsed: a payload that is not JSON (a quote in a rendered value
is the usual cause) fails the task with the parser's message and its line and column, and
nothing is sent. Slack's ``messageText`` is sent as it is when it is a JSON object, else as
``{"text": ...}`` with Markdown bold, italics and links turned into Slack's mrkdwn. The
payload is rendered once: values people typed (inputs) are never rendered as templates.
Both tasks have no outputs, as in Kestra.
"""

from __future__ import annotations

import json
import re
from typing import Any

from perch.engine.states import StateType
from perch.errors import HttpTaskError
from perch.flows.tasks.notifications import (
    RequestOptions,
    SlackIncomingWebhook,
    TeamsIncomingWebhook,
)
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.httpclient import Cancelled, Outbound, send
from perch.tasks.httpoptions import webhook_settings

ERROR_BODY_CHARS = 200
SHOWN_LINE_CHARS = 80


class PayloadError(HttpTaskError):
    """The payload is not valid JSON."""


def parse_payload(text: str, what: str = "payload") -> Any:
    """``text`` parsed as JSON; a :class:`PayloadError` names the JSON error, its line and
    column, and shows the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if text.splitlines() else ""
        if len(line) > SHOWN_LINE_CHARS:
            start = max(0, exc.colno - SHOWN_LINE_CHARS // 2)
            line = line[start : start + SHOWN_LINE_CHARS]
        raise PayloadError(
            f"The rendered {what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno} (near: {line.strip()!r}); nothing was sent"
        ) from exc
    except RecursionError as exc:
        raise PayloadError(f"The rendered {what} is nested too deeply; nothing was sent") from exc


def slack_mrkdwn(text: str) -> str:
    """Markdown's ``**bold**``, ``__italics__`` and ``[label](url)`` in Slack's mrkdwn."""
    text = re.sub(r"\*\*(.*?)\*\*", r"*\1*", text)
    text = re.sub(r"__(.*?)__", r"_\1_", text)
    return re.sub(r"\[(.*?)\]\((.*?)\)", r"<\2|\1>", text)


def post_json(
    context: RunContext, url: str, message: Any, options: RequestOptions | None, service: str
) -> TaskOutcome:
    """POST ``message`` as JSON to ``url``: SUCCESS with no outputs, or FAILED naming the
    response code and the start of the body."""
    settings = webhook_settings(context, options)
    headers = [(name, value) for name, value in settings.headers if name.lower() != "content-type"]
    headers.append(("Content-Type", "application/json"))
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    outbound = Outbound(
        method="POST",
        url=url.strip(),
        headers=headers,
        content=body,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_bytes=settings.max_bytes,
    )
    try:
        reply = send(outbound, context.cancelled)
    except Cancelled as exc:
        return TaskOutcome(StateType.KILLED, error=str(exc))
    if reply.status >= 400:
        snippet = " ".join(reply.content.decode("utf-8", errors="replace").split())
        if len(snippet) > ERROR_BODY_CHARS:
            snippet = snippet[:ERROR_BODY_CHARS] + "…"
        return TaskOutcome(
            StateType.FAILED,
            error=f"The {service} webhook answered {reply.status} {reply.reason}: "
            f"{snippet or '(empty body)'}",
        )
    return TaskOutcome(StateType.SUCCESS)


def slack_message(context: RunContext, task: SlackIncomingWebhook) -> Any:
    """What the Slack task sends: the parsed ``payload``, else ``messageText``."""
    if task.payload is not None:
        return parse_payload(context.render_text(task.payload))
    if task.messageText is not None:
        text = context.render_text(task.messageText)
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            return parsed
        return {"text": slack_mrkdwn(text)}
    raise HttpTaskError("Either 'messageText' or 'payload' must be provided")


def run_slack_incoming_webhook(task: SlackIncomingWebhook, context: RunContext) -> TaskOutcome:
    """POST the message to the Slack (or Rocket.Chat) webhook."""
    message = slack_message(context, task)
    return post_json(context, context.render_text(task.url), message, task.options, "Slack")


def run_teams_incoming_webhook(task: TeamsIncomingWebhook, context: RunContext) -> TaskOutcome:
    """POST ``payload`` to the Teams webhook."""
    if task.payload is None:
        raise HttpTaskError("'payload' must be provided")
    message = parse_payload(context.render_text(task.payload))
    return post_json(context, context.render_text(task.url), message, task.options, "Teams")
