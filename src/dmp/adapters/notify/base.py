"""The notification port: a message to one address on one channel, and what can go wrong.

Senders (``smtp``, ``sms``, the demo's ``devoutbox``) implement ``Notifier``. A failure says
whether the message may have reached the recipient all the same: the delivery of the outbox
retries a message that surely did not, and never one that may have (see
docs/adr/0009-notification-delivery.md). Reasons are short, in French, and carry neither an
address nor a message's text: they are stored with the message and shown to the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from dmp.errors import DmpError

EMAIL, SMS = "email", "sms"
CHANNELS = frozenset({EMAIL, SMS})


@dataclass(frozen=True, slots=True)
class Message:
    channel: str  # email | sms
    address: str
    subject: str
    body: str
    # The outbox row's id (or a fresh id for a message sent at once): the e-mail's Message-ID
    # and the SMS gateway's client reference, so that a message can be traced and deduplicated.
    reference: str


class DeliveryFailed(DmpError):
    """The message did not reach the server or the gateway, or was refused by it: it was not
    delivered, and may be sent again later."""

    code = "delivery-failed"
    status = 503
    message = "L'envoi du message a échoué."

    def __init__(self, reason: str) -> None:
        super().__init__(f"{self.message} ({reason})")
        self.reason = reason


class DeliveryUncertain(DeliveryFailed):
    """The message was handed over whole, and then the answer never came (a timeout, a cut
    connection): it may have been delivered. Sending it again could deliver it twice."""

    code = "delivery-uncertain"
    message = "L'envoi du message n'a pas été confirmé."


class ChannelNotConfigured(DeliveryFailed):
    """No sender for this channel (no SMS gateway, say): nothing was attempted."""

    code = "channel-not-configured"
    message = "Ce canal de notification n'est pas configuré."


class Notifier(Protocol):
    @property
    def channels(self) -> frozenset[str]:
        """The channels this notifier delivers; empty when notifications are switched off."""
        ...

    def send(self, message: Message) -> None:
        """Deliver, or raise ``DeliveryFailed`` (or its ``DeliveryUncertain``)."""
        ...


class Channels:
    """The notifier of the service: each channel to its own sender, those not configured
    refused with ``ChannelNotConfigured``. With no sender at all, notifications are off."""

    def __init__(self, senders: Mapping[str, Notifier]) -> None:
        self._senders = dict(senders)

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(self._senders)

    def send(self, message: Message) -> None:
        sender = self._senders.get(message.channel)
        if sender is None:
            raise ChannelNotConfigured(f"canal {message.channel} non configuré")
        sender.send(message)
