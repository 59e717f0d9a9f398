"""MailSend through the real API and engine, against a real SMTP server on loopback (aiosmtpd):
the headers and the envelope (Bcc in the envelope only), multipart/alternative bodies with a
plain text made from the HTML, an attachment from a FILE input, SMTPS and STARTTLS against a
self-signed certificate made here, AUTH over TLS, and the failures: a closed port, a
link-local host, an untrusted certificate, a server without STARTTLS, a refused recipient, the
limits, a hanging server. The password appears in no log line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perch.tasks import mail
from tests.api.conftest import Api
from tests.integrations.conftest import errors_of, run_flow, task_run
from tests.integrations.smtp import (
    Certificate,
    MailServer,
    SilentServer,
    free_port,
    make_certificate,
)

PASSWORD = "s3cret-Pa55word"
TOKEN = "ya29.token-of-perch"


def logs_of(api: Api, execution: dict[str, Any], task_id: str) -> list[tuple[str, str]]:
    lines = api.client.get(f"/api/v1/logs/{execution['id']}").json()
    return [(line["level"], line["message"]) for line in lines if line.get("taskId") == task_id]


def all_log_text(api: Api, execution: dict[str, Any]) -> str:
    lines = api.client.get(f"/api/v1/logs/{execution['id']}").json()
    return "\n".join(line["message"] for line in lines)


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path)


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtps(certificate: Certificate) -> Iterator[MailServer]:
    server = MailServer(certificate=certificate, implicit=True, users={"perch": PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture
def starttls(certificate: Certificate) -> Iterator[MailServer]:
    server = MailServer(
        certificate=certificate, users={"perch": PASSWORD}, tokens={"perch": TOKEN}
    ).start()
    yield server
    server.stop()


FULL_FLOW = """\
id: mail_full
namespace: company.team
inputs:
  - id: doc
    type: FILE
  - id: employee
    type: STRING
    defaults: Ann
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: "Perch <perch@example.com>"
    to: "ann@example.com; Bob Stone <bob@example.com>"
    cc: [carol@example.com]
    bcc: dave@example.com
    replyTo: hr@example.com
    subject: "Request from {{ inputs.employee }}"
    htmlTextContent: >-
      <p>Hello <b>{{ inputs.employee }}</b>,</p>
      <p>see <a href="https://example.com/form">the form</a>.</p>
    attachments:
      - name: report.pdf
        uri: "{{ inputs.doc }}"
        contentType: application/pdf
"""


def test_a_mail_arrives_with_its_headers_bodies_and_attachment(api: Api, smtp: MailServer) -> None:
    content = b"%PDF-1.4\x00\x01\xff binary\r\n.\r\n"
    execution = run_flow(
        api,
        FULL_FLOW.replace("PORT", str(smtp.port)),
        inputs={"employee": "Zoë {{ 7 * 7 }}"},
        files=[("doc", ("report.pdf", content, "application/pdf"))],
    )
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "mail")

    [got] = smtp.wait()
    assert got.mail_from == "perch@example.com"
    assert got.rcpt_tos == [
        "ann@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    ]
    assert not got.encrypted
    message = got.message()
    assert message["From"] == "Perch <perch@example.com>"
    assert message["To"] == "ann@example.com, Bob Stone <bob@example.com>"
    assert message["Cc"] == "carol@example.com"
    assert message["Reply-To"] == "hr@example.com"
    assert message["Bcc"] is None
    assert b"dave@example.com" not in got.content
    # An input is a value, never a template: it is not rendered again.
    assert message["Subject"] == "Request from Zoë {{ 7 * 7 }}"
    assert message["Date"]
    assert message["Message-ID"]

    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = list(message.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = list(alternative.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content() == (
        "Hello Zoë {{ 7 * 7 }},\n\nsee the form (https://example.com/form).\n"
    )
    assert html.get_content_type() == "text/html"
    assert html.get_content().strip() == (
        "<p>Hello <b>Zoë {{ 7 * 7 }}</b>,</p> "
        '<p>see <a href="https://example.com/form">the form</a>.</p>'
    )
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content() == content

    assert (
        "INFO",
        "Mail sent to ann@example.com, bob@example.com, carol@example.com and 1 Bcc "
        "recipient (subject 'Request from Zoë {{ 7 * 7 }}')",
    ) in logs_of(api, execution, "mail")
    assert task_run(execution, "mail").get("outputs") in (None, {})


PLAIN_FLOW = """\
id: mail_plain
namespace: company.team
tasks:
  - id: mail
    type: io.kestra.plugin.email.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: ["ann@example.com, bob@example.com", "{{ flow.id }}@example.com"]
    subject: |
      Two
      lines
    plainTextContent: "Plain words for {{ flow.namespace }}"
