"""Real servers for the notification tests: an SMTP server (aiosmtpd, with STARTTLS, implicit TLS
and authentication under a certificate authority made here), and an SMS gateway (``http.server``
in a thread) that records what it was posted. And the context's settings pointed at them."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dmp.bootstrap import notifier
from dmp.services.context import Context
from dmp.settings import DeliverySettings, SmsSettings, SmtpSettings

LOGIN, PASSWORD = "dmp-relais", "mot-de-passe-du-relais"
MAIL_FROM = "ne-pas-repondre@dmp.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None

    @property
    def email(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def body(self) -> str:
        return str(self.email.get_content()).strip()


@dataclass
class Inbox:
    """The server's handler: keeps every message it accepts. ``hold``: seconds to wait, the
    message taken, before answering (a server that never confirms, to a client's timeout)."""

    received: list[Received] = field(default_factory=list)
    hold: float = 0.0
    refused: set[str] = field(default_factory=set)  # recipients answered "550 no such user"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
            )
        if self.hold:
            await asyncio.sleep(self.hold)
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(r.email["Message-ID"]) for r in self.received]


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    good = (data.login, data.password) == (LOGIN.encode(), PASSWORD.encode())
    return AuthResult(success=good, handled=False, auth_data=data)


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox


@contextmanager
def smtp_server(
    port: int | None = None, *, tls: TlsFiles | None = None, implicit: bool = False
) -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1. With ``tls``: STARTTLS required, and authentication (over
    TLS only); ``implicit``: TLS from the first byte (SMTPS) instead."""
    inbox, port = Inbox(), port or free_port()
    options: dict[str, Any] = {}
    if tls is not None and implicit:
        options = {"ssl_context": tls.server_context()}
    elif tls is not None:
        options = {
            "tls_context": tls.server_context(),
            "require_starttls": True,
            "auth_required": True,
            "authenticator": _authenticate,
        }
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(port, inbox)
    finally:
        controller.stop()


@dataclass
class TlsFiles:
    """A certificate authority made for the test, and the server's certificate for 127.0.0.1
    and localhost signed by it."""

    ca: Path
    certificate: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)
        return context


def make_tls_files(folder: Path) -> TlsFiles:
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Autorité de test dmp")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def plain_smtp(port: int, **changes: Any) -> SmtpSettings:
    """The settings of an SMTP relay on this machine, without TLS."""
    return SmtpSettings("127.0.0.1", port, "none", **({"mail_from": MAIL_FROM} | changes))


# --- SMS gateway --------------------------------------------------------------------------------


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class SmsStub:
    """An SMS gateway that answers ``status`` (after ``hold`` seconds) and records each post."""

    def __init__(self) -> None:
        self.posted: list[Posted] = []
        self.status, self.hold = 200, 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                stub.posted.append(Posted(self.path, dict(self.headers.items()), body))
                time.sleep(stub.hold)
                self.send_response(stub.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the test reads ``posted``."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/sms"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmsStub:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the context --------------------------------------------------------------------------------


def send_through(
    ctx: Context,
    smtp: SmtpSettings | None = None,
    sms: SmsSettings | None = None,
    **delivery: Any,
) -> None:
    """Give the context the notifier the service would pick for these settings; ``delivery``:
    changes to the delivery settings (a short timeout by default: the tests wait on it)."""
    options = {"timeout_seconds": 2.0} | delivery
    ctx.settings = ctx.settings.with_(
        smtp=smtp, sms=sms, delivery=DeliverySettings(enabled=True, **options)
    )
    ctx.notifier = notifier(ctx.settings)
