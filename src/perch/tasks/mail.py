"""E-mail through an SMTP server: ``MailSend``, and the delivery that ``MailExecution`` shares.

**The message.** ``from`` and at least one recipient are required; ``to``, ``cc`` and ``bcc``
are a string of addresses separated by ``,`` or ``;``, or a list. Bcc recipients get the mail
(they are in the SMTP envelope) but appear in no header. A mail with ``htmlTextContent`` is
``multipart/alternative`` with a plain-text part: ``plainTextContent`` when given, else a text
rendering of the HTML. ``attachments`` (and ``embeddedImages``, shown inline in the HTML as
``cid:<name>``) are ``{name, uri, contentType}`` maps of ``kestra:///`` files.

**The server.** ``transportStrategy`` follows Kestra's (simple-java-mail's) meanings:
``SMTPS`` (the default) is TLS from the first byte, port 465 by default; ``SMTP_TLS`` is plain
SMTP upgraded with STARTTLS, which must succeed before anything else is sent, port 587;
``SMTP`` is plain SMTP, port 25, no TLS; ``SMTP_OAUTH2`` is ``SMTP_TLS`` logging in with
XOAUTH2 and ``accessToken``. Certificates are checked against the system's trust store and the
host name, unless the host is in ``trustedHosts`` (``*`` for all; then any certificate is
accepted) or ``verifyServerIdentity`` is false (then the chain is checked, the name is not).

**The rules.** Every property is rendered once. The SMTP host goes through the same network
guard as HTTP (:mod:`perch.tasks.network`): the host name is resolved, each address checked,
and the connection made to a checked address. ``sessionTimeout`` (milliseconds, 10 s by default)
bounds each network wait. All recipients are checked with the server before the message is
sent: if one is refused, nobody gets it. The password never appears in a log line or an error.
At most :data:`MAX_RECIPIENTS` recipients and :data:`MAX_ATTACHMENT_BYTES` of attachments.
"""

from __future__ import annotations

import contextlib
import json
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from typing import Any
from urllib.parse import unquote

from perch.engine.states import StateType
from perch.errors import HttpTaskError, MailTaskError
from perch.flows.tasks.notifications import MailSend
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.files import read_file
from perch.tasks.mailtext import html_to_text
from perch.tasks.network import resolve_checked
from perch.templating.values import truthy

STRATEGIES = ("SMTPS", "SMTP_TLS", "SMTP", "SMTP_OAUTH2")
DEFAULT_STRATEGY = "SMTPS"
DEFAULT_PORTS = {"SMTPS": 465, "SMTP_TLS": 587, "SMTP": 25, "SMTP_OAUTH2": 587}
DEFAULT_TIMEOUT_MS = 10_000
MAX_RECIPIENTS = 100
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
CANCEL_POLL_SECONDS = 0.05
HIDDEN = "****"

_POLICY = SMTP_POLICY.clone(cte_type="7bit")
"""CRLF line ends, and bodies in quoted-printable or base64 when they are not ASCII: the mail
goes through any server, 8BITMIME or not."""
_EHLO_NAME = socket.gethostname() or "localhost"


@dataclass(frozen=True)
class Server:
    """Where and how to send, rendered."""

    host: str
    port: int
    strategy: str
    username: str | None = None
    password: str | None = None
    access_token: str | None = None
    timeout: float = DEFAULT_TIMEOUT_MS / 1000
    verify_identity: bool = True
    trusted: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def hide(self, text: str) -> str:
        """``text`` with the password and the access token masked."""
        for secret in (self.password, self.access_token):
            if secret:
                text = text.replace(secret, HIDDEN)
        return text


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Letter:
    """What to send, rendered: addresses as header text (``Name <a@x>``) and bare (envelope)."""

    sender: str
    sender_address: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    envelope: tuple[str, ...] = ()
    visible: tuple[str, ...] = ()
    """The bare addresses of To and Cc (the log line names these, and counts the Bcc ones)."""
    reply_to: str | None = None
    subject: str = ""
    html: str | None = None
    plain: str | None = None
    attachments: tuple[Attachment, ...] = ()
    images: tuple[Attachment, ...] = ()
    logs: tuple[tuple[str, str], ...] = field(default=(), compare=False)