"""


def test_a_plain_text_mail_is_one_text_part(api: Api, smtp: MailServer) -> None:
    execution = run_flow(api, PLAIN_FLOW.replace("PORT", str(smtp.port)))
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "mail")
    [got] = smtp.wait()
    assert got.rcpt_tos == ["ann@example.com", "bob@example.com", "mail_plain@example.com"]
    message = got.message()
    assert message["Subject"] == "Two lines"
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Plain words for company.team\n"


TLS_FLOW = """\
id: mail_tls
namespace: company.team
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    STRATEGY
    username: perch
    password: "PASSWORD"
    from: perch@example.com
    to: ann@example.com
    subject: Over TLS
    plainTextContent: secret words
  - id: wrong_password
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    STRATEGY
    username: perch
    password: "not-PASSWORD"
    from: perch@example.com
    to: ann@example.com
    allowFailure: true
"""


def _tls_flow(port: int, strategy: str) -> str:
    return (
        TLS_FLOW.replace("PORT", str(port))
        .replace("STRATEGY", strategy)
        .replace("PASSWORD", PASSWORD)
    )


def test_smtps_with_a_trusted_host_logs_in_over_tls(api: Api, smtps: MailServer) -> None:
    flow = _tls_flow(smtps.port, "trustedHosts: [127.0.0.1]")  # SMTPS is the default
    execution = run_flow(api, flow)
    assert execution["state"]["current"] == "WARNING", errors_of(api, execution, "mail")

    [got] = smtps.wait()
    assert got.encrypted
    assert got.login == "perch"
    assert got.message().get_content() == "secret words\n"
    assert errors_of(api, execution, "wrong_password") == [
        f"The SMTP server 127.0.0.1:{smtps.port} refused the login of 'perch': "
        "535 5.7.8 Authentication credentials invalid"
    ]
    assert PASSWORD not in all_log_text(api, execution)


def test_starttls_checks_the_chain_and_optionally_the_name(
    api: Api, starttls: MailServer, certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test's certificate is trusted like a system CA; it names 'localhost', not 127.0.0.1.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    flow = _tls_flow(starttls.port, "transportStrategy: SMTP_TLS\n    verifyServerIdentity: false")
    execution = run_flow(api, flow)
    assert execution["state"]["current"] == "WARNING", errors_of(api, execution, "mail")
    [got] = starttls.wait()
    assert got.encrypted
    assert got.login == "perch"
    assert PASSWORD not in all_log_text(api, execution)

    checked = _tls_flow(starttls.port, "transportStrategy: SMTP_TLS").replace("mail_tls", "named")
    execution = run_flow(api, checked)
    assert execution["state"]["current"] == "FAILED"
    [error] = errors_of(api, execution, "mail")
    assert error.startswith(
        f"The TLS certificate of the SMTP server 127.0.0.1:{starttls.port} is not trusted: "
        "IP address mismatch, certificate is not valid for '127.0.0.1'; add the host to "
        "trustedHosts"
    ), error
    assert len(starttls.messages) == 1


UNTRUSTED_FLOW = """\
id: mail_untrusted
namespace: company.team
tasks:
  - id: smtps
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: SMTPS_PORT
    transportStrategy: SMTPS
    from: perch@example.com
    to: ann@example.com
    allowFailure: true
  - id: no_starttls
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PLAIN_PORT
    transportStrategy: SMTP_TLS
    username: perch
    password: "PASSWORD"
    from: perch@example.com
    to: ann@example.com
    allowFailure: true
