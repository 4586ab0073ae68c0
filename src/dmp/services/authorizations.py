"""Who may enter the DMP: authorizations, declarations, blocks, the médecin traitant and the
patient's oppositions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.identifiers import Ins
from dmp.domain.model import Actor, Establishment, Professional, ProfessionalActor, RecordState
from dmp.domain.records import ListedAuthorization
from dmp.errors import InvalidInput, NotFound
from dmp.services import gate
from dmp.services.common import french_date, notify_patient, notify_professional
from dmp.services.context import Context
from dmp.services.directory import Listed, listed_establishment, listed_professional
from dmp.services.gate import Door, Reading

PROFESSIONAL, ESTABLISHMENT = "professional", "establishment"


@dataclass(frozen=True, slots=True)
class Granted:
    """An authorization: whom, how it was given (``patient``: by the patient or a legal
    representative; ``declared``: declared by the professional at the point of care;
    ``creator``: the professional who created the DMP; ``reactivation``: the one who reactivated
    it), and since when."""

    subject: Listed
    source: str
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class Blocked:
    professional: Listed
    blocked_at: datetime


@dataclass(frozen=True, slots=True)
class AccessChoices:
    """Who may enter the DMP, as its holder decided: the authorizations, the blocks, the
    médecin traitant, the oppositions to the emergency accesses; and whether this person may
    change them now (the DMP active, the holder or a representative asking)."""

    dmp_id: UUID
    patient_name: str
    state: RecordState
    may_change: bool
    authorizations: list[Granted]
    blocked: list[Blocked]
    medecin_traitant: Listed | None
    oppose_emergency: bool
    oppose_samu: bool


def _run(
    ctx: Context,
    actor: Actor,
    patient: UUID | Ins,
    action: str,
    decide: gate.Decide,
    apply: Callable[[Door, datetime], None],
    target: tuple[str, object],
    *,
    at_point_of_care: bool = False,
) -> UUID:
    """Open the DMP through the door (which decides and audits a refusal), act, write the
    entry, commit: the shape of every use case here. Returns the DMP's id."""
    with ctx.uow() as uow:
        door = gate.enter(
            ctx,
            uow,
            Reading(actor),
            action,
            patient,
            decide,
            lock=True,
            target=target,
            at_point_of_care=at_point_of_care,
        )
        apply(door, ctx.now())
        door.record()
        uow.commit()
    return door.dmp_id


def _professional(ctx: Context, professional_id: UUID) -> Professional:
    with ctx.uow() as uow:
        found = uow.directory.professional(professional_id)
    if found is None:
        raise NotFound("Professionnel inconnu.")
    return found


def _establishment(ctx: Context, establishment_id: UUID) -> Establishment:
    with ctx.uow() as uow:
        found = uow.directory.establishment(establishment_id)
    if found is None:
        raise NotFound("Établissement inconnu.")
    return found


def authorize(
    ctx: Context, actor: Actor, dmp_id: UUID, target: Professional | Establishment
) -> None:
    """The patient authorizes a professional or an establishment (its care team)."""
    kind = PROFESSIONAL if isinstance(target, Professional) else ESTABLISHMENT

    def apply(door: Door, now: datetime) -> None:
        door.uow.records.authorize(door.dmp_id, kind, target.id, "patient", now)

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.grant",
        lambda access: policy.grant(access, target),
        apply,
        (kind, target.id),
    )


def authorize_listed(ctx: Context, actor: Actor, dmp_id: UUID, kind: str, subject_id: UUID) -> None:
    """The patient authorizes a professional or an establishment found in the directory, named
    by its kind and its id there (as the portal's search lists them)."""
    if kind == PROFESSIONAL:
        authorize(ctx, actor, dmp_id, _professional(ctx, subject_id))
    elif kind == ESTABLISHMENT:
        authorize(ctx, actor, dmp_id, _establishment(ctx, subject_id))
    else:
        raise InvalidInput("Choisissez un professionnel ou un établissement.", code="kind")


def declare_authorization(ctx: Context, actor: ProfessionalActor, patient: UUID | Ins) -> UUID:
    """The professional declares that the patient in front of them has authorized them."""

    def apply(door: Door, now: datetime) -> None:
        if door.uow.records.authorize(
            door.dmp_id, "professional", actor.professional_id, "declared", now
        ):
            notify_patient(
                door,
                "authorization_declared",
                professional=_label(ctx, door.uow, actor.professional_id),
                date=french_date(now),
            )

    return _run(
        ctx,
        actor,
        patient,
        "authorization.declare",
        policy.declare_authorization,
        apply,
        ("professional", actor.professional_id),
        at_point_of_care=True,
    )


def revoke(ctx: Context, actor: Actor, dmp_id: UUID, kind: str, subject_id: UUID) -> None:
    def apply(door: Door, now: datetime) -> None:
        if not door.uow.records.revoke(door.dmp_id, kind, subject_id):
            raise NotFound("Cette autorisation n'existe pas.")

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.revoke",
        policy.manage_authorizations,
        apply,
        (kind, subject_id),
    )


