"""The summary of an execution, and the tasks that send it: ``SlackExecution``,
``TeamsExecution`` and ``MailExecution``.

A summary names the flow, its namespace, the execution, its state, when it started and for how
long it has run, the last task run that failed (if one did), a link to the execution's page,
and the flow author's ``customFields`` and ``customMessage``. It is read from the variables of
the task that sends it, so it tells the execution *as it stands while the task runs*: in the
main task list that is RUNNING, in ``afterExecution`` the state the execution ends in.

``executionId`` is the execution the task runs in by default. Another id is accepted when it is
the execution that triggered this one (``trigger.executionId``): the summary then holds what
the trigger variables carry (flow, namespace, state), with no start date or duration. Looking up
any other execution is not supported. ``templateUri`` and ``templateRenderMap`` are accepted
and ignored with a WARN line: the built-in layout is always sent.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from perch.engine.applink import APP_LINK, DEFAULT_TENANT
from perch.errors import PerchError
from perch.flows.tasks.notifications import MailExecution, SlackExecution, TeamsExecution
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.mail import letter_of, send_mail
from perch.tasks.webhooks import post_json

SLACK_COLORS = {
    "SUCCESS": "#2eb67d",
    "WARNING": "#ecb22e",
    "FAILED": "#e01e5a",
    "KILLED": "#616061",
    "CANCELLED": "#616061",
}
DEFAULT_SLACK_COLOR = "#1d9bd1"


class SummaryError(PerchError):
    """The execution summary cannot be made."""


@dataclass(frozen=True)
class Summary:
    """What the notification says about an execution."""

    execution_id: str
    namespace: str
    flow_id: str
    state: str
    start_date: datetime | None = None
    duration: timedelta | None = None
    link: str | None = None
    failed_task: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()
    custom_message: str | None = None

    @property
    def title(self) -> str:
        return f"{self.namespace}.{self.flow_id} ➛ {self.state}"

    def facts(self) -> list[tuple[str, str]]:
        """The summary as ``(label, value)`` rows, custom fields last."""
        rows = [
            ("Namespace", self.namespace),
            ("Flow", self.flow_id),
            ("Execution", self.execution_id),
            ("State", self.state),
        ]
        if self.start_date is not None:
            rows.append(("Started", self.start_date.strftime("%Y-%m-%d %H:%M:%S UTC")))
        if self.duration is not None:
            rows.append(("Duration", human_duration(self.duration)))
        if self.failed_task is not None:
            rows.append(("Failed task", self.failed_task))
        return rows + list(self.custom_fields)


def human_duration(duration: timedelta) -> str:
    """``4.2 s``, ``3 min 5 s``, ``2 h 10 min``, ``1 d 3 h``."""
    seconds = max(duration.total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def _custom_fields(context: RunContext, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    rendered = context.render(value)
    if isinstance(rendered, str):
        if not rendered.strip():
            return ()
        try:
            rendered = json.loads(rendered)
        except ValueError as exc:
            raise SummaryError(f"'customFields' must be a map of names to values: {exc}") from exc
    if not isinstance(rendered, Mapping):
        raise SummaryError("'customFields' must be a map of names to values")
    return tuple((str(key), _text(item)) for key, item in rendered.items())


def _last_failed(tasks: Any, own_id: str) -> str | None:
    failed: str | None = None
    if not isinstance(tasks, Mapping):
        return None
    for task_id, entry in tasks.items():
        if task_id == own_id or not isinstance(entry, Mapping):
            continue
        states = [entry] if "state" in entry else list(entry.values())
        if any(isinstance(s, Mapping) and s.get("state") == "FAILED" for s in states):
            failed = str(task_id)
    return failed


def _page_path(tenant: str, namespace: str, flow_id: str, execution_id: str) -> str:
    head = "" if tenant == DEFAULT_TENANT else f"/{quote(tenant, safe='')}"
    parts = (namespace, flow_id, execution_id)
    return f"/ui{head}/executions/" + "/".join(quote(part, safe="") for part in parts)


def _links(context: RunContext) -> tuple[str | None, str | None]:
    """The current execution's page and the server's base address, when ``appLink`` knows
    them."""
    app_link = context.hooks.get(APP_LINK)
    if app_link is None:
        return None, None
    try:
        full, path = str(app_link()), str(app_link(base_url=False))
    except PerchError:
        return None, None
    return full, (full[: -len(path)] if path and full.endswith(path) else None)


def summarise(
    context: RunContext,
    task: SlackExecution | TeamsExecution | MailExecution,
) -> tuple[Summary, tuple[tuple[str, str], ...]]:
    """The summary ``task`` sends, and the WARN lines to log."""
    logs: list[tuple[str, str]] = []
    if task.templateUri is not None or task.templateRenderMap is not None:
        logs.append(
            (
                "WARN",
                "templateUri and templateRenderMap are not supported; "
                "the built-in execution summary is sent",
            )
        )
    variables = context.variables
    execution = variables.get("execution") or {}
    flow = variables.get("flow") or {}
    wanted = context.render_text(task.executionId).strip()
    current = str(execution.get("id", ""))
    page, base = _links(context)
    custom = _custom_fields(context, task.customFields)
    message = None
    if task.customMessage is not None:
        message = context.render_text(task.customMessage).strip() or None
    if not wanted or wanted == current:
        own = variables.get("task")
        own_id = str(own.get("id", "")) if isinstance(own, Mapping) else ""
        start = execution.get("startDate")
        start = start.astimezone(UTC) if isinstance(start, datetime) else None
        summary = Summary(
            execution_id=current,
            namespace=str(flow.get("namespace", "")),
            flow_id=str(flow.get("id", "")),
            state=str(execution.get("state", "")),
            start_date=start,
            duration=None if start is None else datetime.now(UTC) - start,
            link=page,
            failed_task=_last_failed(variables.get("tasks"), own_id),
        )
        return replace(summary, custom_fields=custom, custom_message=message), tuple(logs)
    trigger = variables.get("trigger")
    if not isinstance(trigger, Mapping) or str(trigger.get("executionId", "")) != wanted:
        raise SummaryError(
            f"executionId '{wanted}' is neither this execution nor the one that triggered it; "
            "summaries of other executions are not supported"
        )
    namespace = str(trigger.get("namespace") or flow.get("namespace", ""))
    flow_id = str(trigger.get("flowId", ""))
    tenant = str(flow.get("tenantId") or DEFAULT_TENANT)
    link = None
    if base is not None and flow_id:
        link = base + _page_path(tenant, namespace, flow_id, wanted)
    summary = Summary(
        execution_id=wanted,
        namespace=namespace,
        flow_id=flow_id or "(unknown flow)",
        state=str(trigger.get("state") or "UNKNOWN"),
        link=link,
        custom_fields=custom,
        custom_message=message,
    )
    return summary, tuple(logs)


def _with_logs(outcome: TaskOutcome, logs: tuple[tuple[str, str], ...]) -> TaskOutcome:
    return replace(outcome, logs=(*logs, *outcome.logs)) if logs else outcome


# --- Slack -----------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_summary(summary: Summary) -> dict[str, Any]:
    """A Slack message: a linked headline, and an attachment with the facts as fields."""
    title = _slack_escape(summary.title)
    headline = f"<{summary.link}|{title}>" if summary.link else title
    attachment: dict[str, Any] = {
        "fallback": f"{summary.title} ({summary.execution_id})",
        "color": SLACK_COLORS.get(summary.state, DEFAULT_SLACK_COLOR),
        "title": f"Execution {summary.execution_id}",
        "fields": [
            {"title": label, "value": _slack_escape(value), "short": len(value) <= 40}
            for label, value in summary.facts()
        ],
    }
    if summary.link:
        attachment["title_link"] = summary.link
    if summary.custom_message:
        attachment["text"] = _slack_escape(summary.custom_message)
    return {"text": headline, "attachments": [attachment]}


def run_slack_execution(task: SlackExecution, context: RunContext) -> TaskOutcome:
    """Post the summary to the Slack webhook (``channel``, ``username``, ``iconUrl`` and
    ``iconEmoji`` go with it when given)."""
    summary, logs = summarise(context, task)
    message = slack_summary(summary)
    for name, value in (
        ("channel", task.channel),
        ("username", task.username),
        ("icon_url", task.iconUrl),
        ("icon_emoji", task.iconEmoji),
    ):
        if value is not None and context.render_text(value).strip():
            message[name] = context.render_text(value).strip()
    outcome = post_json(context, context.render_text(task.url), message, task.options, "Slack")
    return _with_logs(outcome, logs)


# --- Teams -----------------------------------------------------------------------------------


def teams_summary(
    summary: Summary, theme: str, title: str | None, subtitle: str | None
) -> dict[str, Any]:
    """A Teams MessageCard: title, subtitle, the facts, and a button opening the page."""
    section: dict[str, Any] = {
        "activityTitle": title or summary.title,
        "activitySubtitle": subtitle or f"Execution {summary.execution_id}",
        "facts": [{"name": label, "value": value} for label, value in summary.facts()],
        "markdown": False,
    }
    if summary.custom_message:
        section["text"] = summary.custom_message
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "themeColor": theme.lstrip("#"),
        "summary": summary.title,
        "sections": [section],
    }
    if summary.link:
        card["potentialAction"] = [
            {
                "@type": "OpenUri",
                "name": "Open the execution",
                "targets": [{"os": "default", "uri": summary.link}],
            }
        ]
    return card


def run_teams_execution(task: TeamsExecution, context: RunContext) -> TaskOutcome:
    """Post the summary to the Teams webhook as a MessageCard."""
    summary, logs = summarise(context, task)

    def optional(value: Any) -> str | None:
        return None if value is None else (context.render_text(value).strip() or None)

    card = teams_summary(
        summary,
        optional(task.themeColor) or "0076D7",
        optional(task.activityTitle),
        optional(task.activitySubtitle),
    )
    outcome = post_json(context, context.render_text(task.url), card, task.options, "Teams")
    return _with_logs(outcome, logs)


# --- e-mail ----------------------------------------------------------------------------------


def mail_summary(summary: Summary) -> tuple[str, str]:
    """The HTML and the plain text of the summary mail."""
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{html.escape(label)}</th>'
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in summary.facts()
    )
    parts = [f"<h2>{html.escape(summary.title)}</h2>"]
    if summary.custom_message:
        parts.append(f"<p>{html.escape(summary.custom_message)}</p>")
    parts.append(f"<table>{rows}</table>")
    if summary.link:
        parts.append(f'<p><a href="{html.escape(summary.link)}">Open the execution</a></p>')
    body = "\n".join(parts)
    page = f'<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n{body}\n</body></html>\n'
    lines = [summary.title, ""]
    if summary.custom_message:
        lines += [summary.custom_message, ""]
    lines += [f"{label}: {value}" for label, value in summary.facts()]
    if summary.link:
        lines += ["", f"Open the execution: {summary.link}"]
    return page, "\n".join(lines) + "\n"


def run_mail_execution(task: MailExecution, context: RunContext) -> TaskOutcome:
    """Mail the summary (the subject defaults to the summary's title)."""
    summary, logs = summarise(context, task)
    if task.htmlTextContent is not None or task.plainTextContent is not None:
        logs = (
            *logs,
            ("WARN", "htmlTextContent and plainTextContent are replaced by the summary"),
        )
    page, plain = mail_summary(summary)
    subject = None
    if task.subject is not None:
        subject = context.render_text(task.subject).strip() or None
    letter = letter_of(
        task,
        context,
        subject=subject or f"{summary.title} (execution {summary.execution_id})",
        html=page,
        plain=plain,
    )
    return _with_logs(send_mail(task, context, letter), logs)
