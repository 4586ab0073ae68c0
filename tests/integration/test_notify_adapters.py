"""The e-mail and SMS senders against real servers: an aiosmtpd SMTP server (in clear on the
loopback, STARTTLS with authentication, implicit TLS, under a certificate authority made by the
test) and an HTTP gateway that records what it was posted. Each failure says whether the message
may have left all the same."""

from __future__ import annotations

import base64
import uuid

import pytest

from dmp.adapters.notify.base import DeliveryFailed, DeliveryUncertain, Message
from dmp.adapters.notify.sms import SmsGateway
from dmp.adapters.notify.smtp import SmtpSender
from dmp.settings import SmsSettings, SmtpSettings
from tests.integration.mail import (
    LOGIN,
    MAIL_FROM,
    PASSWORD,
    SmsStub,
    free_port,
    make_tls_files,
    plain_smtp,
    smtp_server,
)

SUBJECT = "Un document a été ajouté à votre DMP"
BODY = (
    "Bonjour, un nouveau document a été ajouté à votre DMP le 02/03/2026 à 09:30 UTC. « Élodie » ç"
)


def _email(reference: str | None = None) -> Message:
    return Message("email", "alice@example.org", SUBJECT, BODY, reference or str(uuid.uuid4()))


@pytest.fixture
def tls(tmp_path):
    return make_tls_files(tmp_path / "tls")


def test_an_email_reaches_the_server_in_utf8_with_its_message_id():
    reference = str(uuid.uuid4())
    with smtp_server() as server:
        SmtpSender(plain_smtp(server.port), timeout=5).send(_email(reference))
    [got] = server.inbox.received
    assert (got.mail_from, got.rcpt_tos) == (MAIL_FROM, ["alice@example.org"])
    email = got.email
    assert (email["From"], email["To"], email["Subject"]) == (
        MAIL_FROM,
        "alice@example.org",
        SUBJECT,
    )
    assert email["Message-ID"] == f"<{reference}@dmp.example>"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email.get_content_charset() == "utf-8"
    assert got.body == BODY
    assert got.content.isascii()  # quoted-printable: any relay takes it


def test_a_sender_with_a_display_name():
    sender = "DMP — Assurance Maladie <ne-pas-repondre@dmp.example>"
    with smtp_server() as server:
        SmtpSender(plain_smtp(server.port, mail_from=sender), timeout=5).send(_email("ref"))
    [got] = server.inbox.received
    assert got.mail_from == MAIL_FROM  # the envelope's sender is the bare address
    assert got.email["From"].addresses[0].display_name == "DMP — Assurance Maladie"
    assert got.email["Message-ID"] == "<ref@dmp.example>"


def test_starttls_with_the_certificate_verified_and_authentication(tls):
    settings = SmtpSettings(
        "127.0.0.1", free_port(), "starttls", LOGIN, PASSWORD, tls.ca, mail_from=MAIL_FROM
    )
    with smtp_server(settings.port, tls=tls) as server:
        SmtpSender(settings, timeout=5).send(_email())
    [got] = server.inbox.received
    assert got.login == LOGIN
    assert got.body == BODY


def test_a_certificate_the_system_does_not_trust_is_refused(tls):
    """Verification is on by default: without DMP_SMTP_CA_FILE, the test's authority is
    unknown, and nothing is sent (not even the password)."""
    settings = SmtpSettings("127.0.0.1", free_port(), "starttls", LOGIN, PASSWORD)
    with (
        smtp_server(settings.port, tls=tls) as server,
        pytest.raises(DeliveryFailed, match="SSLCertVerificationError") as failed,
    ):
        SmtpSender(settings, timeout=5).send(_email())
    assert not isinstance(failed.value, DeliveryUncertain)
    assert server.inbox.received == []


def test_a_wrong_password_is_a_failure(tls):
    settings = SmtpSettings("127.0.0.1", free_port(), "starttls", LOGIN, "faux", tls.ca)
    with (
        smtp_server(settings.port, tls=tls) as server,
        pytest.raises(DeliveryFailed, match="code 535"),
    ):
        SmtpSender(settings, timeout=5).send(_email())
    assert server.inbox.received == []


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it():
    with smtp_server() as server:  # no TLS at all
        settings = SmtpSettings("127.0.0.1", server.port, "starttls", mail_from=MAIL_FROM)
        with pytest.raises(DeliveryFailed, match="SMTPNotSupportedError"):
            SmtpSender(settings, timeout=5).send(_email())
    assert server.inbox.received == []


