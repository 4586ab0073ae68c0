"""The life of a DMP: create (information and consent), look up, close, reactivate, destroy.

The data database holds no INS in clear: a DMP is found by the INS's blind index
(``ctx.blind_index``), and keeps its INS sealed under its own key; the tombstone keeps only the
index."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.adapters.keystore import Shredding
from dmp.domain import inputs
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    Actor,
    ContactChannels,
    PatientIdentity,
    ProfessionalActor,
    RecordState,
    RepresentativeActor,
    SystemActor,
)
from dmp.errors import CommitInDoubt, InvalidInput
from dmp.services import audit, gate
from dmp.services.accounts import Credentials, check_contacts, contacts_of, open_account
from dmp.services.common import french_date, notify_patient
from dmp.services.context import Context
from dmp.services.gate import Reading, identity_to_json
from dmp.services.notices import keep_chosen


@dataclass(frozen=True, slots=True)
class Consent:
    """The patient was given the brochure of this version, and ticked the consent box."""

    brochure_version: str
    informed: bool
    consented: bool


@dataclass(frozen=True, slots=True)
class NewRepresentative:
    identity: PatientIdentity
    contacts: ContactChannels


@dataclass(frozen=True, slots=True)
class Created:
    dmp_id: UUID
    patient: Credentials
    representatives: tuple[Credentials, ...]


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a professional learns by looking a DMP up by INS."""

    exists: bool
    state: RecordState | None
    dmp_id: UUID | None = None
    closed_at: datetime | None = None
    closure_reason: str | None = None
    has_medecin_traitant: bool = False
    is_medecin_traitant: bool = False
    authorized: bool = False
    identity: PatientIdentity | None = None  # only for an authorized professional
    destroyed_at: datetime | None = None
    ins: Ins | None = None


def _check_consent(ctx: Context, consent: Consent) -> None:
    if consent.brochure_version != ctx.brochure.version:
        raise InvalidInput(
            f"La brochure d'information remise doit être la version en vigueur "
            f"({ctx.brochure.version}).",
            code="brochure",
        )
    if not (consent.informed and consent.consented):
        raise InvalidInput(
            "Le patient doit avoir été informé et avoir donné son consentement.", code="consent"
        )


def _check_identity(identity: PatientIdentity, today: date) -> None:
    inputs.check_identity(identity, today)


def create_record(
    ctx: Context,
    actor: ProfessionalActor,
    *,
    ins: Ins,
    identity: PatientIdentity,
    contacts: ContactChannels,
    consent: Consent,
    representatives: tuple[NewRepresentative, ...] = (),
) -> Created:
    """Create the DMP of the patient in front of the professional, who becomes authorized."""
    now = ctx.now()
    _check_consent(ctx, consent)
    _check_identity(identity, now.date())
    contacts = check_contacts(contacts)
    reps = [NewRepresentative(r.identity, check_contacts(r.contacts)) for r in representatives]
    if identity.is_minor_on(now.date()) is False and reps:
        raise InvalidInput(
            "Seul le DMP d'un mineur a des représentants légaux.", code="representative"
        )
    reading = Reading(actor)
    index = ctx.blind_index(ins)
    with ctx.uow() as uow:
        decision = gate.admit_creation(ctx, uow, reading, index)
        dmp_id = uuid4()
        draft = _Draft(dmp_id, FieldCipher(dmp_id, ctx.keys.create(dmp_id)), ins, index, [dmp_id])
        try:
            created = _insert_record(ctx, uow, actor, draft, identity, contacts, consent, reps, now)
            door = gate.enter(ctx, uow, reading, "record.create", dmp_id, lambda _: decision)
            door.record()
            notify_patient(door, "record_created", login=created.patient.login)
            uow.commit()
        except CommitInDoubt:
            raise  # the DMP may exist: its keys stay (the orphan sweep removes unowned ones)
        except BaseException:
            for key_id in draft.keys_made:
                ctx.keys.destroy(key_id)
            raise
    return created


