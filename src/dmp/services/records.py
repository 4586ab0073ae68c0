"""The life of a DMP: create (information and consent), look up, close, reactivate, destroy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from dmp import policy
from dmp.adapters.db.repositories import RowMap
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
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
from dmp.errors import Conflict, Forbidden, InvalidInput
from dmp.services import audit
from dmp.services.accounts import Credentials, check_contacts, open_account
from dmp.services.common import (
    DESTROYING,
    french_date,
    hidden,
    identity_to_json,
    load,
    load_by_id,
    notify,
    notify_patient,
    record_audit,
    refuse,
    state_of,
)
from dmp.services.context import Context


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
    with ctx.uow() as uow:
        existing = uow.records.by_ins(ins.value, for_update=True)
        decision = policy.create_record(actor, state_of(existing))
        if not decision:
            error = (
                Conflict("Un DMP existe déjà pour cet INS.")
                if existing
                else Forbidden(decision.message)
            )
            refuse(
                ctx,
                uow,
                load(ctx, uow, existing),
                actor,
                "record.create",
                decision,
                error,
                target_kind="ins",
                target_id=ins.value,
            )
        dmp_id = uuid4()
        cipher = FieldCipher(dmp_id, ctx.keys.create(dmp_id))
        try:
            created = _insert_record(
                ctx, uow, actor, dmp_id, cipher, ins, identity, contacts, consent, reps, now
            )
            loaded = load_by_id(ctx, uow, dmp_id)
            record_audit(
                ctx,
                uow,
                loaded,
                actor,
                audit.Event("record.create", True, decision.reason, "record", dmp_id),
            )
            notify(
                uow,
                now,
                dmp_id,
                "account",
                created.patient.account_id,
                "record_created",
                login=created.patient.login,
            )
            uow.commit()
        except BaseException:
            ctx.keys.destroy(dmp_id)
            raise
    return created


def _insert_record(
    ctx: Context,
    uow: UnitOfWork,
    actor: ProfessionalActor,
    dmp_id: UUID,
    cipher: FieldCipher,
    ins: Ins,
    identity: PatientIdentity,
    contacts: ContactChannels,
    consent: Consent,
    reps: list[NewRepresentative],
    now: datetime,
) -> Created:
    patient = open_account(ctx, uow, "patient", contacts, now)
    uow.records.add(
        {
            "dmp_id": dmp_id,
            "ins": ins.value,
            "ins_system": ins.system,
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
        credentials = open_account(ctx, uow, "representative", rep.contacts, now)
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
    """Whether a DMP exists for this INS and in which state; its details only to those allowed."""
    with ctx.uow() as uow:
        row = uow.records.by_ins(ins.value)
        if actor.occupational_health or actor.establishment_excluded:
            decision = policy.create_record(actor, None)  # the excluded-actor refusal, with reason
            refuse(
                ctx,
                uow,
                load(ctx, uow, row),
                actor,
                "record.lookup",
                decision,
                Forbidden(decision.message),
                target_kind="ins",
                target_id=ins.value,
            )
        loaded = load(ctx, uow, row)
        if loaded is None:
            tomb = uow.records.tombstone(ins.value)
            record_audit(
                ctx,
                uow,
                None,
                actor,
                audit.Event("record.lookup", True, "no-record", "ins", ins.value),
            )
            uow.commit()
            state = RecordState.DESTROYED if tomb or row is not None else None
            return Lookup(False, state, destroyed_at=tomb["destroyed_at"] if tomb else None)
        access = policy.open_record(policy.Access(actor, loaded.facts))
        record_audit(
            ctx,
            uow,
            loaded,
            actor,
            audit.Event("record.lookup", True, access.reason, "record", loaded.dmp_id),
        )
        uow.commit()
    facts = loaded.facts
    return Lookup(
        exists=True,
        state=facts.state,
        dmp_id=loaded.dmp_id,
        closed_at=loaded.row["closed_at"],
        closure_reason=loaded.cipher.open_optional(
            "closure", "record", loaded.row["closure_reason_enc"]
        ),
        has_medecin_traitant=facts.medecin_traitant_id is not None,
        is_medecin_traitant=facts.medecin_traitant_id == actor.professional_id,
        authorized=bool(access),
        identity=loaded.identity if access else None,
    )


def close_record(ctx: Context, actor: Actor, dmp_id: UUID, reason: str) -> None:
    """Close the DMP: professionals can no longer read or feed it; data kept ten years."""
    reason = inputs.check_reason((reason or "").strip())
    if not reason:
        raise InvalidInput("Le motif de fermeture est obligatoire.", code="reason")
    now = ctx.now()
    with ctx.uow() as uow:
        loaded = load_by_id(ctx, uow, dmp_id, for_update=True)
        if loaded is None:
            raise hidden()
        decision = policy.close_record(policy.Access(actor, loaded.facts))
        if not decision:
            error = (
                Conflict(decision.message)
                if policy.open_record(policy.Access(actor, loaded.facts))
                else hidden()
            )
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                "record.close",
                decision,
                error,
                target_kind="record",
                target_id=dmp_id,
            )
        uow.records.update(
            dmp_id,
            state=RecordState.CLOSED.value,
            closed_at=now,
            closure_reason_enc=loaded.cipher.seal("closure", "record", reason),
        )
        record_audit(
            ctx,
            uow,
            loaded,
            actor,
            audit.Event("record.close", True, decision.reason, "record", dmp_id),
        )
        notify_patient(
            uow,
            now,
            loaded,
            "record_closed",
            date=french_date(now),
        )
        uow.commit()


def reactivate_record(ctx: Context, actor: ProfessionalActor, ins: Ins, consent: Consent) -> UUID:
    """Reactivate a closed DMP at the patient's request (consent collected again)."""
    _check_consent(ctx, consent)
    now = ctx.now()
    with ctx.uow() as uow:
        loaded = load(ctx, uow, uow.records.by_ins(ins.value, for_update=True))
        if loaded is None:
            raise hidden()
        decision = policy.reactivate_record(policy.Access(actor, loaded.facts))
        if not decision:
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                "record.reactivate",
                decision,
                Conflict(decision.message),
                target_kind="record",
                target_id=loaded.dmp_id,
            )
        dmp_id = loaded.dmp_id
        uow.records.update(
            dmp_id, state=RecordState.ACTIVE.value, closed_at=None, closure_reason_enc=None
        )
        _add_consent(uow, dmp_id, "reactivation", actor, consent, now)
        uow.records.authorize(dmp_id, "professional", actor.professional_id, "reactivation", now)
        record_audit(
            ctx,
            uow,
            loaded,
            actor,
            audit.Event("record.reactivate", True, decision.reason, "record", dmp_id),
        )
        notify_patient(
            uow,
            now,
            loaded,
            "record_reactivated",
            date=french_date(now),
            professional=actor.rpps,
        )
        uow.commit()
    return dmp_id


