"""Who may enter the DMP: authorizations, declarations, blocks, the médecin traitant and the
patient's oppositions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.model import Actor, Establishment, Professional, ProfessionalActor
from dmp.errors import Forbidden, NotFound
from dmp.policy import Decision
from dmp.services import audit
from dmp.services.common import (
    Loaded,
    french_date,
    hidden,
    load_by_id,
    notify_patient,
    record_audit,
    refuse,
)
from dmp.services.context import Context


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
    dmp_id: UUID,
    action: str,
    decide: Callable[[Loaded], Decision],
    apply: Callable[[UnitOfWork, Loaded, datetime], None],
    target: tuple[str, object],
    *,
    disclose: bool = False,
) -> None:
    """Load the DMP, decide, write or refuse, audit, commit: the shape of every use case here."""
    with ctx.uow() as uow:
        loaded = load_by_id(ctx, uow, dmp_id, for_update=True)
        if loaded is None:
            raise hidden()
        decision = decide(loaded)
        if not decision:
            # The law's refusal is always explained; others only to whoever may open the DMP, or
            # at the point of care (``disclose``), where the DMP's existence is already known.
            can_see = policy.open_record(policy.Access(actor, loaded.facts))
            explain = disclose or can_see or decision.reason == "excluded-actor"
            error = Forbidden(decision.message) if explain else hidden()
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                action,
                decision,
                error,
                target_kind=target[0],
                target_id=target[1],
            )
        now = ctx.now()
        apply(uow, loaded, now)
        record_audit(
            ctx,
            uow,
            loaded,
            actor,
            audit.Event(action, True, decision.reason, target[0], target[1]),
        )
        uow.commit()


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

    def apply(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
        uow.records.authorize(dmp_id, kind, target.id, "patient", now)

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.grant",
        lambda loaded: policy.grant(policy.Access(actor, loaded.facts), target),
        apply,
        (kind, target.id),
    )


def declare_authorization(ctx: Context, actor: ProfessionalActor, dmp_id: UUID) -> None:
    """The professional declares that the patient in front of them has authorized them."""

    def apply(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
        if uow.records.authorize(dmp_id, "professional", actor.professional_id, "declared", now):
            notify_patient(
                uow,
                now,
                loaded,
                "authorization_declared",
                professional=_label(ctx, uow, actor.professional_id),
                date=french_date(now),
            )

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.declare",
        lambda loaded: policy.declare_authorization(policy.Access(actor, loaded.facts)),
        apply,
        ("professional", actor.professional_id),
        disclose=True,
    )


def revoke(ctx: Context, actor: Actor, dmp_id: UUID, kind: str, subject_id: UUID) -> None:
    def apply(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
        if not uow.records.revoke(dmp_id, kind, subject_id):
            raise NotFound("Cette autorisation n'existe pas.")

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.revoke",
        lambda loaded: policy.manage_authorizations(policy.Access(actor, loaded.facts)),
        apply,
        (kind, subject_id),
    )


def block(ctx: Context, actor: Actor, dmp_id: UUID, professional_id: UUID) -> None:
    """Block a professional: no path leads them in any more. Their authorization goes too."""
    _professional(ctx, professional_id)

    def apply(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
        uow.records.block(dmp_id, professional_id, now)
        uow.records.revoke(dmp_id, "professional", professional_id)
        if loaded.facts.medecin_traitant_id == professional_id:
            uow.records.update(dmp_id, medecin_traitant_id=None)

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.block",
        lambda loaded: policy.manage_authorizations(policy.Access(actor, loaded.facts)),
        apply,
        ("professional", professional_id),
    )


def unblock(ctx: Context, actor: Actor, dmp_id: UUID, professional_id: UUID) -> None:
    def apply(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
        if not uow.records.unblock(dmp_id, professional_id):
            raise NotFound("Ce professionnel n'est pas bloqué.")

    _run(
        ctx,
        actor,
        dmp_id,
        "authorization.unblock",
        lambda loaded: policy.manage_authorizations(policy.Access(actor, loaded.facts)),
        apply,
        ("professional", professional_id),
    )


def designate_medecin_traitant(
    ctx: Context, actor: Actor, dmp_id: UUID, professional_id: UUID
) -> None:
    """The patient designates (or changes) their médecin traitant; or the médecin declares it
    with the patient's agreement."""
    candidate = _professional(ctx, professional_id)

    def apply(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
        uow.records.update(dmp_id, medecin_traitant_id=professional_id)

    _run(
        ctx,
        actor,
        dmp_id,
        "medecin-traitant.designate",
        lambda loaded: policy.designate_medecin_traitant(
            policy.Access(actor, loaded.facts), candidate
        ),
        apply,
        ("professional", professional_id),
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

    def apply(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
        if values:
            uow.records.update(dmp_id, **values)

    target = ",".join(f"{k}={v}" for k, v in values.items())
    _run(
        ctx,
        actor,
        dmp_id,
        "oppositions.set",
        lambda loaded: policy.manage_authorizations(policy.Access(actor, loaded.facts)),
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
    """The patient's view of who is authorized (with names), audited like any read."""
    with ctx.uow() as uow:
        loaded = load_by_id(ctx, uow, dmp_id)
        if loaded is None:
            raise hidden()
        decision = policy.manage_authorizations(policy.Access(actor, loaded.facts))
        if not decision and not policy.read_history(policy.Access(actor, loaded.facts)):
            refuse(ctx, uow, loaded, actor, "authorization.list", decision, hidden())
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
        record_audit(
            ctx,
            uow,
            loaded,
            actor,
            audit.Event("authorization.list", True, "holder", "record", dmp_id),
        )
        uow.commit()
    return views