@dataclass(frozen=True, slots=True)
class _Draft:
    """A DMP being created: its id and cipher, the INS and its blind index, and the ids of the
    keys created for it so far (the key store is not in the transaction: if the creation fails,
    they are destroyed)."""

    dmp_id: UUID
    cipher: FieldCipher
    ins: Ins
    ins_index: str
    keys_made: list[UUID]


def _insert_record(
    ctx: Context,
    uow: UnitOfWork,
    actor: ProfessionalActor,
    draft: _Draft,
    identity: PatientIdentity,
    contacts: ContactChannels,
    consent: Consent,
    reps: list[NewRepresentative],
    now: datetime,
) -> Created:
    dmp_id, cipher = draft.dmp_id, draft.cipher
    patient = open_account(ctx, uow, "patient", contacts, now, draft.keys_made)
    uow.records.add(
        {
            "dmp_id": dmp_id,
            "ins_index": draft.ins_index,
            "ins_enc": cipher.seal("ins", "record", draft.ins.value),
            "ins_system": draft.ins.system,
            "state": RecordState.ACTIVE.value,
            "identity_enc": cipher.seal("identity", "record", identity_to_json(identity)),
            "patient_account_id": patient.account_id,
            "medecin_traitant_id": None,
            "oppose_emergency": False,
            "oppose_samu": False,
            "created_at": now,
            "created_by": actor.professional_id,
        }
    )
    _add_consent(uow, dmp_id, "creation", actor, consent, now)
    uow.records.authorize(dmp_id, "professional", actor.professional_id, "creator", now)
    rep_credentials = []
    for rep in reps:
        credentials = open_account(ctx, uow, "representative", rep.contacts, now, draft.keys_made)
        uow.records.add_representative(
            {
                "dmp_id": dmp_id,
                "account_id": credentials.account_id,
                "since": now,
                "identity_enc": cipher.seal(
                    "representative", credentials.account_id, identity_to_json(rep.identity)
                ),
            }
        )
        rep_credentials.append(credentials)
    return Created(dmp_id, patient, tuple(rep_credentials))


def _add_consent(
    uow: UnitOfWork,
    dmp_id: UUID,
    kind: str,
    actor: ProfessionalActor,
    consent: Consent,
    now: datetime,
) -> None:
    uow.records.add_consent(
        {
            "dmp_id": dmp_id,
            "id": uuid4(),
            "kind": kind,
            "professional_id": actor.professional_id,
            "establishment_id": actor.establishment_id,
            "brochure_version": consent.brochure_version,
            "collected_at": now,
        }
    )


def lookup(ctx: Context, actor: ProfessionalActor, ins: Ins) -> Lookup:
    """Whether a DMP exists for this INS and in which state; its details only to those allowed
    to open it."""
    index = ctx.blind_index(ins)
    with ctx.uow() as uow:
        door = gate.look_up(ctx, uow, Reading(actor), index)
        if door is None:
            tomb = uow.records.tombstone(index)
            uow.commit()
            destroyed_at = tomb.destroyed_at if tomb else None
            state = RecordState.DESTROYED if tomb else None
            return Lookup(False, state, destroyed_at=destroyed_at)
        uow.commit()
    return _found(door, ins, opened=bool(policy.open_record(door.access)))


def read_patient(ctx: Context, reading: Reading, dmp_id: UUID) -> Lookup:
    """What a reference to a DMP (``Patient/<id>``, in a document the reader saw) resolves to:
    the look-up's answer, for whoever may open the DMP, in the mode they ask (audited as a
    look-up). To anyone else it is answered as an id that names nothing: an id is not a way to
    learn an INS, nor whether a DMP exists (the look-up by INS tells those who hold the INS)."""
    with ctx.uow() as uow:
        door = gate.enter(ctx, uow, reading, "record.lookup", dmp_id, policy.open_record)
        door.record()
        uow.commit()
    record = door.loaded.record
    assert record.ins_enc is not None  # None only once its destruction is under way
    ins = Ins(door.cipher.open("ins", "record", record.ins_enc), record.ins_system)
    return _found(door, ins, opened=True)


