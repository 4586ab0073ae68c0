"""The patient's overview of their DMP, the portal's first page: its state (and, closed, when
its data will be destroyed and how to have it reactivated), the latest documents, the latest
accesses by professionals, the latest notices sent to the patient. One door, one audit entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.model import Actor, Document, RecordState
from dmp.services import gate
from dmp.services.context import Context
from dmp.services.documents import as_documents
from dmp.services.gate import Door, Reading
from dmp.services.history import HistoryEntry, HistoryQuery, entries_of
from dmp.services.jobs import RETENTION_YEARS, months_before
from dmp.services.notifications import render

LATEST = 5
BY_PROFESSIONALS = HistoryQuery(actor_kinds=frozenset({"professional"}))


@dataclass(frozen=True, slots=True)
class Notice:
    at: datetime
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Overview:
    dmp_id: UUID
    patient_name: str
    ins: str | None
    state: RecordState
    created_at: datetime
    closed_at: datetime | None
    destroyed_after: datetime | None  # closed: when the scheduled job destroys its data
    medecin_traitant: str | None
    oppose_emergency: bool
    oppose_samu: bool
    minor: bool
    documents: list[Document]
    accesses: list[HistoryEntry]
    notices: list[Notice]


def overview(ctx: Context, actor: Actor, dmp_id: UUID) -> Overview:
    with ctx.uow() as uow:
        door = gate.enter(ctx, uow, Reading(actor), "portal.overview", dmp_id, policy.read_history)
        found = door.readable_documents()[:LATEST]
        documents = as_documents(ctx, door, found, frozenset(d.document.id for d in found))
        accesses = entries_of(ctx, door, BY_PROFESSIONALS, limit=LATEST).entries
        seen = _overview(ctx, uow, door, documents, accesses)
        door.record()
        uow.commit()
    return seen


def _overview(
    ctx: Context,
    uow: UnitOfWork,
    door: Door,
    documents: list[Document],
    accesses: list[HistoryEntry],
) -> Overview:
    record, facts, identity = door.loaded.record, door.facts, door.loaded.identity
    closed_at = record.closed_at
    destroyed_after = None
    if facts.state is RecordState.CLOSED and closed_at is not None:
        destroyed_after = months_before(closed_at, -12 * RETENTION_YEARS)
    return Overview(
        dmp_id=door.dmp_id,
        patient_name=f"{identity.given_names} {identity.family_name}",
        ins=door.cipher.open_optional("ins", "record", record.ins_enc),
        state=facts.state,
        created_at=record.created_at,
        closed_at=closed_at,
        destroyed_after=destroyed_after,
        medecin_traitant=_name(uow, facts.medecin_traitant_id),
        oppose_emergency=facts.oppose_emergency,
        oppose_samu=facts.oppose_samu,
        minor=facts.patient_is_minor,
        documents=documents,
        accesses=accesses,
        notices=_notices(uow, record.patient_account_id),
    )


def _name(uow: UnitOfWork, professional_id: UUID | None) -> str | None:
    if professional_id is None:
        return None
    found = uow.directory.professional(professional_id)
    return (
        f"Dr {found.display_name}"
        if found and found.profession == "10"
        else (found.display_name if found else None)
    )


def _notices(uow: UnitOfWork, account_id: UUID) -> list[Notice]:
    """The latest messages the service sent (or will send) to the patient, as they read."""
    messages = uow.outbox.for_recipient(account_id)[-LATEST:]
    notices = []
    for message in reversed(messages):
        text = render(message.template, json.loads(message.params))
        notices.append(Notice(message.created_at, text.subject, text.body))
    return notices
