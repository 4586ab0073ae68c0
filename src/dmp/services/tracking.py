"""Notices that follow an access: a professional's first access, an emergency access."""

from __future__ import annotations

from datetime import timedelta

from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.model import AccessMode, Actor, ProfessionalActor
from dmp.services.common import Loaded, french_date, notify
from dmp.services.context import Context

# One emergency notice per professional and per day: a professional reading ten documents in
# emergency does not send ten messages.
EMERGENCY_NOTICE_EVERY = timedelta(hours=24)


def note_access(
    ctx: Context, uow: UnitOfWork, loaded: Loaded, actor: Actor, mode: AccessMode
) -> None:
    if not isinstance(actor, ProfessionalActor):
        return
    now = ctx.now()
    dmp_id, patient = loaded.dmp_id, loaded.row["patient_account_id"]
    seen = uow.records.first_access(dmp_id, actor.professional_id)
    if seen is None:
        uow.records.add_accessor(dmp_id, actor.professional_id, now)
        label = _label(uow, actor)
        notify(
            uow,
            now,
            dmp_id,
            "account",
            patient,
            "new_professional",
            professional=label,
            date=french_date(now),
        )
    if mode is AccessMode.NORMAL:
        return
    last = seen["last_emergency_notice_at"] if seen else None
    if last is not None and now - last < EMERGENCY_NOTICE_EVERY:
        return
    uow.records.set_emergency_notice(dmp_id, actor.professional_id, now)
    label = _label(uow, actor)  # looked up only when a notice goes out: not on the hot path
    notify(
        uow,
        now,
        dmp_id,
        "account",
        patient,
        "emergency_access",
        professional=label,
        date=french_date(now),
    )
    mt = loaded.facts.medecin_traitant_id
    if mt is not None and mt != actor.professional_id:
        notify(
            uow,
            now,
            dmp_id,
            "professional",
            mt,
            "emergency_access_mt",
            professional=label,
            date=french_date(now),
        )


def _label(uow: UnitOfWork, actor: ProfessionalActor) -> str:
    professional = uow.directory.professional(actor.professional_id)
    return professional.display_name if professional else actor.rpps