def _found(door: gate.Door, ins: Ins, *, opened: bool) -> Lookup:
    """The look-up's answer: the state for every professional, the rest to who may open it."""
    facts, record, actor = door.facts, door.loaded.record, door.actor
    professional_id = actor.professional_id if isinstance(actor, ProfessionalActor) else None
    return Lookup(
        exists=True,
        state=facts.state,
        dmp_id=door.dmp_id,
        closed_at=record.closed_at,
        # The reason a patient closed their DMP is theirs: only who may open the DMP reads it.
        closure_reason=(
            door.cipher.open_optional("closure", "record", record.closure_reason_enc)
            if opened
            else None
        ),
        has_medecin_traitant=facts.medecin_traitant_id is not None,
        is_medecin_traitant=facts.medecin_traitant_id == professional_id,
        authorized=opened,
        identity=door.loaded.identity if opened else None,
        ins=ins,
    )


def close_record(ctx: Context, actor: Actor, patient: UUID | Ins, reason: str) -> UUID:
    """Close the DMP: professionals can no longer read or feed it; data kept ten years. The
    patient (or a legal representative) closes it with a fresh one-time code (the policy's
    ``step-up-required`` otherwise)."""
    reason = inputs.check_reason((reason or "").strip())
    if not reason:
        raise InvalidInput("Le motif de fermeture est obligatoire.", code="reason")
    now = ctx.now()
    step_up = timedelta(seconds=ctx.settings.step_up_max_age_seconds)
    with ctx.uow() as uow:
        door = gate.enter(
            ctx,
            uow,
            Reading(actor),
            "record.close",
            patient,
            lambda access: policy.close_record(access, now, step_up),
            lock=True,
        )
        dmp_id = door.dmp_id
        uow.records.update(
            dmp_id,
            state=RecordState.CLOSED.value,
            closed_at=now,
            closure_reason_enc=door.cipher.seal("closure", "record", reason),
        )
        door.record()
        notify_patient(door, "record_closed", date=french_date(now))
        uow.commit()
    return dmp_id


def reactivate_record(ctx: Context, actor: ProfessionalActor, ins: Ins, consent: Consent) -> UUID:
    """Reactivate a closed DMP at the patient's request (consent collected again)."""
    _check_consent(ctx, consent)
    now = ctx.now()
    with ctx.uow() as uow:
        door = gate.enter(
            ctx,
            uow,
            Reading(actor),
            "record.reactivate",
            ins,
            policy.reactivate_record,
            lock=True,
            at_point_of_care=True,
        )
        dmp_id = door.dmp_id
        uow.records.update(
            dmp_id, state=RecordState.ACTIVE.value, closed_at=None, closure_reason_enc=None
        )
        _add_consent(uow, dmp_id, "reactivation", actor, consent, now)
        uow.records.authorize(dmp_id, "professional", actor.professional_id, "reactivation", now)
        door.record()
        notify_patient(door, "record_reactivated", date=french_date(now), professional=actor.rpps)
        uow.commit()
    return dmp_id


def destroy_record(ctx: Context, actor: Actor, dmp_id: UUID) -> None:
    """Destroy the whole DMP, irreversibly: its keys are destroyed, a tombstone remains."""
    step_up = timedelta(seconds=ctx.settings.step_up_max_age_seconds)
    with ctx.uow() as uow:
        door = gate.enter(
            ctx,
            uow,
            Reading(actor),
            "record.destroy",
            dmp_id,
            lambda access: policy.destroy(access, ctx.now(), step_up),
            lock=True,
        )
        door.record()
        uow.records.mark_destroying(dmp_id)
        account = uow.records.account(door.loaded.record.patient_account_id)
        uow.commit()
    who = "representative" if isinstance(actor, RepresentativeActor) else "patient"
    contact = None
    if account is not None:  # the last message goes by the channels the patient chose
        contact = keep_chosen(account, "record_destroyed", contacts_of(ctx, account))
    finish_destruction(ctx, dmp_id, who, contact=contact)


