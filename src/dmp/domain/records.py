"""A DMP and its documents as the data database keeps them: what the repositories hand back, one
object per row, its fields the columns the statement selects (by name). Sealed columns stay
sealed (``*_enc``): only the DMP's or the document's key opens them. Pure: no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp.domain.directory import ListedEstablishment, ListedProfessional
from dmp.domain.model import Author, Content, DocStatus, DocumentFacts

# --- a DMP and who may enter it -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A DMP: its state (a ``RecordState``, or ``destroying`` while its destruction is under
    way), its patient's sealed INS and identity, its médecin traitant and oppositions."""

    dmp_id: UUID
    ins_index: str  # the INS's blind index (adapters.blindindex)
    ins_enc: bytes | None  # None only for a DMP whose destruction was under way at revision 0003
    ins_system: str  # NIR or NIA
    state: str
    identity_enc: bytes
    patient_account_id: UUID
    medecin_traitant_id: UUID | None
    oppose_emergency: bool
    oppose_samu: bool
    created_at: datetime
    created_by: UUID
    closed_at: datetime | None
    closure_reason_enc: bytes | None


@dataclass(frozen=True, slots=True)
class Consent:
    """The patient's consent, collected by a professional, to a DMP's creation or reactivation."""

    dmp_id: UUID
    id: UUID
    kind: str  # creation | reactivation
    professional_id: UUID
    establishment_id: UUID | None
    brochure_version: str
    collected_at: datetime


@dataclass(frozen=True, slots=True)
class Authorization:
    """A professional or an establishment the patient let into their DMP."""

    dmp_id: UUID
    subject_kind: str  # professional | establishment
    subject_id: UUID
    source: str  # patient | declared | creator | reactivation
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class ListedAuthorization:
    """An authorization as the patient reads it in a list: with a professional's names,
    profession and RPPS, or an establishment's name, kind and FINESS (the other's are None, and
    all of them for a subject the directory no longer knows)."""

    subject_kind: str
    subject_id: UUID
    source: str
    granted_at: datetime
    rpps: str | None
    given_name: str | None
    family_name: str | None
    profession: str | None
    specialty: str | None
    occupational_health: bool | None
    active: bool | None
    finess: str | None
    name: str | None  # the establishment's
    kind: str | None  # the establishment's

    def professional(self) -> ListedProfessional:
        """The professional it names, as the directory lists them."""
        p = self
        if p.rpps is None or p.given_name is None or p.family_name is None or p.profession is None:
            raise ValueError(f"no professional of the directory: {p.subject_id}")
        return ListedProfessional(
            p.subject_id,
            p.rpps,
            p.given_name,
            p.family_name,
            p.profession,
            p.specialty,
            bool(p.occupational_health),
            bool(p.active),
        )

    def establishment(self) -> ListedEstablishment:
        """The establishment it names, as the directory lists it."""
        if self.finess is None or self.name is None or self.kind is None:
            raise ValueError(f"no establishment of the directory: {self.subject_id}")
        return ListedEstablishment(self.subject_id, self.finess, self.name, self.kind)


@dataclass(frozen=True, slots=True)
class Block:
    """A professional the patient keeps out of their DMP."""

    dmp_id: UUID
    professional_id: UUID
    blocked_at: datetime


@dataclass(frozen=True, slots=True)
class ListedBlock:
    """A professional the patient blocked, as listed to them."""

    professional_id: UUID
    blocked_at: datetime
    rpps: str
    given_name: str
    family_name: str
    profession: str
    specialty: str | None
    occupational_health: bool
    active: bool

    def professional(self) -> ListedProfessional:
        """The blocked professional, as the directory lists them."""
        return ListedProfessional(
            self.professional_id,
            self.rpps,
            self.given_name,
            self.family_name,
            self.profession,
            self.specialty,
            self.occupational_health,
            self.active,
        )


@dataclass(frozen=True, slots=True)
class Representative:
    """A legal representative of the patient (a minor's parent), their identity sealed."""

    dmp_id: UUID
    account_id: UUID
    identity_enc: bytes
    since: datetime


@dataclass(frozen=True, slots=True)
class FirstAccess:
    """A professional's first access to a DMP, and the last emergency access the patient was
    told of."""

    dmp_id: UUID
    professional_id: UUID
    first_access_at: datetime
    last_emergency_notice_at: datetime | None


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What remains of a destroyed DMP: the blind index of its INS, when and at whose request."""

    id: UUID
    ins_index: str
    dmp_id: UUID
    destroyed_at: datetime
    requested_by: str  # patient | representative | retention


# --- documents ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document of a DMP: its metadata (title and comments sealed under its own key), its
    author's ids, its flags, its status and its versions."""

    dmp_id: UUID
    id: UUID
    logical_id: UUID  # stable across versions
    version: int
    master_identifier: str
    status: str  # a DocStatus
    type_code: str
    class_code: str
    format_code: str
    confidentiality: str  # a Confidentiality
    language: str
    title_enc: bytes
    comments_enc: bytes | None
    author_professional_id: UUID | None
    author_establishment_id: UUID | None
    author_role: str | None  # profession code, or "patient"
    added_by_patient: bool
    creation_time: datetime
    submitted_at: datetime
    service_start: datetime | None
    service_stop: datetime | None
    practice_setting: str | None
    facility_type: str | None
    masked: bool
    invisible_patient: bool
    invisible_representatives: bool
    hidden_since: datetime | None
    hidden_notice_at: datetime | None
    replaces_id: UUID | None
    replaced_by_id: UUID | None
    updated_at: datetime
    meta_version: int  # FHIR meta.versionId: one more at each change of a flag or the status
    submission_set_id: UUID | None

    @property
    def facts(self) -> DocumentFacts:
        """What the policy decides on."""
        return DocumentFacts(
            class_code=self.class_code,
            status=DocStatus(self.status),
            masked=self.masked,
            invisible_patient=self.invisible_patient,
            invisible_representatives=self.invisible_representatives,
            author_professional_id=self.author_professional_id,
            author_establishment_id=self.author_establishment_id,
            added_by_patient=self.added_by_patient,
        )


@dataclass(frozen=True, slots=True)
class AuthoredDocument(StoredDocument):
    """A document with what its author's label needs, read with it (no query per author): the
    professional's RPPS and names, the establishment's FINESS and name."""

    author_rpps: str | None
    author_given_name: str | None
    author_family_name: str | None
    author_finess: str | None
    author_establishment_name: str | None

    @property
    def author(self) -> Author:
        if self.author_rpps is not None:
            name = f"{self.author_given_name} {self.author_family_name}"
        else:
            name = "Le patient" if self.added_by_patient else "?"
        return Author(
            self.author_professional_id,
            self.author_establishment_id,
            name,
            self.author_role,
            self.author_rpps,
            self.author_finess,
            self.author_given_name,
            self.author_family_name,
            self.author_establishment_name,
        )


@dataclass(frozen=True, slots=True)
class DocumentKey:
    """A document named by its DMP and its id."""

    dmp_id: UUID
    id: UUID


@dataclass(frozen=True, slots=True)
class StoredContent:
    """A content of a document: where its sealed bytes are, and what they are once opened."""

    dmp_id: UUID
    document_id: UUID
    position: int
    mime_type: str
    size: int
    sha256: str  # hex digest of the plaintext
    sha1: str | None  # FHIR attachment.hash; None for contents stored before revision 0008
    blob_key: str

    @property
    def content(self) -> Content:
        return Content(
            self.position, self.mime_type, self.size, self.sha256, self.blob_key, self.sha1
        )
