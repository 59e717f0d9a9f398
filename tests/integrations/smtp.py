"""A real SMTP server on loopback for the mail tests (aiosmtpd), recording every message whole:
the envelope (sender, recipients), the bytes, whether the session was encrypted and who logged
in; and a self-signed certificate made in the test (``cryptography``) for SMTPS and STARTTLS.
"""

from __future__ import annotations

import base64
import datetime
import email
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    encrypted: bool
    login: str | None

    def message(self) -> EmailMessage:
        # SMTP lines end in CRLF; parsed with Python's line ends, text parts read as written.
        parsed = email.message_from_bytes(self.content.replace(b"\r\n", b"\n"), policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(directory: Path, name: str = "localhost") -> Certificate:
    """A self-signed certificate for ``name`` (a DNS name only: 127.0.0.1 does not match it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


class _Recorder:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 with the initial response: ``user=<name>^Aauth=Bearer <token>^A^A``."""
        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        fields = dict(
            part.split("=", 1) for part in base64.b64decode(args[1]).decode().split("\x01") if part
        )
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        if token and self.server.tokens.get(user) == token:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            content=content,
            encrypted=session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            login=session.auth_data if isinstance(session.auth_data, str) else None,
        )
        with self.server.changed:
            self.server.messages.append(received)
            self.server.changed.notify_all()
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MailServer:
    """An SMTP server on 127.0.0.1: plain, with STARTTLS (``starttls``), or SMTPS
    (``implicit``); with ``users`` it offers AUTH (LOGIN, PLAIN, and XOAUTH2 for ``tokens``),
    over TLS only."""

    def __init__(
        self,
        *,
        certificate: Certificate | None = None,
        implicit: bool = False,
        users: dict[str, str] | None = None,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self.refuse: set[str] = set()
        self.changed = threading.Condition()
        self.port = free_port()
        self.users = users or {}
        self.tokens = tokens or {}
        kwargs: dict[str, Any] = {}
        if certificate is not None and not implicit:
            kwargs["tls_context"] = certificate.server_context()
        if users:
            kwargs["authenticator"] = self._authenticate
            # aiosmtpd counts only STARTTLS as TLS: over SMTPS the session is encrypted anyway.
            kwargs["auth_require_tls"] = not implicit
        else:
            kwargs["auth_require_tls"] = False
        self._controller = Controller(
            _Recorder(self),
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=certificate.server_context() if implicit and certificate else None,
            server_hostname="localhost",
            **kwargs,
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[Received]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.messages) >= count, timeout)
        return list(self.messages)


class SilentServer:
    """Accepts connections and never says a word (an SMTP server that hangs)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self.port: int = self._socket.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(conn)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._socket.close()
        for conn in self._held:
            conn.close()
