"""Notification tasks: Slack and Teams incoming webhooks, e-mail (MailSend), and the summaries
of an execution sent to each (SlackExecution, TeamsExecution, MailExecution)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from perch.flows.properties import Choice, Duration, DynBool, DynInt, Text
from perch.flows.tasks.base import Task
from perch.modelbase import StrictModel


class RequestOptions(StrictModel):
    """The HTTP client settings of the notification tasks (Kestra's ``RequestOptions``)."""

    connectTimeout: Duration | None = None
    readTimeout: Duration | None = None
    readIdleTimeout: Duration | None = None
    connectionPoolIdleTimeout: Duration | None = None
    maxContentLength: DynInt | None = None
    defaultCharset: Text | None = None
    headers: dict[str, Text] | None = None


class SlackIncomingWebhook(Task):
    """POST ``payload`` (a JSON string) or ``messageText`` to a Slack incoming-webhook ``url``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
        "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
    )

    url: Text
    payload: Text | None = None
    messageText: Text | None = None
    options: RequestOptions | None = None


class SlackExecution(SlackIncomingWebhook):
    """Post a summary of an execution (the current one by default) to a Slack webhook."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.slack.SlackExecution",
        "io.kestra.plugin.slack.notifications.SlackExecution",
    )

    channel: Text | None = None
    username: Text | None = None
    iconUrl: Text | None = None
    iconEmoji: Text | None = None
    executionId: Text = "{{ execution.id }}"
    customFields: dict[str, Any] | Text | None = None
    customMessage: Text | None = None
    templateUri: Text | None = None
    templateRenderMap: dict[str, Any] | Text | None = None


class TeamsIncomingWebhook(Task):
    """POST ``payload`` (a JSON string) to a Microsoft Teams incoming-webhook ``url``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
    )

    url: Text
    payload: Text | None = None
    options: RequestOptions | None = None


class TeamsExecution(TeamsIncomingWebhook):
    """Post a summary of an execution (the current one by default) to a Teams webhook."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.notifications.teams.TeamsExecution",)

    executionId: Text = "{{ execution.id }}"
    customFields: dict[str, Any] | Text | None = None
    customMessage: Text | None = None
    themeColor: Text = "0076D7"
    activityTitle: Text | None = None
    activitySubtitle: Text | None = None
    templateUri: Text | None = None
    templateRenderMap: dict[str, Any] | Text | None = None


_Addresses = Text | list[Text]


class MailSend(Task):
    """Send an e-mail through an SMTP server."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.mail.MailSend",
        "io.kestra.plugin.email.MailSend",
    )

    to: _Addresses | None = None
    from_: Text | None = Field(default=None, alias="from")
    cc: _Addresses | None = None
    bcc: _Addresses | None = None
    replyTo: Text | None = None
    subject: Text | None = None
    htmlTextContent: Text | None = None
    plainTextContent: Text | None = None
    host: Text | None = None
    port: DynInt | None = None
    username: Text | None = None
    password: Text | None = None
    accessToken: Text | None = None
    transportStrategy: Annotated[str, Choice("SMTP", "SMTPS", "SMTP_TLS", "SMTP_OAUTH2")] | None = (
        None
    )
    sessionTimeout: DynInt | None = None
    verifyServerIdentity: DynBool | None = None
    trustedHosts: list[Text] | Text | None = None
    attachments: list[dict[str, Any]] | Text | None = None
    embeddedImages: list[dict[str, Any]] | Text | None = None


class MailExecution(MailSend):
    """Send a summary of an execution (the current one by default) by e-mail."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.mail.MailExecution",
        "io.kestra.plugin.email.MailExecution",
    )

    executionId: Text = "{{ execution.id }}"
    customFields: dict[str, Any] | Text | None = None
    customMessage: Text | None = None
    templateUri: Text | None = None
    templateRenderMap: dict[str, Any] | Text | None = None


MODELS: tuple[type[Task], ...] = (
    SlackIncomingWebhook,
    SlackExecution,
    TeamsIncomingWebhook,
    TeamsExecution,
    MailSend,
    MailExecution,
)