def finish_destruction(
    ctx: Context,
    dmp_id: UUID,
    requested_by: str,
    contact: ContactChannels | None = None,
    destroyed_at: datetime | None = None,
) -> int | None:
    """Shred the keys (the DMP's, its documents', and those of the accounts that belong to no
    other DMP), then purge the rows and leave a tombstone, then delete the content files. Each
    step can be run again: a crash part-way is finished by ``dmp jobs run``, and a restore of a
    backup taken before the destruction runs it again (``destroyed_at``: when it happened).
    Returns how many content files were deleted; None when there was nothing left to destroy."""
    with ctx.uow() as uow:
        plan = uow.records.shredding(dmp_id)
    if plan is None:
        return None
    for key_id in plan.document_ids:
        ctx.keys.destroy(key_id)
    ctx.keys.destroy(dmp_id, Shredding(plan.ins_index, requested_by))
    for key_id in plan.account_ids:
        ctx.keys.destroy(key_id)
    message = _LastMessage.to(ctx, contact)
    try:
        _bury(ctx, dmp_id, plan.ins_index, requested_by, message, destroyed_at)
    except CommitInDoubt:
        raise  # the message may be queued: its key stays (the orphan sweep removes it if not)
    except BaseException:
        if message is not None:
            ctx.keys.destroy(message.id)
        raise
    return ctx.blobs.delete_prefix(dmp_id)


def restore_tombstone(
    ctx: Context, dmp_id: UUID, ins_index: str, requested_by: str, destroyed_at: datetime
) -> bool:
    """A DMP destroyed after a backup was taken, and created after it too, leaves nothing in
    the restored database but must leave its tombstone there. False if it is there already."""
    with ctx.uow() as uow:
        if uow.records.has_tombstone(dmp_id):
            return False
        uow.records.add_tombstone(
            {
                "id": uuid4(),
                "ins_index": ins_index,
                "dmp_id": dmp_id,
                "destroyed_at": destroyed_at,
                "requested_by": requested_by,
            }
        )
        event = audit.Event("record.destroyed", True, requested_by, "record", dmp_id)
        audit.append(uow, ctx.signer, ctx.now(), None, _RESTORE, event)
        uow.commit()
    return True


@dataclass(frozen=True, slots=True)
class _LastMessage:
    """The message telling the patient their DMP is destroyed. Their account goes with the DMP,
    its key shredded: the message carries the addresses, sealed under a key of its own (id = the
    message's), which the dispatch destroys once the message is sent."""

    id: UUID
    cipher: FieldCipher
    contact: ContactChannels

    @classmethod
    def to(cls, ctx: Context, contact: ContactChannels | None) -> _LastMessage | None:
        if contact is None or not (contact.email or contact.phone):
            return None
        message_id = uuid4()
        return cls(message_id, FieldCipher(message_id, ctx.keys.create(message_id)), contact)

    def row(self, now: datetime) -> dict[str, object]:
        addresses = {"email": self.contact.email or "", "phone": self.contact.phone or ""}
        return {
            "id": self.id,
            "dmp_id": None,
            "recipient_kind": "contact",
            "recipient_id": self.id,
            "template": "record_destroyed",
            "params": json.dumps({"date": french_date(now)}, ensure_ascii=False),
            "contact_enc": self.cipher.seal("contact", "outbox", json.dumps(addresses)),
            "created_at": now,
            "attempts": 0,
        }


def _bury(
    ctx: Context,
    dmp_id: UUID,
    ins_index: str,
    requested_by: str,
    message: _LastMessage | None,
    destroyed_at: datetime | None,
) -> None:
    """In one transaction: purge the DMP's rows, leave its tombstone (the blind index of its INS,
    never the INS), write the audit entry, and queue the last message."""
    now = ctx.now()
    actor = _SYSTEM if destroyed_at is None else _RESTORE
    with ctx.uow() as uow:
        uow.records.purge(dmp_id)
        uow.records.add_tombstone(
            {
                "id": uuid4(),
                "ins_index": ins_index,
                "dmp_id": dmp_id,
                "destroyed_at": destroyed_at or now,
                "requested_by": requested_by,
            }
        )
        event = audit.Event("record.destroyed", True, requested_by, "record", dmp_id)
        audit.append(uow, ctx.signer, now, None, actor, event)
        if message is not None:
            uow.outbox.add(message.row(now))
        uow.commit()


_SYSTEM = SystemActor("destruction")
_RESTORE = SystemActor("restore")  # a destruction done again after a restore (ADR 13)
