"""Helpers shared by the use cases: loading a record with its facts, refusing with an audit
entry, queuing a notification."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NoReturn
from uuid import UUID, uuid4

from dmp.adapters.db.repositories import RowMap
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    AccessMode,
    Actor,
    PatientIdentity,
    RecordFacts,
    RecordState,
)
from dmp.errors import DmpError, NotFound
from dmp.policy import Decision
from dmp.services import audit
from dmp.services.context import Context

NO_DOCUMENT = "no-document"  # audit reason: no document by that id in this DMP
DESTROYING = "destroying"  # stored state while a destruction is under way (see records.destroy)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A DMP loaded for a use case: its row, the facts the policy needs, and its cipher."""

    row: RowMap
    facts: RecordFacts
    cipher: FieldCipher
    identity: PatientIdentity

    @property
    def dmp_id(self) -> UUID:
        return self.facts.dmp_id


def identity_to_json(identity: PatientIdentity) -> str:
    return json.dumps(
        {
            "family_name": identity.family_name,
            "given_names": identity.given_names,
            "birth_date": identity.birth_date.isoformat(),
            "gender": identity.gender,
            "birth_name": identity.birth_name,
        },
        ensure_ascii=False,
    )


def identity_from_json(text: str) -> PatientIdentity:
    from datetime import date

    raw = json.loads(text)
    return PatientIdentity(
        raw["family_name"],
        raw["given_names"],
        date.fromisoformat(raw["birth_date"]),
        raw["gender"],
        raw.get("birth_name"),
    )


def cipher_for(ctx: Context, dmp_id: UUID) -> FieldCipher:
    return FieldCipher(dmp_id, ctx.keys.get(dmp_id))


def load(ctx: Context, uow: UnitOfWork, row: RowMap | None) -> Loaded | None:
    """The facts of a record row; None when there is no such record (or it is being destroyed)."""
    if row is None or row["state"] == DESTROYING:
        return None
    cipher = cipher_for(ctx, row["dmp_id"])
    identity = identity_from_json(cipher.open("identity", "record", row["identity_enc"]))
    minor = identity.is_minor_on(ctx.now().date())
    return Loaded(row, uow.records.facts(row, patient_is_minor=minor), cipher, identity)


def load_by_id(
    ctx: Context, uow: UnitOfWork, dmp_id: UUID, *, for_update: bool = False
) -> Loaded | None:
    return load(ctx, uow, uow.records.get(dmp_id, for_update=for_update))


def load_or_refuse(
    ctx: Context,
    uow: UnitOfWork,
    actor: Actor,
    patient: UUID | Ins,
    action: str,
    mode: AccessMode = AccessMode.NORMAL,
    justification: str | None = None,
) -> Loaded:
    """The DMP given by its id or by the patient's INS. When there is none, the refusal is
    written to the audit trail (the system chain), committed, and answered as not found."""
    if isinstance(patient, Ins):
        loaded = load(ctx, uow, uow.records.by_ins(patient.value))
        kind, target = "ins", patient.value
    else:
        loaded, kind, target = load_by_id(ctx, uow, patient), "record", str(patient)
    if loaded is None:
        event = audit.Event(action, False, "no-record", kind, target, mode, justification)
        record_audit(ctx, uow, None, actor, event)
        uow.commit()
        raise hidden()
    return loaded


def record_audit(
    ctx: Context, uow: UnitOfWork, loaded: Loaded | None, actor: Actor, event: audit.Event
) -> None:
    dmp_id = loaded.dmp_id if loaded else None
    cipher = loaded.cipher if loaded else None
    if cipher is None and event.justification is not None:
        # No DMP, no key: a justification given for a record that does not exist is not kept.
        event = replace(event, justification=None)
    audit.append(uow, ctx.signer, ctx.now(), dmp_id, actor, event, cipher)


def refuse(
    ctx: Context,
    uow: UnitOfWork,
    loaded: Loaded | None,
    actor: Actor,
    action: str,
    decision: Decision | str,
    error: DmpError,
    *,
    target_kind: str | None = None,
    target_id: object | None = None,
    mode: AccessMode = AccessMode.NORMAL,
    justification: str | None = None,
    secret: bool = False,
) -> NoReturn:
    """Write the refusal to the audit trail, commit it, and raise ``error``. The reason is the
    policy's decision, or a code of the service's own ("no-document": nothing by that id)."""
    reason = decision if isinstance(decision, str) else decision.reason
    event = audit.Event(action, False, reason, target_kind, target_id, mode, justification, secret)
    record_audit(ctx, uow, loaded, actor, event)
    uow.commit()
    raise error


def hidden(what: str = "DMP") -> NotFound:
    """Refusals of access look exactly like absence."""
    return NotFound(f"{what} introuvable ou accès non autorisé.")


def notify(
    uow: UnitOfWork,
    now: datetime,
    dmp_id: UUID | None,
    recipient_kind: str,
    recipient_id: UUID,
    template: str,
    **params: str,
) -> None:
    """Queue a notification in the outbox, in the same transaction as the action it reports."""
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


def notify_patient(
    uow: UnitOfWork, now: datetime, loaded: Loaded, template: str, **params: str
) -> None:
    """Queue a notification to the patient's account about their own DMP."""
    notify(uow, now, loaded.dmp_id, "account", loaded.row["patient_account_id"], template, **params)


def state_of(row: RowMap | None) -> RecordState | None:
    if row is None:
        return None
    if row["state"] == DESTROYING:
        return RecordState.DESTROYED
    return RecordState(row["state"])


def french_date(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y à %H:%M UTC")
