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
from dmp.domain.model import Actor, Establishment, Professional, ProfessionalActor
from dmp.errors import NotFound
from dmp.services import gate
from dmp.services.common import french_date, notify_patient, notify_professional
from dmp.services.context import Context
from dmp.services.gate import Door, Reading


@dataclass(frozen=True, slots=True)
class AuthorizationView:
    subject_kind: str
    subject_id: UUID
    label: str
    source: str
    granted_at: datetime


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
    kind = "professional" if isinstance(target, Professional) else "establishment"

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


def list_authorizations(ctx: Context, actor: Actor, dmp_id: UUID) -> list[AuthorizationView]:
    """The patient's view of who is authorized (with names), audited like any read: the patient
    or a legal representative, even on a closed DMP."""
    with ctx.uow() as uow:
        door = gate.enter(
            ctx, uow, Reading(actor), "authorization.list", dmp_id, policy.read_history
        )
        views = []
        for row in uow.records.authorizations(dmp_id):
            if row.subject_kind == "professional":
                pro = uow.directory.professional(row.subject_id)
                label = pro.display_name if pro else "?"
            else:
                est = uow.directory.establishment(row.subject_id)
                label = est.name if est else "?"
            views.append(
                AuthorizationView(
                    row.subject_kind, row.subject_id, label, row.source, row.granted_at
                )
            )
        door.record()
        uow.commit()
    return views
