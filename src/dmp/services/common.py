"""Helpers shared by the use cases: queuing a notification, French dates."""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID, uuid4

from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.model import ContactChannels
from dmp.services.context import Context
from dmp.services.gate import Door
from dmp.services.notifications import templates


def notify(
    uow: UnitOfWork,
    now: datetime,
    dmp_id: UUID | None,
    recipient_kind: str,
    recipient_id: UUID,
    template: str,
    **params: str,
) -> None:
    """Queue a notification in the outbox, in the same transaction as the action it reports.
    Never a one-time code: those are sent at once and stored nowhere (``send_now``)."""
    if templates()[template].immediate:
        raise ValueError(f"{template!r} is sent at once, never queued")
    uow.outbox.add(
        {
            "id": uuid4(),
            "dmp_id": dmp_id,
            "recipient_kind": recipient_kind,
            "recipient_id": recipient_id,
            "template": template,
            "params": json.dumps(params, ensure_ascii=False),
            "created_at": now,
            "attempts": 0,
        }
    )


def notify_address(
    ctx: Context,
    uow: UnitOfWork,
    now: datetime,
    dmp_id: UUID | None,
    contact: ContactChannels,
    template: str,
    **params: str,
) -> None:
    """Queue a notification to an address that is no longer the account's (one just replaced
    or removed): it is told of the change, in case it was not its owner's doing. The address
    is sealed in the message under a key of the message's own, destroyed once it is sent."""
    if templates()[template].immediate:
        raise ValueError(f"{template!r} is sent at once, never queued")
    message_id = uuid4()
    cipher = FieldCipher(message_id, ctx.keys.create(message_id))
    addresses = {"email": contact.email or "", "phone": contact.phone or ""}
    uow.outbox.add(
        {
            "id": message_id,
            "dmp_id": dmp_id,
            "recipient_kind": "contact",
            "recipient_id": message_id,
            "template": template,
            "params": json.dumps(params, ensure_ascii=False),
            "contact_enc": cipher.seal("contact", "outbox", json.dumps(addresses)),
            "created_at": now,
            "attempts": 0,
        }
    )


def notify_patient(door: Door, template: str, **params: str) -> None:
    """Queue a notification to the patient's account about their own DMP."""
    account = door.loaded.record.patient_account_id
    notify(door.uow, door.ctx.now(), door.dmp_id, "account", account, template, **params)


def notify_professional(door: Door, professional_id: UUID, template: str, **params: str) -> None:
    """Queue a notification to a professional about this DMP (secure messaging address)."""
    notify(
        door.uow, door.ctx.now(), door.dmp_id, "professional", professional_id, template, **params
    )


def french_date(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y à %H:%M UTC")
