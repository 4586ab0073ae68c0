"""Opening a DMP and reading its documents (SPEC §3.2, §3.3).

The checks run in the order of precedence: the first refusal wins, and its reason is the one given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dmp.domain.model import (
    MEDECIN,
    AccessMode,
    Actor,
    DocStatus,
    DocumentFacts,
    PatientActor,
    ProfessionalActor,
    RecordFacts,
    RecordState,
    RepresentativeActor,
    SystemActor,
)
from dmp.domain.valuesets import ProfessionMatrix
from dmp.policy.decision import Decision, allow, deny, first_refusal
from dmp.policy.relations import (
    OPERATOR,
    is_author,
    is_authorized,
    is_blocked,
    is_excluded,
    is_holder,
    is_medecin_traitant,
    not_active,
    refuse_actor,
    refuse_excluded,
)


@dataclass(frozen=True, slots=True)
class Access:
    """One person asking about one DMP, in one access mode (with its justification, if any)."""

    actor: Actor
    record: RecordFacts
    mode: AccessMode = AccessMode.NORMAL
    justification: str | None = None


def open_record(access: Access) -> Decision:
    """May this person open this DMP at all?

    - A professional excluded by law is told so before anything else: an occupational physician,
      anyone acting for an insurer, a mutuelle, a bank, an employer or an occupational health
      service, and anyone attached only to such organizations even when acting for none of them.
      They never get in, even in an emergency, even if listed as authorized, and learn nothing
      of the DMP, not even that it was destroyed.
    - A destroyed DMP opens for no one; the operator never reads health data.
    - The patient opens their own DMP, even closed (to read it); a legal representative opens the
      DMP of the minor they represent, and no longer once the patient is an adult. Neither uses the
      emergency modes, which are for professionals.
    - A professional the patient blocked never gets in, even the médecin traitant, even in an
      emergency; nor any professional once the DMP is closed.
    - Normal access: the médecin traitant, or a professional the patient authorized (in person or
      through their establishment).
    - Emergency (bris de glace): any professional, with a written justification, unless the patient
      opposed emergency access.
    - SAMU regulation: a regulating médecin, with a written justification, unless the patient
      opposed it (a separate setting).
    """
    actor = access.actor
    refused = first_refusal(refuse_excluded(actor), _destroyed(access.record))
    if refused is not None:
        return refused
    if isinstance(actor, ProfessionalActor):
        return _professional_opens(actor, access)
    if isinstance(actor, SystemActor):
        return deny(OPERATOR)
    return _holder_opens(actor, access)


def read_document(access: Access, doc: DocumentFacts, matrix: ProfessionMatrix) -> Decision:
    """May this person read this document? Only if they may open the DMP, and then:

    - a deleted document is read by no one; archived and replaced versions stay readable;
    - the patient reads everything, masked documents included, except what awaits the
      announcement consultation (INVISIBLE_PATIENT); a legal representative reads the same, except
      also what is invisible to legal representatives (the minor's own secrets);
    - the author (in person or through their establishment) always reads their document;
    - the médecin traitant reads every document, masked ones included, in normal access;
    - any other professional, and anyone in an emergency mode, never reads a masked document, and
      reads the others if the profession matrix lets their profession read that class.
    """
    return document_visible(access, doc, matrix, open_record(access))


def document_visible(
    access: Access, doc: DocumentFacts, matrix: ProfessionMatrix | None, opened: Decision
) -> Decision:
    """read_document once the DMP is opened (``opened``). Without a matrix, the profession matrix
    is not consulted: see change_document, where it could not change the outcome."""
    if not opened:
        return opened
    if doc.status is DocStatus.DELETED:
        return deny("document-deleted")
    actor = access.actor
    if isinstance(actor, ProfessionalActor):
        return _professional_sees(actor, access, doc, matrix, opened)
    # open_record turned the operator away: only the patient and the representatives are left.
    if doc.invisible_patient:
        return deny("invisible-patient")
    if doc.invisible_representatives and isinstance(actor, RepresentativeActor):
        return deny("invisible-representatives")
    return opened


def open_for_writing(access: Access) -> Decision:
    """Opening the DMP to change something: it must be active, and the emergency modes only read."""
    opened = open_record(access)
    if not opened:
        return opened
    if access.mode is not AccessMode.NORMAL:
        return deny("read-only-mode")
    inactive = not_active(access.record)
    return opened if inactive is None else inactive


def as_holder(access: Access, opens: Callable[[Access], Decision]) -> Decision:
    """An action only the patient or a legal representative takes, once ``opens`` lets them in."""
    if not is_holder(access.actor):
        return refuse_actor(access.actor, "holder-only")
    return opens(access)


def professional_barred(actor: ProfessionalActor, record: RecordFacts) -> Decision | None:
    """Excluded by law, then blocked by the patient: the refusals no authorization overrides."""
    if is_excluded(actor):
        return deny("excluded-actor")
    if is_blocked(actor.professional_id, record):
        return deny("blocked")
    return None


def _destroyed(record: RecordFacts) -> Decision | None:
    return deny("record-destroyed") if record.state is RecordState.DESTROYED else None


# --- the patient and the legal representatives ---------------------------------------------------


def _holder_opens(actor: PatientActor | RepresentativeActor, access: Access) -> Decision:
    identity = _holder_identity(actor, access.record)
    if identity and access.mode is not AccessMode.NORMAL:
        return deny("mode-not-for-patient")
    return identity


def _holder_identity(actor: PatientActor | RepresentativeActor, record: RecordFacts) -> Decision:
    if actor.dmp_id != record.dmp_id:
        return deny("other-record")
    if isinstance(actor, PatientActor):
        holder = actor.account_id == record.patient_account_id
        return allow("holder") if holder else deny("not-holder")
    if actor.account_id not in record.representative_account_ids:
        return deny("not-representative")
    if not record.patient_is_minor:
        return deny("representative-of-adult")
    return allow("legal-representative")


# --- professionals -------------------------------------------------------------------------------


def _professional_opens(actor: ProfessionalActor, access: Access) -> Decision:
    refused = first_refusal(professional_barred(actor, access.record), not_active(access.record))
    if refused is not None:
        return refused
    return _BY_MODE[access.mode](actor, access)


def _opens_normally(actor: ProfessionalActor, access: Access) -> Decision:
    if is_medecin_traitant(actor, access.record):
        return allow("medecin-traitant")
    if is_authorized(actor, access.record):
        return allow("authorized")
    return deny("not-authorized")


def _opens_in_emergency(actor: ProfessionalActor, access: Access) -> Decision:
    if not _justified(access):
        return deny("justification-required")
    if access.record.oppose_emergency:
        return deny("emergency-opposed")
    return allow("emergency")


def _opens_as_samu(actor: ProfessionalActor, access: Access) -> Decision:
    if not (actor.samu_regulator and actor.profession == MEDECIN):
        return deny("not-samu-regulator")
    if not _justified(access):
        return deny("justification-required")
    if access.record.oppose_samu:
        return deny("samu-opposed")
    return allow("samu")


_BY_MODE: dict[AccessMode, Callable[[ProfessionalActor, Access], Decision]] = {
    AccessMode.NORMAL: _opens_normally,
    AccessMode.EMERGENCY: _opens_in_emergency,
    AccessMode.SAMU: _opens_as_samu,
}


def _justified(access: Access) -> bool:
    return not unjustified(access.mode, access.justification)


def unjustified(mode: AccessMode, justification: str | None) -> bool:
    """An emergency mode asked for without a written justification: refused whatever the DMP,
    so the refusal may say what is missing without telling whether the DMP exists."""
    return mode is not AccessMode.NORMAL and not (justification and justification.strip())


def _professional_sees(
    actor: ProfessionalActor,
    access: Access,
    doc: DocumentFacts,
    matrix: ProfessionMatrix | None,
    opened: Decision,
) -> Decision:
    if is_author(actor, doc):
        return allow("author")
    # The médecin traitant's wider sight comes with normal access only: in an emergency mode,
    # masked documents stay masked, for them too.
    if access.mode is AccessMode.NORMAL and is_medecin_traitant(actor, access.record):
        return allow("medecin-traitant")
    if doc.masked:
        return deny("masked")
    if matrix is not None and not matrix.allows(actor.profession, doc.class_code):
        return deny("profession-matrix")
    return opened
