"""Turn outbox rows into messages (French templates, data file) and hand them to the notifier."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from dmp.adapters.db.repositories import RowMap
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.notify.base import Message, Notifier
from dmp.errors import ConfigurationError
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


def _addresses(uow: UnitOfWork, row: RowMap, params: dict[str, Any]) -> list[tuple[str, str]]:
    kind = row["recipient_kind"]
    if kind == "contact":
        found = [("email", params.get("email", "")), ("sms", params.get("phone", ""))]
    elif kind == "account":
        account = uow.records.account(row["recipient_id"])
        if account is None:
            return []
        found = [
            ("email", account["email"] if account["notify_email"] else ""),
            ("sms", account["phone"] if account["notify_sms"] else ""),
        ]
    else:
        found = [("email", uow.directory.professional_email(row["recipient_id"]) or "")]
    return [(channel, address) for channel, address in found if address]


def dispatch(ctx: Context, notifier: Notifier, limit: int = 500) -> int:
    """Send the pending notifications; returns how many outbox rows were handled."""
    with ctx.uow() as uow:
        rows = uow.outbox.pending(limit)
        for row in rows:
            params = json.loads(row["params"])
            message = render(row["template"], params)
            for channel, address in _addresses(uow, row, params):
                notifier.send(Message(channel, address, message.subject, message.body))
            uow.outbox.mark_sent(row["id"], ctx.now())
        uow.commit()
    return len(rows)