"""


def test_an_untrusted_certificate_or_a_missing_starttls_fails_and_sends_nothing(
    api: Api, smtps: MailServer, smtp: MailServer
) -> None:
    flow = (
        UNTRUSTED_FLOW.replace("SMTPS_PORT", str(smtps.port))
        .replace("PLAIN_PORT", str(smtp.port))
        .replace("PASSWORD", PASSWORD)
    )
    execution = run_flow(api, flow)
    assert execution["state"]["current"] == "WARNING"
    [error] = errors_of(api, execution, "smtps")
    assert error.startswith(
        f"The TLS certificate of the SMTP server 127.0.0.1:{smtps.port} is not trusted: "
        "self-signed certificate"
    ), error
    assert error.endswith("add the host to trustedHosts to accept it")
    assert errors_of(api, execution, "no_starttls") == [
        f"The SMTP server 127.0.0.1:{smtp.port} does not offer STARTTLS, which "
        "transportStrategy SMTP_TLS requires; nothing was sent"
    ]
    assert smtps.messages == []
    assert smtp.messages == []
    assert PASSWORD not in all_log_text(api, execution)


UNREACHABLE_FLOW = """\
id: mail_unreachable
namespace: company.team
tasks:
  - id: closed
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: CLOSED_PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: ann@example.com
    allowFailure: true
  - id: metadata
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 169.254.169.254
    port: 25
    transportStrategy: SMTP
    from: perch@example.com
    to: ann@example.com
    allowFailure: true
"""


def test_a_closed_port_and_a_link_local_host_fail_naming_host_and_port(api: Api) -> None:
    port = free_port()
    execution = run_flow(api, UNREACHABLE_FLOW.replace("CLOSED_PORT", str(port)))
    assert execution["state"]["current"] == "WARNING"
    assert errors_of(api, execution, "closed") == [
        f"Cannot connect to the SMTP server 127.0.0.1:{port}: 127.0.0.1: Connection refused"
    ]
    assert errors_of(api, execution, "metadata") == [
        "Refused to connect to 169.254.169.254 on port 25: 169.254.0.0/16 (link-local, where "
        "cloud metadata services answer) is refused by default; allow it with "
        "PERCH_HTTP_ALLOW_NETWORKS"
    ]


REFUSED_FLOW = """\
id: mail_refused
namespace: company.team
tasks:
  - id: refused
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: ann@example.com, nobody@example.com
    allowFailure: true
  - id: crowd
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: "CROWD"
    allowFailure: true
  - id: bad_address
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: "ann at example.com"
    allowFailure: true
"""


def test_refused_recipients_bad_addresses_and_too_many_send_nothing(
    api: Api, smtp: MailServer
) -> None:
    smtp.refuse.add("nobody@example.com")
    crowd = ";".join(f"user{n}@example.com" for n in range(101))
    flow = REFUSED_FLOW.replace("PORT", str(smtp.port)).replace("CROWD", crowd)
    execution = run_flow(api, flow)
    assert execution["state"]["current"] == "WARNING"
    assert errors_of(api, execution, "refused") == [
        f"The SMTP server 127.0.0.1:{smtp.port} refused the recipient(s) nobody@example.com "
        "(550 5.1.1 No such mailbox here); nothing was sent"
    ]
    assert errors_of(api, execution, "crowd") == [
        "101 recipients, more than the limit of 100; nothing was sent"
    ]
    assert errors_of(api, execution, "bad_address") == [
        "'to': 'ann at example.com' is not an e-mail address"
    ]
    assert smtp.messages == []


ATTACHMENTS_FLOW = """\
id: mail_big
namespace: company.team
inputs:
  - id: doc
    type: FILE
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: ann@example.com
    attachments:
      - uri: "{{ inputs.doc }}"
      - uri: "{{ inputs.doc }}"
        name: copy.bin