def block(ctx: Context, actor: Actor, dmp_id: UUID, professional_id: UUID) -> None:
    """Block a professional: no path leads them in any more. Their authorization goes too, and
    so does their designation as médecin traitant."""
    _professional(ctx, professional_id)

    def apply(door: Door, now: datetime) -> None:
        door.uow.records.block(door.dmp_id, professional_id, now)
        door.uow.records.revoke(door.dmp_id, "professional", professional_id)
        if door.facts.medecin_traitant_id == professional_id:
            door.uow.records.update(door.dmp_id, medecin_traitant_id=None)

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.block",
        policy.manage_authorizations,
        apply,
        ("professional", professional_id),
    )


def unblock(ctx: Context, actor: Actor, dmp_id: UUID, professional_id: UUID) -> None:
    def apply(door: Door, now: datetime) -> None:
        if not door.uow.records.unblock(door.dmp_id, professional_id):
            raise NotFound("Ce professionnel n'est pas bloqué.")

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.unblock",
        policy.manage_authorizations,
        apply,
        ("professional", professional_id),
    )


def designate_medecin_traitant(
    ctx: Context, actor: Actor, patient: UUID | Ins, professional_id: UUID
) -> UUID:
    """The patient designates (or changes) their médecin traitant; or, at the point of care, a
    médecin declares himself médecin traitant of a patient who has none. The patient is told,
    and so is the médecin traitant replaced."""
    candidate = _professional(ctx, professional_id)
    declared = isinstance(actor, ProfessionalActor)

    def apply(door: Door, now: datetime) -> None:
        former = door.facts.medecin_traitant_id
        if former == professional_id:
            return
        door.uow.records.update(door.dmp_id, medecin_traitant_id=professional_id)
        who = _label(ctx, door.uow, professional_id)
        how = "déclaré par le médecin" if declared else "désigné par vous"
        notify_patient(
            door, "medecin_traitant_changed", professional=who, date=french_date(now), how=how
        )
        if former is not None:
            notify_professional(
                door, former, "medecin_traitant_replaced", professional=who, date=french_date(now)
            )

    return _run(
        ctx,
        actor,
        patient,
        "medecin-traitant.declare" if declared else "medecin-traitant.designate",
        lambda access: policy.designate_medecin_traitant(access, candidate),
        apply,
        ("professional", professional_id),
        at_point_of_care=declared,
    )


def set_oppositions(
    ctx: Context,
    actor: Actor,
    dmp_id: UUID,
    *,
    emergency: bool | None = None,
    samu: bool | None = None,
) -> None:
    """The patient opposes (or no longer opposes) emergency access and SAMU access."""
    values = {
        k: v for k, v in (("oppose_emergency", emergency), ("oppose_samu", samu)) if v is not None
    }

    def apply(door: Door, now: datetime) -> None:
        if values:
            door.uow.records.update(door.dmp_id, **values)

    target = ",".join(f"{k}={v}" for k, v in values.items())
    _run(
        ctx,
        actor,
        dmp_id,
        "oppositions.set",
        policy.manage_authorizations,
        apply,
        ("oppositions", target),
    )


def _label(ctx: Context, uow: UnitOfWork, professional_id: UUID) -> str:
    professional = uow.directory.professional(professional_id)
    if professional is None:
        return "?"
    profession = ctx.valuesets.professions.get(professional.profession, "")
    return f"{professional.display_name} ({profession})"


def access_choices(ctx: Context, actor: Actor, dmp_id: UUID) -> AccessChoices:
    """The patient's view of who may enter their DMP (with names, professions, kinds), audited
    like any read: the patient or a legal representative, even on a closed DMP."""
    with ctx.uow() as uow:
        door = gate.enter(
            ctx, uow, Reading(actor), "authorization.list", dmp_id, policy.read_history
        )
        choices = _choices(ctx, uow, door)
        door.record()
        uow.commit()
    return choices


def _choices(ctx: Context, uow: UnitOfWork, door: Door) -> AccessChoices:
    facts, identity = door.facts, door.loaded.identity
    granted = [
        Granted(_subject(ctx, grant), grant.source, grant.granted_at)
        for grant in uow.records.authorizations_listed(door.dmp_id)
    ]
    blocked = [
        Blocked(listed_professional(ctx, block.professional()), block.blocked_at)
        for block in uow.records.blocks_listed(door.dmp_id)
    ]
    medecin = None
    if facts.medecin_traitant_id is not None:
        rows = uow.directory.professionals_listed(ids=[facts.medecin_traitant_id])
        medecin = listed_professional(ctx, rows[0]) if rows else None
    return AccessChoices(
        dmp_id=door.dmp_id,
        patient_name=f"{identity.given_names} {identity.family_name}",
        state=facts.state,
        may_change=bool(policy.manage_authorizations(door.access)),
        authorizations=granted,
        blocked=blocked,
        medecin_traitant=medecin,
        oppose_emergency=facts.oppose_emergency,
        oppose_samu=facts.oppose_samu,
    )


def _subject(ctx: Context, grant: ListedAuthorization) -> Listed:
    """Whom an authorization names, as the directory lists them. An authorization names its
    subject by id, with no reference the database checks: one the directory no longer knows
    is still listed, so that the patient can revoke it."""
    if grant.rpps is None and grant.finess is None:
        return Listed(grant.subject_kind, grant.subject_id, "Inconnu de l'annuaire", "", "")
    if grant.subject_kind == PROFESSIONAL:
        return listed_professional(ctx, grant.professional())
    return listed_establishment(ctx, grant.establishment())
