"""Notices that follow an access: a professional's first access, an emergency access."""

from __future__ import annotations

from datetime import timedelta

from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.model import AccessMode, ProfessionalActor
from dmp.services.common import french_date, notify_patient, notify_professional
from dmp.services.gate import Door

# One emergency notice per professional and per day: a professional reading ten documents in
# emergency does not send ten messages.
EMERGENCY_NOTICE_EVERY = timedelta(hours=24)


def note_access(door: Door) -> None:
    """Tell the patient of a professional's first access, and the patient and the médecin
    traitant of an emergency access."""
    actor = door.actor
    if not isinstance(actor, ProfessionalActor):
        return
    uow, now = door.uow, door.ctx.now()
    seen = door.loaded.accessed  # read with the DMP's facts, in the same statement
    if not seen and uow.records.add_accessor(door.dmp_id, actor.professional_id, now):
        notify_patient(
            door, "new_professional", professional=label(uow, actor), date=french_date(now)
        )
    if door.reading.mode is AccessMode.NORMAL:
        return
    first = uow.records.first_access(door.dmp_id, actor.professional_id) if seen else None
    last = first.last_emergency_notice_at if first else None
    if last is not None and now - last < EMERGENCY_NOTICE_EVERY:
        return
    uow.records.set_emergency_notice(door.dmp_id, actor.professional_id, now)
    who = label(uow, actor)  # looked up only when a notice goes out: not on the hot path
    notify_patient(door, "emergency_access", professional=who, date=french_date(now))
    mt = door.facts.medecin_traitant_id
    if mt is not None and mt != actor.professional_id:
        notify_professional(
            door, mt, "emergency_access_mt", professional=who, date=french_date(now)
        )


def label(uow: UnitOfWork, actor: ProfessionalActor) -> str:
    professional = uow.directory.professional(actor.professional_id)
    return professional.display_name if professional else actor.rpps
