"""Feeding a DMP and changing its documents (SPEC §3.3, §4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dmp.domain.model import (
    PATIENT_CLASS,
    Actor,
    DocStatus,
    DocumentFacts,
    ProfessionalActor,
    RecordFacts,
)
from dmp.domain.valuesets import ProfessionMatrix
from dmp.policy.access import Access, document_visible, open_for_writing, open_record
from dmp.policy.decision import Decision, deny
from dmp.policy.relations import is_author, is_holder, is_medecin_traitant


class DocumentChange(StrEnum):
    MASK = "mask"  # MASQUE_PS: hidden from professionals other than the author and the MT
    UNMASK = "unmask"
    HIDE_FROM_PATIENT = "hide-from-patient"  # INVISIBLE_PATIENT until the announcement consultation
    REVEAL = "reveal"
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    DELETE = "delete"
    REPLACE = "replace"


def add_document(access: Access, class_code: str, hidden_from_patient: bool = False) -> Decision:
    """May this person add a document of this class to the DMP?

    Only to an active DMP they may open, and never in an emergency mode (it only reads). A
    professional adds any class but the patient's own (class 90); the patient and the legal
    representatives add only that class. Only a professional hides a document from the patient
    until the announcement consultation.
    """
    opened = open_for_writing(access)
    if not opened:
        return opened
    patient_class = class_code == PATIENT_CLASS
    if is_holder(access.actor):
        if hidden_from_patient:
            return deny("not-allowed-change")
        return opened if patient_class else deny("professional-class-only")
    return deny("patient-class-only") if patient_class else opened


def change_document(
    access: Access, doc: DocumentFacts, change: DocumentChange, matrix: ProfessionMatrix
) -> Decision:
    """May this person make this change to this document?

    Only on a document they may read (a document one may not read cannot be changed, and the
    reason is the one that keeps it from them), on an active DMP, in normal access. Then:

    - mask: the patient, a legal representative, or the author; unmask: the patient or a legal
      representative only;
    - hide from the patient (until the announcement consultation): the author only, and never a
      document the patient added; reveal it: the author or the médecin traitant;
    - archive (a current document), unarchive (an archived one), delete (current or archived),
      replace (a current one): the author, or the patient and the legal representatives for the
      documents the patient added.
    """
    seen = document_visible(access, doc, matrix, open_record(access))
    if not seen:
        return seen
    writable = open_for_writing(access)
    if not writable:
        return writable
    if not _MAY[change](access.actor, access.record, doc):
        return deny("not-allowed-change")
    if doc.status not in _FROM_STATUS.get(change, _ANY_STATUS):
        return deny("wrong-status")
    return seen


@dataclass(frozen=True, slots=True)
class Flags:
    """The flags a version of a document carries (SPEC §3.3)."""

    masked: bool = False
    invisible_patient: bool = False
    invisible_representatives: bool = False


def version_flags(replaced: DocumentFacts, declared: Flags) -> Flags:
    """The flags of a new version of a document: those its author declares, plus every flag
    that protects the patient on the version it replaces. A document the patient masked stays
    masked (only the patient unmasks), and a minor's document kept from the legal
    representatives stays so; whether it awaits the announcement consultation is the author's
    call, as for any version."""
    return Flags(
        masked=declared.masked or replaced.masked,
        invisible_patient=declared.invisible_patient,
        invisible_representatives=(
            declared.invisible_representatives or replaced.invisible_representatives
        ),
    )


def _author(actor: Actor, doc: DocumentFacts) -> bool:
    return isinstance(actor, ProfessionalActor) and is_author(actor, doc)


def _may_mask(actor: Actor, record: RecordFacts, doc: DocumentFacts) -> bool:
    return is_holder(actor) or _author(actor, doc)


def _may_unmask(actor: Actor, record: RecordFacts, doc: DocumentFacts) -> bool:
    # Masking protects the patient; the author masks at submission but lifting it is the patient's.
    return is_holder(actor)


def _may_hide(actor: Actor, record: RecordFacts, doc: DocumentFacts) -> bool:
    return _author(actor, doc) and not doc.added_by_patient


def _may_reveal(actor: Actor, record: RecordFacts, doc: DocumentFacts) -> bool:
    medecin_traitant = isinstance(actor, ProfessionalActor) and is_medecin_traitant(actor, record)
    return _author(actor, doc) or medecin_traitant


def _may_manage(actor: Actor, record: RecordFacts, doc: DocumentFacts) -> bool:
    return _author(actor, doc) or (is_holder(actor) and doc.added_by_patient)


_MAY: dict[DocumentChange, Callable[[Actor, RecordFacts, DocumentFacts], bool]] = {
    DocumentChange.MASK: _may_mask,
    DocumentChange.UNMASK: _may_unmask,
    DocumentChange.HIDE_FROM_PATIENT: _may_hide,
    DocumentChange.REVEAL: _may_reveal,
    DocumentChange.ARCHIVE: _may_manage,
    DocumentChange.UNARCHIVE: _may_manage,
    DocumentChange.DELETE: _may_manage,
    DocumentChange.REPLACE: _may_manage,
}

# The statuses a document must have for a lifecycle change; the flags change on any visible one.
_ANY_STATUS = frozenset(DocStatus)
_FROM_STATUS: dict[DocumentChange, frozenset[DocStatus]] = {
    DocumentChange.ARCHIVE: frozenset({DocStatus.CURRENT}),
    DocumentChange.UNARCHIVE: frozenset({DocStatus.ARCHIVED}),
    DocumentChange.DELETE: frozenset({DocStatus.CURRENT, DocStatus.ARCHIVED}),
    DocumentChange.REPLACE: frozenset({DocStatus.CURRENT}),
}
