"""The demo's outbox (console and folder, ``recent``), the routing of channels, the SMS
template's rendering, and which notifier the service gets for its settings."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dmp.adapters.notify.base import ChannelNotConfigured, Channels, DeliveryFailed, Message
from dmp.adapters.notify.devoutbox import DevOutbox
from dmp.adapters.notify.sms import SmsGateway, render
from dmp.adapters.notify.smtp import SmtpSender, compose
from dmp.bootstrap import notifier
from dmp.errors import ConfigurationError
from dmp.settings import DeliverySettings, Settings, SmsSettings, SmtpSettings


def _message(n: int, channel: str = "email") -> Message:
    return Message(channel, "alice@example.org", f"Objet {n}", f"Votre code : {n:06d}", f"ref-{n}")


def test_the_demo_outbox_shows_each_message_on_the_console_and_keeps_it(tmp_path):
    console = io.StringIO()
    outbox = DevOutbox(tmp_path / "outbox", console)
    outbox.send(_message(1))
    outbox.send(Message("sms", "+33612345678", "", "Votre code : 424242", "ref-2"))
    shown = console.getvalue()
    assert "[DMP démo] E-mail à alice@example.org — Objet 1\n    Votre code : 000001\n" in shown
    assert "[DMP démo] SMS au +33612345678\n    Votre code : 424242\n" in shown
    [first, second] = sorted((tmp_path / "outbox").glob("*.json"))
    assert json.loads(first.read_text())["body"] == "Votre code : 000001"
    assert second.name.endswith("-ref-2-sms.json")
    assert not list((tmp_path / "outbox").glob(".*"))  # no partial file left behind


def test_recent_lists_the_latest_messages_newest_first(tmp_path):
    outbox = DevOutbox(tmp_path / "outbox", io.StringIO())
    assert outbox.recent() == []  # nothing sent yet: no folder either
    for n in range(5):
        outbox.send(_message(n))
    latest = outbox.recent(3)
    assert [m.message for m in latest] == [_message(4), _message(3), _message(2)]
    assert latest[0].at >= latest[1].at >= latest[2].at
    assert latest[0].at.tzinfo is not None
    assert len(outbox.recent()) == 5


def test_the_demo_outbox_writes_to_the_standard_output_of_the_moment(tmp_path, capsys):
    DevOutbox(tmp_path).send(_message(7))
    assert "Votre code : 000007" in capsys.readouterr().out


def test_a_channel_without_sender_is_refused_not_dropped(tmp_path):
    demo = DevOutbox(tmp_path, io.StringIO())
    channels = Channels({"email": demo})
    assert channels.channels == frozenset({"email"})
    channels.send(_message(1))
    with pytest.raises(ChannelNotConfigured, match="canal sms non configuré"):
        channels.send(_message(2, "sms"))
    assert [m.message.channel for m in demo.recent()] == ["email"]
    assert Channels({}).channels == frozenset()


def test_the_sms_template_is_filled_in_one_pass_and_stays_json():
    template = '{"n": "{number}", "t": ["{text}", 3], "r": "x-{reference}", "k": null}'
    values = {"number": "+33600000000", "text": 'a "{reference}" é\n', "reference": "R"}
    assert json.loads(render(template, values)) == {
        "n": "+33600000000",
        "t": ['a "{reference}" é\n', 3],
        "r": "x-R",
        "k": None,
    }


def test_an_address_that_would_break_the_headers_is_a_failure_not_a_crash():
    with pytest.raises(DeliveryFailed, match="message impossible à composer"):
        compose(Message("email", "a@b.fr\r\nBcc: x@y.fr", "s", "b", "r"), "dmp@dmp.example")


# --- which notifier -----------------------------------------------------------------------------


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(tmp_path, "sqlite://", "sqlite://", tmp_path, "", "").with_(**changes)


def test_outside_demo_mode_no_channel_is_a_refusal_to_start(tmp_path):
    with pytest.raises(ConfigurationError) as refused:
        notifier(_settings(tmp_path))
    assert refused.value.message.startswith(
        "Aucun canal de notification n'est configuré : renseignez DMP_SMTP_HOST (e-mail) "
        "et/ou DMP_SMS_URL (SMS), ou désactivez explicitement les notifications avec "
        "DMP_NOTIFICATIONS=off."
    )


def test_the_notifier_follows_the_settings(tmp_path):
    demo = notifier(_settings(tmp_path, demo=True))
    assert isinstance(demo, DevOutbox)
    assert demo.folder == tmp_path / "outbox"
    off = notifier(_settings(tmp_path, delivery=DeliverySettings(enabled=False)))
    assert off.channels == frozenset()
    smtp, sms = SmtpSettings("relais.example"), SmsSettings("https://sms.example/v1")
    assert notifier(_settings(tmp_path, smtp=smtp)).channels == {"email"}
    both = notifier(_settings(tmp_path, smtp=smtp, sms=sms, demo=True))  # real ones win
    assert both.channels == {"email", "sms"}
    assert isinstance(both, Channels)
    assert isinstance(both._senders["email"], SmtpSender)
    assert isinstance(both._senders["sms"], SmsGateway)
    switched_off = _settings(tmp_path, smtp=smtp, delivery=DeliverySettings(enabled=False))
    assert notifier(switched_off).channels == frozenset()
