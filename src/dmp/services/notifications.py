"""Messages: their French templates (a data file), where a queued one goes, and the ones sent at
once. The delivery of the outbox is ``services.delivery``.

Addresses are opened only here, when sending: an account's with the account's key, the last
message of a destroyed DMP's with the message's own key, destroyed once the message is sent.
Messages never carry health data: e-mail and SMS are not secure channels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from uuid import uuid4

import yaml

from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.adapters.keystore import KeyDestroyed
from dmp.adapters.notify.base import (
    CHANNELS,
    EMAIL,
    SMS,
    ChannelNotConfigured,
    DeliveryFailed,
    Message,
)
from dmp.adapters.notify.devoutbox import DevOutbox, SentMessage
from dmp.domain.trail import OutboxMessage
from dmp.errors import ConfigurationError, NotFound, NotificationUnavailable
from dmp.services.accounts import contacts_of
from dmp.services.context import Context
from dmp.services.notices import channels_for

_BY = {EMAIL: "e-mail", SMS: "SMS"}


@dataclass(frozen=True, slots=True)
class Template:
    subject: str
    body: str
    immediate: bool = False  # sent at once by ``send_now``, never queued


@cache
def templates() -> dict[str, Template]:
    raw = yaml.safe_load(resources.files("dmp.data").joinpath("messages.yaml").read_text("utf-8"))
    try:
        return {
            name: Template(v["subject"], v["body"], bool(v.get("immediate", False)))
            for name, v in raw["templates"].items()
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"messages.yaml is malformed: {exc!r}") from exc


def render(name: str, params: dict[str, Any]) -> Template:
    template = templates()[name]
    return Template(template.subject.format(**params), template.body.format(**params))


def send_now(ctx: Context, channel: str, address: str, template: str, **params: str) -> None:
    """Send a message at once, not through the outbox: a one-time code, useless minutes later,
    which must not be stored (nothing of it is written anywhere). Not retried either: a channel
    that is down is a ``NotificationUnavailable`` (503) for the person, who asks again later
    (or by the other channel, when this one is not offered). Only the templates marked
    ``immediate`` go this way. (In demo mode the demo's outbox keeps what it shows: that is
    the demo page's purpose, for synthetic people.)"""
    chosen = templates().get(template)
    if chosen is None or not chosen.immediate:
        raise ValueError(f"{template!r} is not a message sent at once")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    text = render(template, params)
    try:
        ctx.notifier.send(Message(channel, address, text.subject, text.body, str(uuid4())))
    except ChannelNotConfigured as failure:
        raise NotificationUnavailable(
            f"L'envoi par {_BY[channel]} n'est pas proposé par ce service."
        ) from failure
    except DeliveryFailed as failure:
        raise NotificationUnavailable(
            f"L'envoi par {_BY[channel]} est momentanément impossible. "
            "Réessayez dans quelques minutes."
        ) from failure


def demo_messages(ctx: Context, limit: int = 20) -> list[SentMessage]:
    """The latest messages the demo "sent" (the demo page of one-time codes), newest first.
    Demo mode only: elsewhere there is nothing to show, as if the page did not exist."""
    if not ctx.settings.demo or not isinstance(ctx.notifier, DevOutbox):
        raise NotFound()
    return ctx.notifier.recent(limit)


def addresses(ctx: Context, uow: UnitOfWork, message: OutboxMessage) -> list[tuple[str, str]]:
    """Where a queued message goes: (channel, address) pairs, as its recipient's choices of
    notices (``services.notices``) and contact channels stand now: a notice turned off, or a
    channel, is not sent from then on, those queued included; a required one always is."""
    kind = message.recipient_kind
    if kind == "contact":
        found = _sealed_addresses(ctx, message)
    elif kind == "account":
        account = uow.records.account(message.recipient_id)
        if account is None:
            return []
        contacts = contacts_of(ctx, account)
        registered = {EMAIL: contacts.email, SMS: contacts.phone}
        wanted = channels_for(account, message.template, {c for c, a in registered.items() if a})
        found = [(c, registered[c] if c in wanted else "") for c in (EMAIL, SMS)]
    else:
        found = [(EMAIL, uow.directory.professional_email(message.recipient_id) or "")]
    return [(channel, address) for channel, address in found if address]


def _sealed_addresses(ctx: Context, message: OutboxMessage) -> list[tuple[str, str | None]]:
    """The addresses a message carries, sealed under its own key (none if that key is gone)."""
    if message.contact_enc is None:
        return []
    try:
        cipher = FieldCipher(message.id, ctx.keys.get(message.id))
    except KeyDestroyed:
        return []
    sealed = json.loads(cipher.open("contact", "outbox", message.contact_enc))
    return [(EMAIL, sealed.get("email")), (SMS, sealed.get("phone"))]