def test_implicit_tls(tls):
    settings = SmtpSettings("127.0.0.1", free_port(), "tls", ca_file=tls.ca, mail_from=MAIL_FROM)
    with smtp_server(settings.port, tls=tls, implicit=True) as server:
        SmtpSender(settings, timeout=5).send(_email())
    assert [r.body for r in server.inbox.received] == [BODY]


def test_no_server_listening_is_a_failure_not_an_uncertainty():
    with pytest.raises(DeliveryFailed, match="connexion au serveur SMTP impossible") as failed:
        SmtpSender(plain_smtp(free_port()), timeout=2).send(_email())
    assert not isinstance(failed.value, DeliveryUncertain)


def test_a_refused_recipient_is_a_failure_whose_reason_does_not_quote_the_address():
    with smtp_server() as server:
        server.inbox.refused.add("alice@example.org")
        with pytest.raises(DeliveryFailed) as failed:
            SmtpSender(plain_smtp(server.port), timeout=5).send(_email())
    assert failed.value.reason == "destinataire refusé par le serveur SMTP (code 550)"
    assert server.inbox.received == []


def test_a_message_taken_and_never_confirmed_is_uncertain():
    with smtp_server() as server:
        server.inbox.hold = 3  # the server has the message, and answers after the timeout
        with pytest.raises(DeliveryUncertain, match="aucune réponse du serveur SMTP"):
            SmtpSender(plain_smtp(server.port), timeout=1).send(_email())
    assert len(server.inbox.received) == 1


# --- SMS ----------------------------------------------------------------------------------------

TEMPLATE = (
    '{"destinataire": "{number}", "message": "{text}", "ref": "dmp-{reference}", '
    '"options": {"expediteur": "DMP", "classe": 1}}'
)
TEXT = 'Code : 123456. Ne le donnez à personne, même à « quelqu\'un » qui dit "DMP".\n{reference}'


def _sms(reference: str) -> Message:
    return Message("sms", "+33612345678", "Objet sans usage en SMS", TEXT, reference)


def test_an_sms_is_posted_with_a_bearer_token_and_the_rendered_template():
    reference = str(uuid.uuid4())
    with SmsStub() as gateway:
        settings = SmsSettings(gateway.url, token="jeton-de-la-passerelle", template=TEMPLATE)
        SmsGateway(settings, timeout=5).send(_sms(reference))
    [posted] = gateway.posted
    assert posted.path == "/v1/sms"
    assert posted.headers["Authorization"] == "Bearer jeton-de-la-passerelle"
    assert posted.headers["Content-Type"] == "application/json; charset=utf-8"
    assert posted.json == {
        "destinataire": "+33612345678",
        "message": TEXT,  # quotes, newline and "{reference}" in the text are kept as they are
        "ref": f"dmp-{reference}",
        "options": {"expediteur": "DMP", "classe": 1},
    }


def test_an_sms_with_basic_authentication():
    with SmsStub() as gateway:
        settings = SmsSettings(gateway.url, username="dmp", password="secret-sms")
        SmsGateway(settings, timeout=5).send(_sms("ref-1"))
    [posted] = gateway.posted
    assert (
        posted.headers["Authorization"] == "Basic " + base64.b64encode(b"dmp:secret-sms").decode()
    )
    assert posted.json == {"to": "+33612345678", "text": TEXT, "reference": "ref-1"}


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_an_answer_other_than_2xx_is_a_failure(status):
    with SmsStub() as gateway:
        gateway.status = status
        with pytest.raises(DeliveryFailed, match=f"réponse HTTP {status}") as failed:
            SmsGateway(SmsSettings(gateway.url, token="t"), timeout=5).send(_sms("r"))
    assert not isinstance(failed.value, DeliveryUncertain)


def test_a_gateway_not_listening_is_a_failure_not_an_uncertainty():
    url = f"http://127.0.0.1:{free_port()}/v1/sms"
    with pytest.raises(DeliveryFailed, match="passerelle SMS injoignable") as failed:
        SmsGateway(SmsSettings(url, token="t"), timeout=2).send(_sms("r"))
    assert not isinstance(failed.value, DeliveryUncertain)


def test_a_gateway_that_takes_the_request_and_never_answers_is_uncertain():
    with SmsStub() as gateway:
        gateway.hold = 3
        with pytest.raises(DeliveryUncertain, match="ReadTimeout"):
            SmsGateway(SmsSettings(gateway.url, token="t"), timeout=1).send(_sms("r"))
    assert len(gateway.posted) == 1