# --- rendering the task ----------------------------------------------------------------------


def _optional(context: RunContext, value: Any) -> str | None:
    if value is None:
        return None
    text = context.render_text(value)
    return text if text.strip() else None


def _number(context: RunContext, value: Any, name: str) -> int | None:
    text = _optional(context, value)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise MailTaskError(f"'{name}' must be a whole number, not '{text}'") from None


def server_of(task: MailSend, context: RunContext) -> Server:
    """The rendered SMTP settings of ``task``."""
    host = (_optional(context, task.host) or "").strip()
    if not host:
        raise MailTaskError("'host' (the SMTP server) must be provided")
    strategy = (_optional(context, task.transportStrategy) or DEFAULT_STRATEGY).strip().upper()
    if strategy not in STRATEGIES:
        raise MailTaskError(f"transportStrategy '{strategy}' is not one of {', '.join(STRATEGIES)}")
    port = _number(context, task.port, "port") or DEFAULT_PORTS[strategy]
    if not 0 < port < 65536:
        raise MailTaskError(f"'port' must be between 1 and 65535, not {port}")
    timeout_ms = _number(context, task.sessionTimeout, "sessionTimeout") or DEFAULT_TIMEOUT_MS
    if timeout_ms <= 0:
        raise MailTaskError(f"'sessionTimeout' must be a positive number of ms, not {timeout_ms}")
    verify = (
        True
        if task.verifyServerIdentity is None
        else truthy(context.render(task.verifyServerIdentity))
    )
    trusted: list[str] = []
    if task.trustedHosts is not None:
        items = task.trustedHosts if isinstance(task.trustedHosts, list) else [task.trustedHosts]
        for item in items:
            trusted.extend(context.render_text(item).replace(",", " ").split())
    server = Server(
        host=host,
        port=port,
        strategy=strategy,
        username=_optional(context, task.username),
        password=None if task.password is None else context.render_text(task.password),
        access_token=_optional(context, task.accessToken),
        timeout=timeout_ms / 1000,
        verify_identity=verify,
        trusted=tuple(trusted),
    )
    if strategy == "SMTP_OAUTH2" and not (server.access_token and server.username):
        raise MailTaskError("transportStrategy SMTP_OAUTH2 needs 'username' and 'accessToken'")
    return server


def _address_texts(context: RunContext, value: Any) -> list[str]:
    if value is None:
        return []
    texts: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        rendered = context.render(item)
        for one in rendered if isinstance(rendered, list) else [rendered]:
            if one is not None:
                texts.append(one if isinstance(one, str) else context.render_text(one))
    return texts


def addresses(context: RunContext, value: Any, name: str) -> list[tuple[str, str]]:
    """The ``(header text, bare address)`` of each address in ``value``."""
    found: list[tuple[str, str]] = []
    for text in _address_texts(context, value):
        if "\r" in text or "\n" in text:
            raise MailTaskError(f"'{name}' holds a line break: {text.strip()!r}")
        for display, address in getaddresses([text.replace(";", ",")]):
            if not display and not address:
                continue
            if (
                address.count("@") != 1
                or address.startswith("@")
                or address.endswith("@")
                or any(c.isspace() or c in '<>,;"()[]\\' for c in address)
            ):
                raise MailTaskError(f"'{name}': '{text.strip()}' is not an e-mail address")
            if not address.isascii():
                raise MailTaskError(
                    f"'{name}': '{address}' is not an ASCII address; internationalised "
                    "addresses are not supported"
                )
            found.append((formataddr((display, address)), address))
    return found


