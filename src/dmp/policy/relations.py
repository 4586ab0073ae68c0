"""Who the actor is to a DMP or to a document: the relations every access rule starts from."""

from __future__ import annotations

from typing import TypeGuard
from uuid import UUID

from dmp.domain.model import (
    Actor,
    DocumentFacts,
    PatientActor,
    ProfessionalActor,
    RecordFacts,
    RecordState,
    RepresentativeActor,
    SystemActor,
)
from dmp.policy.decision import Decision, deny

OPERATOR = "operator-no-health-data"


def is_excluded(actor: ProfessionalActor) -> bool:
    """An occupational physician, or anyone acting for an insurer, a mutuelle, a bank, an employer
    or an occupational health service: the law keeps them out of the DMP, whatever the patient
    says."""
    return actor.occupational_health or actor.establishment_excluded


def is_blocked(professional_id: UUID, record: RecordFacts) -> bool:
    """The patient blocked this professional: no path leads them in."""
    return professional_id in record.blocked_professionals


def is_medecin_traitant(actor: ProfessionalActor, record: RecordFacts) -> bool:
    return record.medecin_traitant_id == actor.professional_id


def is_authorized(actor: ProfessionalActor, record: RecordFacts) -> bool:
    """Authorized in person, through the establishment they act for (the care team), or as the
    médecin traitant. The creator of a DMP is in the list of authorized professionals."""
    return (
        actor.professional_id in record.authorized_professionals
        or actor.establishment_id in record.authorized_establishments
        or is_medecin_traitant(actor, record)
    )


def is_author(actor: ProfessionalActor, doc: DocumentFacts) -> bool:
    """The professional who wrote the document, or anyone acting for the establishment that did."""
    return doc.author_professional_id == actor.professional_id or (
        doc.author_establishment_id is not None
        and doc.author_establishment_id == actor.establishment_id
    )


def is_holder(actor: Actor) -> TypeGuard[PatientActor | RepresentativeActor]:
    """The patient, or a legal representative: the people who decide about the DMP."""
    return isinstance(actor, PatientActor | RepresentativeActor)


def refuse_actor(actor: Actor, reason: str) -> Decision:
    """Refuse someone who may not take this kind of action. The operator always hears the same
    thing, since it never touches health data, whatever the action."""
    return deny(OPERATOR if isinstance(actor, SystemActor) else reason)


def not_active(record: RecordFacts) -> Decision | None:
    """Why nothing may change on this DMP, or None when it is active."""
    if record.state is RecordState.DESTROYED:
        return deny("record-destroyed")
    if record.state is RecordState.CLOSED:
        return deny("record-closed")
    return None
