"""Turn outbox rows into messages (French templates, data file) and hand them to the notifier.

Addresses are opened only here, when sending: an account's with the account's key, the last
message of a destroyed DMP's with the message's own key, destroyed once the message is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from uuid import UUID

import yaml

from dmp.adapters.db.repositories import RowMap
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.adapters.keystore import KeyDestroyed
from dmp.adapters.notify.base import Message, Notifier
from dmp.errors import ConfigurationError
from dmp.services.accounts import contacts_of
from dmp.services.context import Context


@dataclass(frozen=True, slots=True)
class Template:
    subject: str
    body: str


@cache
def templates() -> dict[str, Template]:
    raw = yaml.safe_load(resources.files("dmp.data").joinpath("messages.yaml").read_text("utf-8"))
    try:
        return {name: Template(v["subject"], v["body"]) for name, v in raw["templates"].items()}
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(f"messages.yaml is malformed: {exc!r}") from exc


def render(name: str, params: dict[str, Any]) -> Template:
    template = templates()[name]
    return Template(template.subject.format(**params), template.body.format(**params))


def send_now(ctx: Context, channel: str, address: str, template: str, **params: str) -> None:
    """Send a message at once, not through the outbox: a one-time code, useless minutes later,
    which must not be stored."""
    text = render(template, params)
    ctx.notifier.send(Message(channel, address, text.subject, text.body))


def _addresses(ctx: Context, uow: UnitOfWork, row: RowMap) -> list[tuple[str, str]]:
    kind = row["recipient_kind"]
    if kind == "contact":
        found = _sealed_addresses(ctx, row)
    elif kind == "account":
        account = uow.records.account(row["recipient_id"])
        if account is None:
            return []
        contacts = contacts_of(ctx, account)
        found = [
            ("email", contacts.email if account["notify_email"] else ""),
            ("sms", contacts.phone if account["notify_sms"] else ""),
        ]
    else:
        found = [("email", uow.directory.professional_email(row["recipient_id"]) or "")]
    return [(channel, address) for channel, address in found if address]


def _sealed_addresses(ctx: Context, row: RowMap) -> list[tuple[str, str | None]]:
    """The addresses a message carries, sealed under its own key (none if that key is gone)."""
    if row["contact_enc"] is None:
        return []
    try:
        cipher = FieldCipher(row["id"], ctx.keys.get(row["id"]))
    except KeyDestroyed:
        return []
    addresses = json.loads(cipher.open("contact", "outbox", row["contact_enc"]))
    return [("email", addresses.get("email")), ("sms", addresses.get("phone"))]


def dispatch(ctx: Context, notifier: Notifier, limit: int = 500) -> int:
    """Send the pending notifications; returns how many outbox rows were handled."""
    with ctx.uow() as uow:
        rows = uow.outbox.pending(limit)
        ctx.keys.prefetch(_key_ids(rows))  # one key-store query for the whole batch
        for row in rows:
            message = render(row["template"], json.loads(row["params"]))
            for channel, address in _addresses(ctx, uow, row):
                notifier.send(Message(channel, address, message.subject, message.body))
            uow.outbox.mark_sent(row["id"], ctx.now())
        uow.commit()
    for row in rows:
        if row["contact_enc"] is not None:
            ctx.keys.destroy(row["id"])  # sent: the addresses it sealed are shredded
    return len(rows)


def _key_ids(rows: list[RowMap]) -> list[UUID]:
    """The keys that open the addresses of these messages: their accounts', or their own."""
    ids = {r["recipient_id"] for r in rows if r["recipient_kind"] == "account"}
    return sorted(ids | {r["id"] for r in rows if r["contact_enc"] is not None}, key=str)