def _files(context: RunContext, value: Any, name: str, budget: list[int]) -> list[Attachment]:
    if value is None:
        return []
    rendered = context.render(value)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered) if rendered.strip() else []
        except ValueError as exc:
            raise MailTaskError(f"'{name}' must be a list of {{name, uri}} maps: {exc}") from exc
    if isinstance(rendered, dict):
        rendered = [rendered]
    if not isinstance(rendered, list):
        raise MailTaskError(f"'{name}' must be a list of {{name, uri, contentType}} maps")
    found: list[Attachment] = []
    for position, item in enumerate(rendered, 1):
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
            raise MailTaskError(f"'{name}' item {position} needs a 'uri' (a kestra:/// file)")
        uri = item["uri"].strip()
        file_name = str(item.get("name") or unquote(uri.rstrip("/").rsplit("/", 1)[-1]))
        content_type = str(item.get("contentType") or "application/octet-stream").strip()
        if content_type.count("/") != 1 or any(c.isspace() for c in content_type):
            raise MailTaskError(f"'{name}' item {position}: '{content_type}' is not a MIME type")
        if "\r" in file_name or "\n" in file_name:
            raise MailTaskError(f"'{name}' item {position}: the name holds a line break")
        content = read_file(context, uri)
        budget[0] += len(content)
        if budget[0] > MAX_ATTACHMENT_BYTES:
            raise MailTaskError(
                f"The attachments come to more than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB "
                f"(the limit) at '{file_name}'; nothing was sent"
            )
        found.append(Attachment(file_name, content, content_type))
    return found


def letter_of(
    task: MailSend,
    context: RunContext,
    *,
    subject: str | None = None,
    html: str | None = None,
    plain: str | None = None,
) -> Letter:
    """The rendered message of ``task``; ``subject``, ``html`` and ``plain`` (already final
    text) replace the task's own when given."""
    senders = addresses(context, task.from_, "from")
    if len(senders) != 1:
        raise MailTaskError("'from' must be exactly one e-mail address")
    to = addresses(context, task.to, "to")
    cc = addresses(context, task.cc, "cc")
    bcc = addresses(context, task.bcc, "bcc")
    envelope = list(dict.fromkeys(address for _, address in (*to, *cc, *bcc)))
    if not envelope:
        raise MailTaskError("No recipient: give 'to', 'cc' or 'bcc'")
    if len(envelope) > MAX_RECIPIENTS:
        raise MailTaskError(
            f"{len(envelope)} recipients, more than the limit of {MAX_RECIPIENTS}; nothing was sent"
        )
    reply = addresses(context, task.replyTo, "replyTo")
    if subject is None:
        subject = _optional(context, task.subject) or ""
    if html is None and plain is None:
        html = _optional(context, task.htmlTextContent)
        plain = _optional(context, task.plainTextContent)
    budget = [0]
    return Letter(
        sender=senders[0][0],
        sender_address=senders[0][1],
        to=tuple(text for text, _ in to),
        cc=tuple(text for text, _ in cc),
        bcc=tuple(text for text, _ in bcc),
        envelope=tuple(envelope),
        visible=tuple(dict.fromkeys(address for _, address in (*to, *cc))),
        reply_to=", ".join(text for text, _ in reply) or None,
        subject=" ".join(subject.split()),
        html=html,
        plain=plain,
        attachments=tuple(_files(context, task.attachments, "attachments", budget)),
        images=tuple(_files(context, task.embeddedImages, "embeddedImages", budget)),
    )


# --- the message -----------------------------------------------------------------------------


