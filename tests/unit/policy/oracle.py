"""The oracle of the Hypothesis model: the rules of SPEC §2–3 restated over sets, independently of
dmp.policy (which it never calls), as plainly as a clinician would check them by hand."""

from __future__ import annotations

from dataclasses import dataclass

from dmp.domain.model import (
    MEDECIN,
    PATIENT_CLASS,
    AccessMode,
    Actor,
    DocStatus,
    DocumentFacts,
    PatientActor,
    Professional,
    ProfessionalActor,
    RecordFacts,
    RecordState,
    RepresentativeActor,
)
from dmp.policy import DocumentChange

from .personas import MATRIX

Holder = PatientActor | RepresentativeActor

LIFECYCLE_FROM = {
    DocumentChange.ARCHIVE: {DocStatus.CURRENT},
    DocumentChange.UNARCHIVE: {DocStatus.ARCHIVED},
    DocumentChange.DELETE: {DocStatus.CURRENT, DocStatus.ARCHIVED},
    DocumentChange.REPLACE: {DocStatus.CURRENT},
}


@dataclass(frozen=True)
class Oracle:
    record: RecordFacts

    @staticmethod
    def excluded(actor: ProfessionalActor) -> bool:
        """An occupational physician, acting for an excluded organization, or attached to
        excluded organizations only (whatever they act for)."""
        return (
            actor.occupational_health
            or actor.establishment_excluded
            or actor.attached_only_to_excluded
        )

    @staticmethod
    def excluded_person(professional: Professional) -> bool:
        """Never granted, never designated: the same person, whoever they would act for."""
        return professional.occupational_health or professional.attached_only_to_excluded

    # --- the patient and the representatives ---------------------------------------------------

    def is_holder(self, actor: Holder) -> bool:
        r = self.record
        if actor.dmp_id != r.dmp_id:
            return False
        if isinstance(actor, PatientActor):
            return actor.account_id == r.patient_account_id
        return actor.account_id in r.representative_account_ids and r.patient_is_minor

    def holder_opens(self, actor: Holder) -> bool:
        return self.record.state is not RecordState.DESTROYED and self.is_holder(actor)

    def holder_may_decide(self, actor: Holder) -> bool:
        return self.record.state is RecordState.ACTIVE and self.is_holder(actor)

    # --- professionals -------------------------------------------------------------------------

    def barred(self, actor: ProfessionalActor) -> bool:
        return (
            self.excluded(actor)
            or actor.professional_id in self.record.blocked_professionals
            or self.record.state is not RecordState.ACTIVE
        )

    def is_mt(self, actor: ProfessionalActor) -> bool:
        return actor.professional_id == self.record.medecin_traitant_id

    def opens_normally(self, actor: ProfessionalActor) -> bool:
        r = self.record
        related = (
            actor.professional_id in r.authorized_professionals
            or (actor.establishment_id is not None
                and actor.establishment_id in r.authorized_establishments)
            or self.is_mt(actor)
        )  # fmt: skip
        return related and not self.barred(actor)

    def opens_in_emergency(self, actor: ProfessionalActor, mode: AccessMode) -> bool:
        if mode is AccessMode.EMERGENCY:
            return not self.record.oppose_emergency
        regulator = actor.samu_regulator and actor.profession == MEDECIN
        return regulator and not self.record.oppose_samu

    # --- the questions ------------------------------------------------------------------------

    def opens(self, actor: Actor, mode: AccessMode, why: str | None) -> bool:
        if isinstance(actor, PatientActor | RepresentativeActor):
            return mode is AccessMode.NORMAL and self.holder_opens(actor)
        if not isinstance(actor, ProfessionalActor):
            return False  # the operator
        if mode is AccessMode.NORMAL:
            return self.opens_normally(actor)
        justified = bool(why and why.strip())
        return justified and not self.barred(actor) and self.opens_in_emergency(actor, mode)

    def sees(self, actor: Actor, mode: AccessMode, doc: DocumentFacts) -> bool:
        """Whether the document is shown to someone who opened the DMP (the matrix aside)."""
        if doc.status is DocStatus.DELETED:
            return False
        if isinstance(actor, PatientActor):
            return not doc.invisible_patient
        if isinstance(actor, RepresentativeActor):
            return not (doc.invisible_patient or doc.invisible_representatives)
        assert isinstance(actor, ProfessionalActor)
        mt_in_normal_access = mode is AccessMode.NORMAL and self.is_mt(actor)
        return self.authored(actor, doc) or mt_in_normal_access or not doc.masked

    def reads(self, actor: Actor, mode: AccessMode, why: str | None, doc: DocumentFacts) -> bool:
        if not (self.opens(actor, mode, why) and self.sees(actor, mode, doc)):
            return False
        if not isinstance(actor, ProfessionalActor):
            return True
        if self.authored(actor, doc) or (mode is AccessMode.NORMAL and self.is_mt(actor)):
            return True
        return MATRIX.allows(actor.profession, doc.class_code)

    @staticmethod
    def authored(actor: Actor, doc: DocumentFacts) -> bool:
        if not isinstance(actor, ProfessionalActor):
            return False
        by_establishment = (
            doc.author_establishment_id is not None
            and doc.author_establishment_id == actor.establishment_id
        )
        return doc.author_professional_id == actor.professional_id or by_establishment

    def writes(self, actor: Actor) -> bool:
        """May change something in the DMP (in normal access, as every writing rule requires)."""
        if isinstance(actor, PatientActor | RepresentativeActor):
            return self.holder_may_decide(actor)
        return isinstance(actor, ProfessionalActor) and self.opens_normally(actor)

    def may_add(self, actor: Actor, class_code: str, hidden_from_patient: bool = False) -> bool:
        holder = isinstance(actor, PatientActor | RepresentativeActor)
        right_class = (class_code == PATIENT_CLASS) == holder
        return self.writes(actor) and right_class and not (holder and hidden_from_patient)

    def may_designate(self, actor: Actor, candidate_id: object) -> bool:
        """Designate the médecin traitant (eligibility of the candidate aside): the holder; or
        the médecin himself, opening normally, while there is none (or it is him already)."""
        if isinstance(actor, PatientActor | RepresentativeActor):
            return self.holder_may_decide(actor)
        assert isinstance(actor, ProfessionalActor)
        current = self.record.medecin_traitant_id
        free = current is None or current == candidate_id
        return actor.professional_id == candidate_id and self.opens_normally(actor) and free

    def may_change(self, actor: Actor, doc: DocumentFacts, change: DocumentChange) -> bool:
        if not (self.writes(actor) and self.reads(actor, AccessMode.NORMAL, None, doc)):
            return False
        holder = isinstance(actor, PatientActor | RepresentativeActor)
        author = self.authored(actor, doc)
        mt = isinstance(actor, ProfessionalActor) and self.is_mt(actor)
        if change is DocumentChange.MASK:
            return holder or author
        if change is DocumentChange.UNMASK:
            return holder
        if change is DocumentChange.HIDE_FROM_PATIENT:
            return author and not doc.added_by_patient
        if change is DocumentChange.REVEAL:
            return author or mt
        owner = author or (holder and doc.added_by_patient)
        return owner and doc.status in LIFECYCLE_FROM[change]

    def may_declare(self, actor: ProfessionalActor) -> bool:
        return not self.barred(actor)

    def may_close(self, actor: Actor) -> bool:
        return self.writes(actor)

    def may_reactivate(self, actor: ProfessionalActor) -> bool:
        blocked = actor.professional_id in self.record.blocked_professionals
        closed = self.record.state is RecordState.CLOSED
        return closed and not self.excluded(actor) and not blocked
