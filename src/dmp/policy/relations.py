"""Who the actor is to a DMP or to a document: the relations every access rule starts from."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeGuard
from uuid import UUID

from dmp.domain.model import (
    Actor,
    DocumentFacts,
    Establishment,
    PatientActor,
    Professional,
    ProfessionalActor,
    RecordFacts,
    RecordState,
    RepresentativeActor,
    SystemActor,
)
from dmp.policy.decision import Decision, deny

OPERATOR = "operator-no-health-data"


def acts_only_for_excluded(attachments: Collection[Establishment]) -> bool:
    """Whoever is attached to establishments, all of them excluded (the médecin-conseil of a
    mutuelle, the doctor of an insurer or of an employer), acts only for organizations the law
    keeps out: acting "for no establishment" is no way round it. A professional with no
    attachment at all practises on their own (liberal practice); one with at least one care
    establishment among their attachments may act for it, or on their own."""
    return bool(attachments) and all(establishment.excluded for establishment in attachments)


def is_excluded_professional(professional: Professional) -> bool:
    """An occupational physician, or a professional attached only to excluded organizations:
    they may hold no credentials and be granted nothing, whatever the patient says."""
    return professional.occupational_health or professional.attached_only_to_excluded


def is_excluded(actor: ProfessionalActor) -> bool:
    """An occupational physician, anyone acting for an insurer, a mutuelle, a bank, an employer
    or an occupational health service, or anyone attached only to such organizations, even
    when acting for none of them: the law keeps them out of the DMP, whatever the patient says."""
    return (
        actor.occupational_health or actor.establishment_excluded or actor.attached_only_to_excluded
    )


def refuse_excluded(actor: Actor) -> Decision | None:
    """The law's refusal, given before anything else is looked at (the DMP's state, the
    patient's choices): an excluded professional learns nothing of a DMP, not even that it was
    destroyed. None for anyone else."""
    if isinstance(actor, ProfessionalActor) and is_excluded(actor):
        return deny("excluded-actor")
    return None


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
    thing, since it never touches health data, whatever the action; an excluded professional
    hears the law."""
    if isinstance(actor, SystemActor):
        return deny(OPERATOR)
    excluded = refuse_excluded(actor)
    return deny(reason) if excluded is None else excluded


def not_active(record: RecordFacts) -> Decision | None:
    """Why nothing may change on this DMP, or None when it is active."""
    if record.state is RecordState.DESTROYED:
        return deny("record-destroyed")
    if record.state is RecordState.CLOSED:
        return deny("record-closed")
    return None