def compose(letter: Letter, now: datetime | None = None) -> EmailMessage:
    """The MIME message of ``letter`` (no Bcc header)."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = letter.sender
    if letter.to:
        message["To"] = ", ".join(letter.to)
    if letter.cc:
        message["Cc"] = ", ".join(letter.cc)
    if letter.reply_to:
        message["Reply-To"] = letter.reply_to
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=letter.sender_address.rsplit("@", 1)[-1])
    plain = letter.plain
    if plain is None:
        plain = html_to_text(letter.html) if letter.html else ""
    message.set_content(plain)
    if letter.html is not None:
        message.add_alternative(letter.html, subtype="html")
        if letter.images:
            html_part = list(message.iter_parts())[-1]
            for image in letter.images:
                maintype, subtype = image.content_type.split("/")
                html_part.add_related(
                    image.content,
                    maintype=maintype,
                    subtype=subtype,
                    cid=f"<{image.name}>",
                    filename=image.name,
                    disposition="inline",
                )
    for attachment in letter.attachments:
        maintype, subtype = attachment.content_type.split("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.name
        )
    return message


# --- the SMTP exchange -----------------------------------------------------------------------


class _ConnectFailed(OSError):
    pass


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    failures: list[str] = []
    for address in resolve_checked(host, port):
        try:
            return socket.create_connection((address, port), timeout)
        except TimeoutError:
            failures.append(f"{address}: no answer within {timeout:g} s")
        except OSError as exc:
            failures.append(f"{address}: {exc.strerror or exc}")
    raise _ConnectFailed("; ".join(failures))


class _Plain(smtplib.SMTP):
    """SMTP connecting only to addresses the network policy allows, and to the one it checked
    (the host name stays the name TLS checks the certificate against)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _connect(host, port, timeout)


class _Implicit(smtplib.SMTP_SSL, _Plain):
    """SMTPS: TLS over a guarded connection."""


def tls_context(server: Server) -> ssl.SSLContext:
    """The TLS settings: ``trustedHosts`` accept any certificate, ``verifyServerIdentity``
    false skips the name check only."""
    context = ssl.create_default_context()
    if "*" in server.trusted or server.host in server.trusted:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not server.verify_identity:
        context.check_hostname = False
    return context


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}".strip()


