"""E-mail by SMTP, with the standard library: implicit TLS, STARTTLS (never downgraded: a server
that does not offer it is a failure), or nothing on a loopback relay; the certificate is always
verified; every network operation has a timeout.

The protocol is driven one command at a time, so that a failure says on which side of the end of
the data it fell. Before the final ``.`` is written whole, the server cannot have taken the
message: ``DeliveryFailed``. After it, the server's answer is what says so; without an answer
(a timeout, a cut connection), the message may have been taken: ``DeliveryUncertain``.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from contextlib import suppress
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr

from dmp.adapters.notify.base import EMAIL, DeliveryFailed, DeliveryUncertain, Message
from dmp.settings import SmtpSettings

_ERRORS = (OSError, smtplib.SMTPException)
# Before the data: also a value smtplib cannot write (an address it cannot encode, say).
_ERRORS_BEFORE = (*_ERRORS, ValueError)
_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)


class SmtpSender:
    channels = frozenset({EMAIL})

    def __init__(self, settings: SmtpSettings, timeout: float) -> None:
        self.settings, self.timeout = settings, timeout

    def send(self, message: Message) -> None:
        payload = compose(message, self.settings.mail_from)
        smtp = self._open()
        try:
            self._envelope(smtp, message.address)
            self._transmit(smtp, payload)
        finally:
            _close(smtp)

    def _tls(self) -> ssl.SSLContext:
        ca_file = self.settings.ca_file
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        except _ERRORS as error:
            raise DeliveryFailed(_reason("connexion au serveur SMTP impossible", error)) from None
        try:
            self._greet(smtp)
        except _ERRORS_BEFORE as error:
            _close(smtp)
            raise DeliveryFailed(_reason("échec de la session SMTP", error)) from None
        return smtp

    def _greet(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo()
        if self.settings.security == "starttls":
            smtp.starttls(context=self._tls())
            smtp.ehlo()
        if self.settings.username and self.settings.password:
            smtp.login(self.settings.username, self.settings.password)

    def _envelope(self, smtp: smtplib.SMTP, address: str) -> None:
        """MAIL, RCPT, DATA: up to the server's go-ahead for the message itself."""
        try:
            _expect(smtp.mail(self.settings.mail_from), {250}, "expéditeur refusé")
            _expect(smtp.rcpt(address), {250, 251}, "destinataire refusé")
            _expect(smtp.docmd("DATA"), {354}, "DATA refusé")
        except _ERRORS_BEFORE as error:
            raise DeliveryFailed(_reason("échec de la session SMTP", error)) from None

    def _transmit(self, smtp: smtplib.SMTP, payload: bytes) -> None:
        data = _LINE_START_DOT.sub(b"..", payload)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        try:
            smtp.send(data + b".\r\n")
        except _ERRORS as error:  # the end of the data was not written whole
            raise DeliveryFailed(_reason("envoi interrompu avant la fin", error)) from None
        try:
            code, _ = smtp.getreply()
        except _ERRORS as error:
            raise DeliveryUncertain(
                _reason("aucune réponse du serveur SMTP après l'envoi du message", error)
            ) from None
        if code != 250:
            raise DeliveryFailed(f"message refusé par le serveur SMTP (code {code})")


def compose(message: Message, sender: str) -> bytes:
    """The e-mail, UTF-8 in quoted-printable (any server takes it), its Message-ID made of the
    message's reference so that the operator can find it in the relay's logs and a receiver can
    discard a duplicate."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "dmp.invalid"
    email = EmailMessage()
    try:
        email["From"] = sender
        email["To"] = message.address
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = f"<{message.reference}@{domain}>"
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no automatic replies to it
        email.set_content(message.body, charset="utf-8", cte="quoted-printable")
        return email.as_bytes(policy=SMTP_POLICY)
    except (ValueError, TypeError) as error:
        raise DeliveryFailed(f"message impossible à composer ({type(error).__name__})") from None


def _expect(reply: tuple[int, bytes], codes: set[int], what: str) -> None:
    if reply[0] not in codes:
        raise DeliveryFailed(f"{what} par le serveur SMTP (code {reply[0]})")


def _reason(what: str, error: BaseException) -> str:
    """The failure, without the server's text: it may quote the address."""
    code = getattr(error, "smtp_code", None)
    return f"{what} ({f'code {code}' if isinstance(code, int) else type(error).__name__})"


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring its answer: the message's fate is already known."""
    with suppress(*_ERRORS):
        smtp.quit()
    smtp.close()