def destroy_record(ctx: Context, actor: Actor, dmp_id: UUID) -> None:
    """Destroy the whole DMP, irreversibly: its keys are destroyed, a tombstone remains."""
    with ctx.uow() as uow:
        loaded = load_by_id(ctx, uow, dmp_id, for_update=True)
        if loaded is None:
            raise hidden()
        step_up = timedelta(seconds=ctx.settings.step_up_max_age_seconds)
        decision = policy.destroy(policy.Access(actor, loaded.facts), ctx.now(), step_up)
        if not decision:
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                "record.destroy",
                decision,
                Forbidden(decision.message),
                target_kind="record",
                target_id=dmp_id,
            )
        record_audit(
            ctx,
            uow,
            loaded,
            actor,
            audit.Event("record.destroy", True, decision.reason, "record", dmp_id),
        )
        uow.records.update(dmp_id, state=DESTROYING)
        account = uow.records.account(loaded.row["patient_account_id"])
        uow.commit()
    who = "representative" if isinstance(actor, RepresentativeActor) else "patient"
    finish_destruction(ctx, dmp_id, who, contact=account)


def finish_destruction(
    ctx: Context, dmp_id: UUID, requested_by: str, contact: RowMap | None = None
) -> None:
    """Shred the keys, then purge the rows and leave a tombstone, then delete the content files.
    Each step can be run again: a crash part-way is finished by ``dmp jobs run``."""
    with ctx.uow() as uow:
        row = uow.records.get(dmp_id)
        if row is None:
            return
        document_ids = [d["id"] for d in uow.documents.of_record(dmp_id)]
    for key_id in document_ids:
        ctx.keys.destroy(key_id)
    ctx.keys.destroy(dmp_id)
    now = ctx.now()
    with ctx.uow() as uow:
        uow.records.purge(dmp_id)
        uow.records.add_tombstone(
            {
                "id": uuid4(),
                "ins": row["ins"],
                "dmp_id": dmp_id,
                "destroyed_at": now,
                "requested_by": requested_by,
            }
        )
        audit.append(
            uow,
            ctx.signer,
            now,
            None,
            _SYSTEM,
            audit.Event("record.destroyed", True, requested_by, "record", dmp_id),
        )
        if contact is not None:
            _notify_destroyed(uow, now, contact)
        uow.commit()
    ctx.blobs.delete_prefix(dmp_id)


def _notify_destroyed(uow: UnitOfWork, now: datetime, contact: RowMap) -> None:
    # The account is gone with the DMP: the last message goes to the addresses themselves.
    notify(
        uow,
        now,
        None,
        "contact",
        uuid4(),
        "record_destroyed",
        date=french_date(now),
        email=contact["email"] or "",
        phone=contact["phone"] or "",
    )


_SYSTEM = SystemActor("destruction")
