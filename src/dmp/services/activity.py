"""A professional's own activity (« Mon activité »): what they did on DMPs, emergency accesses
and refused attempts included, newest first, each entry as the patient reads it in their
history (``services.wording``), across DMPs.

Only the professional's own audit entries are read (``AuditRepository.by_professional``), and
only what they say in clear: the time, the mode, the action, the outcome. A professional may no
longer be allowed to open some of these DMPs (closed, destroyed, authorization revoked, blocked):
they learn nothing of them beyond what they themselves did — no patient's name, no document's
title, no justification (sealed under the DMP's key), no other actor's entry. The DMP is named
by its id only, behind a link whose page the door decides on, as any other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp.domain.model import ProfessionalActor
from dmp.services.context import Context
from dmp.services.wording import Said, wording

LIMIT = 100


@dataclass(frozen=True, slots=True)
class Done:
    """One of the professional's entries."""

    dmp_id: UUID
    at: datetime
    mode: str
    allowed: bool
    sentence: str  # as the patient reads it in their history


def my_activity(ctx: Context, actor: ProfessionalActor, limit: int = LIMIT) -> list[Done]:
    """The professional's newest entries on DMPs, at most ``limit`` (no audit entry: reading
    one's own trail reads no DMP)."""
    limit = max(1, min(limit, LIMIT))
    with ctx.reader() as uow:
        entries = uow.audit.by_professional(actor.professional_id, limit)
        finess = sorted({e.establishment for e in entries if e.establishment})
        places = uow.directory.establishment_names((), finess)
    said = wording()
    found = []
    for entry in entries:
        code = entry.profession or actor.profession
        who = said.professional(
            actor.display_name or actor.rpps,
            code,
            ctx.valuesets.professions.get(code),
            places.get(entry.establishment) if entry.establishment else None,
        )
        allowed = entry.outcome == "allowed"
        told = Said(
            at=entry.at,
            action=entry.action,
            allowed=allowed,
            reason=entry.reason,
            mode=entry.mode,
            actor=who,
        )
        found.append(Done(entry.dmp_id, entry.at, entry.mode, allowed, said.sentence(told)))
    return found