"""


def test_attachments_over_the_limit_fail(
    api: Api, smtp: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail, "MAX_ATTACHMENT_BYTES", 1024 * 1024)
    content = b"x" * (600 * 1024)
    execution = run_flow(
        api,
        ATTACHMENTS_FLOW.replace("PORT", str(smtp.port)),
        files=[("doc", ("data.bin", content, "application/octet-stream"))],
    )
    assert execution["state"]["current"] == "FAILED"
    assert errors_of(api, execution, "mail") == [
        "The attachments come to more than 1 MiB (the limit) at 'copy.bin'; nothing was sent"
    ]
    assert smtp.messages == []


HANGING_FLOW = """\
id: mail_hanging
namespace: company.team
tasks:
  - id: slow
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    sessionTimeout: 30000
    timeout: PT0.5S
    from: perch@example.com
    to: ann@example.com
"""

SHORT_FLOW = """\
id: mail_short
namespace: company.team
tasks:
  - id: short
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    sessionTimeout: 300
    from: perch@example.com
    to: ann@example.com
"""


def test_a_hanging_server_is_left_at_the_task_timeout_or_the_session_timeout(api: Api) -> None:
    silent = SilentServer().start()
    try:
        execution = run_flow(api, HANGING_FLOW.replace("PORT", str(silent.port)), timeout=8.0)
        assert task_run(execution, "slow")["state"]["current"] in ("FAILED", "KILLED")
        execution = run_flow(api, SHORT_FLOW.replace("PORT", str(silent.port)), timeout=8.0)
        assert errors_of(api, execution, "short") == [
            f"The SMTP server 127.0.0.1:{silent.port} did not answer within 0.3 s (sessionTimeout)"
        ]
    finally:
        silent.stop()


OAUTH_FLOW = """\
id: mail_oauth
namespace: company.team
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP_OAUTH2
    trustedHosts: "127.0.0.1"
    username: perch
    accessToken: "TOKEN"
    from: perch@example.com
    to: ann@example.com
    subject: With a token
"""


def test_smtp_oauth2_logs_in_with_xoauth2_over_starttls(api: Api, starttls: MailServer) -> None:
    flow = OAUTH_FLOW.replace("PORT", str(starttls.port)).replace("TOKEN", TOKEN)
    execution = run_flow(api, flow)
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "mail")
    [got] = starttls.wait()
    assert got.encrypted
    assert got.login == "perch"
    assert TOKEN not in all_log_text(api, execution)


IMAGE_FLOW = """\
id: mail_image
namespace: company.team
inputs:
  - id: logo
    type: FILE
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: perch@example.com
    to: ann@example.com
    htmlTextContent: '<p>Our logo:</p><img src="cid:logo.png" alt="logo">'
    plainTextContent: "Our logo is in the HTML part."
    embeddedImages:
      - name: logo.png
        uri: "{{ inputs.logo }}"
        contentType: image/png
"""


def test_an_embedded_image_is_related_to_the_html_part(api: Api, smtp: MailServer) -> None:
    png = b"\x89PNG\r\n\x1a\n fake image"
    execution = run_flow(
        api,
        IMAGE_FLOW.replace("PORT", str(smtp.port)),
        files=[("logo", ("logo.png", png, "image/png"))],
    )
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "mail")
    [got] = smtp.wait()
    message = got.message()
    assert message.get_content_type() == "multipart/alternative"
    plain, related = list(message.iter_parts())
    assert plain.get_content() == "Our logo is in the HTML part.\n"
    assert related.get_content_type() == "multipart/related"
    html, image = list(related.iter_parts())
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<logo.png>"
    assert image.get_content() == png