@dataclass
class _Exchange:
    server: Server
    letter: Letter
    payload: bytes
    smtp: smtplib.SMTP | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            self._send()
        except BaseException as exc:  # handed to the task's thread
            self.error = exc
        finally:
            self.done.set()

    def _send(self) -> None:
        server, letter = self.server, self.letter
        tls = tls_context(server) if server.strategy != "SMTP" else None
        if server.strategy == "SMTPS":
            smtp: smtplib.SMTP = _Implicit(
                server.host, server.port, _EHLO_NAME, timeout=server.timeout, context=tls
            )
        else:
            smtp = _Plain(server.host, server.port, _EHLO_NAME, timeout=server.timeout)
        self.smtp = smtp
        try:
            smtp.ehlo()
            if server.strategy in ("SMTP_TLS", "SMTP_OAUTH2"):
                if not smtp.has_extn("starttls"):
                    raise MailTaskError(
                        f"The SMTP server {server.where} does not offer STARTTLS, which "
                        f"transportStrategy {server.strategy} requires; nothing was sent"
                    )
                smtp.starttls(context=tls)
                smtp.ehlo()
            if server.strategy == "SMTP_OAUTH2":
                token = f"user={server.username}\x01auth=Bearer {server.access_token}\x01\x01"

                def xoauth2(challenge: bytes | None = None) -> str:
                    return "" if challenge else token

                smtp.auth("XOAUTH2", xoauth2)
            elif server.username:
                smtp.login(server.username, server.password or "")
            self._transfer(smtp, letter)
        except MailTaskError:  # the server answered, and refused: say goodbye
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()
            raise
        except BaseException:
            smtp.close()  # no QUIT: the connection itself may be the problem
            raise
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()  # the message is accepted; a failing QUIT changes nothing
        smtp.close()

    def _transfer(self, smtp: smtplib.SMTP, letter: Letter) -> None:
        where = self.server.where
        code, reply = smtp.mail(letter.sender_address)
        if code != 250:
            raise MailTaskError(
                f"The SMTP server {where} refused the sender {letter.sender_address}: "
                f"{_reply_text(code, reply)}; nothing was sent"
            )
        refused: list[str] = []
        for recipient in letter.envelope:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                refused.append(f"{recipient} ({_reply_text(code, reply)})")
        if refused:
            smtp.rset()
            raise MailTaskError(
                f"The SMTP server {where} refused the recipient(s) {', '.join(refused)}; "
                "nothing was sent"
            )
        code, reply = smtp.data(self.payload)
        if code != 250:
            raise MailTaskError(
                f"The SMTP server {where} refused the message: {_reply_text(code, reply)}"
            )

    def abandon(self) -> None:
        sock = getattr(self.smtp, "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _explained(exc: BaseException, server: Server) -> MailTaskError:
    where = server.where
    text: str
    if isinstance(exc, MailTaskError):
        return exc
    if isinstance(exc, HttpTaskError):  # the network guard: refused address, unknown host
        text = str(exc)
    elif isinstance(exc, _ConnectFailed):
        text = f"Cannot connect to the SMTP server {where}: {exc}"
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        text = (
            f"The SMTP server {where} refused the login of '{server.username}': "
            f"{_reply_text(exc.smtp_code, exc.smtp_error)}"
        )
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        text = f"The SMTP server {where} does not offer what is needed: {exc}"
        if server.strategy == "SMTP" and server.username:
            text += " (many servers offer AUTH only over TLS: try transportStrategy SMTP_TLS)"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"The SMTP server {where} answered {_reply_text(exc.smtp_code, exc.smtp_error)}"
    elif isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib reports a read that timed out as a closed connection
        text = (
            f"The SMTP server {where} did not answer within {server.timeout:g} s (sessionTimeout)"
        )
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        text = f"The SMTP server {where} closed the connection: {exc or 'no reason given'}"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = (
            f"The TLS certificate of the SMTP server {where} is not trusted: "
            f"{str(exc.verify_message or exc.reason).rstrip('.')}; add the host to trustedHosts "
            "to accept it"
        )
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS with the SMTP server {where} failed: {exc.reason or exc}"
        if server.strategy == "SMTPS":
            text += f" (does port {server.port} speak SMTPS? see transportStrategy)"
    elif isinstance(exc, OSError):
        text = f"The connection to the SMTP server {where} failed: {exc.strerror or exc}"
    elif isinstance(exc, smtplib.SMTPException):
        text = f"Sending through the SMTP server {where} failed: {exc}"
    else:
        raise exc
    return MailTaskError(server.hide(text))


def deliver(server: Server, letter: Letter, context: RunContext) -> TaskOutcome:
    """Send ``letter`` through ``server``: SUCCESS with an INFO log line, KILLED when the task
    is cancelled meanwhile; raises :class:`MailTaskError` naming host, port and reason."""
    try:
        payload = compose(letter).as_bytes(policy=_POLICY)
    except (ValueError, TypeError) as exc:
        raise MailTaskError(f"The mail cannot be built: {exc}; nothing was sent") from exc
    exchange = _Exchange(server, letter, payload)
    threading.Thread(target=exchange.run, name="perch-smtp", daemon=True).start()
    while not exchange.done.wait(CANCEL_POLL_SECONDS):
        if context.cancelled.is_set():
            exchange.abandon()
            return TaskOutcome(
                StateType.KILLED,
                logs=letter.logs,
                error="The task was cancelled while sending the mail (it may have been sent)",
            )
    if exchange.error is not None:
        raise _explained(exchange.error, server) from exchange.error
    hidden = len(letter.envelope) - len(letter.visible)
    who = ", ".join(letter.visible) or "nobody in To/Cc"
    if hidden > 0:
        who += f" and {hidden} Bcc recipient{'s' if hidden > 1 else ''}"
    logs = list(letter.logs)
    logs.append(("INFO", f"Mail sent to {who} (subject {letter.subject!r})"))
    return TaskOutcome(StateType.SUCCESS, logs=tuple(logs))


def send_mail(task: MailSend, context: RunContext, letter: Letter) -> TaskOutcome:
    """Render the server settings of ``task`` and deliver ``letter``."""
    server = server_of(task, context)
    if server.strategy == "SMTP" and server.username:
        warning = (
            "WARN",
            f"transportStrategy SMTP: the password goes to {server.where} without TLS",
        )
        letter = replace(letter, logs=(*letter.logs, warning))
    return deliver(server, letter, context)


def run_mail_send(task: MailSend, context: RunContext) -> TaskOutcome:
    """Send the mail ``task`` describes."""
    return send_mail(task, context, letter_of(task, context))
