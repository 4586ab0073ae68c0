"""Entities and value objects of the DMP. Pure: no database, no clock, no web framework."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

MEDECIN = "10"  # profession code (TRE_G15) of a médecin
PATIENT_CLASS = "90"  # class code (JDV_J57) of documents added by the patient


class RecordState(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    DESTROYED = "destroyed"


class AccessMode(StrEnum):
    NORMAL = "normal"
    EMERGENCY = "emergency"  # bris de glace
    SAMU = "samu"  # régulation médicale, centre 15


class DocStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"
    ARCHIVED = "archived"
    DELETED = "deleted"


class OutboxState(StrEnum):
    """Where a queued notification stands (docs/adr/0009-notification-delivery.md)."""

    PENDING = "pending"  # to send at its next attempt time
    SENDING = "sending"  # claimed by a sender, until its lease ends
    SENT = "sent"
    FAILED = "failed"  # every attempt failed: the operator is told
    UNCERTAIN = "uncertain"  # a send may have happened, unconfirmed: never sent again


class Confidentiality(StrEnum):
    NORMAL = "N"
    RESTRICTED = "R"
    VERY_RESTRICTED = "V"


# --- the people and organisations ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Establishment:
    id: UUID
    finess: str
    name: str
    kind: str  # a code of the establishment_kinds value set
    excluded: bool  # insurer, mutuelle, bank, employer, occupational health: never granted anything


@dataclass(frozen=True, slots=True)
class Professional:
    id: UUID
    rpps: str
    family_name: str
    given_name: str
    profession: str  # TRE_G15 code
    specialty: str | None
    occupational_health: bool  # médecin du travail: legally excluded from the DMP
    samu_regulator: bool  # may use the SAMU regulation access mode
    establishment_ids: frozenset[UUID] = frozenset()
    active: bool = True
    # Attached to establishments, every one of them excluded (a mutuelle's médecin-conseil): a
    # fact of the directory, read with the professional (see policy.acts_only_for_excluded).
    attached_only_to_excluded: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


# --- who is acting ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfessionalActor:
    """A health professional, possibly acting for one of the establishments they work for."""

    professional_id: UUID
    rpps: str
    profession: str
    occupational_health: bool = False
    samu_regulator: bool = False
    establishment_id: UUID | None = None  # the establishment they act for, if any
    establishment_excluded: bool = False
    establishment_finess: str | None = None
    attached_only_to_excluded: bool = False  # every establishment they belong to is excluded
    # As the directory had them when the actor was authenticated: what a document they add
    # names as its author, and the kind of establishment its MHD context derives from.
    given_name: str | None = None
    family_name: str | None = None
    establishment_name: str | None = None
    establishment_kind: str | None = None

    @property
    def display_name(self) -> str | None:
        """The name as the directory writes it ("Prénom Nom"), when known."""
        if self.given_name is None or self.family_name is None:
            return None
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True, slots=True)
class PatientActor:
    """The holder (titulaire) of the DMP, logged in to the portal."""

    account_id: UUID
    dmp_id: UUID
    step_up_at: datetime | None = None  # last fresh one-time code, required before destroying


@dataclass(frozen=True, slots=True)
class RepresentativeActor:
    """A legal representative (parent, guardian) acting for a minor."""

    account_id: UUID
    dmp_id: UUID
    step_up_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SystemActor:
    """A scheduled job or the operator's command line: runs the service, never reads health data."""

    name: str


Actor = ProfessionalActor | PatientActor | RepresentativeActor | SystemActor


# --- the facts the policy decides on ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordFacts:
    dmp_id: UUID
    state: RecordState
    patient_account_id: UUID | None = None
    representative_account_ids: frozenset[UUID] = frozenset()
    patient_is_minor: bool = False
    medecin_traitant_id: UUID | None = None
    authorized_professionals: frozenset[UUID] = frozenset()
    authorized_establishments: frozenset[UUID] = frozenset()
    blocked_professionals: frozenset[UUID] = frozenset()
    oppose_emergency: bool = False
    oppose_samu: bool = False


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    class_code: str
    status: DocStatus = DocStatus.CURRENT
    masked: bool = False  # MASQUE_PS
    invisible_patient: bool = False  # INVISIBLE_PATIENT
    invisible_representatives: bool = False  # INVISIBLE_REPRESENTANTS_LEGAUX
    author_professional_id: UUID | None = None
    author_establishment_id: UUID | None = None
    added_by_patient: bool = False


# --- records and documents ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    family_name: str
    given_names: str
    birth_date: date
    gender: str  # "male" | "female" | "other" | "unknown" (FHIR administrative gender)
    birth_name: str | None = None

    def is_minor_on(self, day: date) -> bool:
        eighteenth = _add_years(self.birth_date, 18)
        return day < eighteenth


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True, slots=True)
class ContactChannels:
    email: str | None = None
    phone: str | None = None  # E.164, e.g. +33612345678


@dataclass(frozen=True, slots=True)
class Author:
    professional_id: UUID | None
    establishment_id: UUID | None
    display_name: str
    role: str | None  # profession code, or "patient"
    rpps: str | None = None
    finess: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    establishment_name: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What the producer declares about a document (IHE XDS / MHD metadata)."""

    master_identifier: str
    type_code: str
    title: str
    creation_time: datetime
    format_code: str
    confidentiality: Confidentiality = Confidentiality.NORMAL
    comments: str | None = None
    service_start: datetime | None = None
    service_stop: datetime | None = None
    practice_setting: str | None = None
    facility_type: str | None = None
    language: str = "fr-FR"
    masked: bool = False
    invisible_patient: bool = False
    invisible_representatives: bool = False


@dataclass(frozen=True, slots=True)
class ContentInput:
    """One content of a document to store: its declared MIME type and its bytes, as a stream;
    and, when the producer declared them, its size and SHA-1 (FHIR ``attachment.size`` and
    ``attachment.hash``), which the stored bytes must match."""

    mime_type: str
    chunks: Iterable[bytes]
    declared_size: int | None = None
    declared_sha1: bytes | None = None


@dataclass(frozen=True, slots=True)
class Content:
    position: int
    mime_type: str
    size: int
    sha256: str  # hex digest of the plaintext
    blob_key: str
    sha1: str | None = None  # hex digest of the plaintext (FHIR attachment.hash); None if older


@dataclass(frozen=True, slots=True)
class Document:
    dmp_id: UUID
    id: UUID
    logical_id: UUID  # stable across versions
    version: int
    status: DocStatus
    class_code: str
    metadata: DocumentMetadata
    author: Author
    submitted_at: datetime
    contents: tuple[Content, ...]
    replaces_id: UUID | None = None
    replaced_by_id: UUID | None = None
    hidden_since: datetime | None = None
    added_by_patient: bool = False
    # The version of its metadata (FHIR meta.versionId): one more at each change of a flag or of
    # the status, while ``version`` counts the versions of the document itself (replacements).
    meta_version: int = 1
    updated_at: datetime | None = None
    submission_set_id: UUID | None = None

    @property
    def last_updated(self) -> datetime:
        return self.updated_at or self.submitted_at

    @property
    def facts(self) -> DocumentFacts:
        return DocumentFacts(
            class_code=self.class_code,
            status=self.status,
            masked=self.metadata.masked,
            invisible_patient=self.metadata.invisible_patient,
            invisible_representatives=self.metadata.invisible_representatives,
            author_professional_id=self.author.professional_id,
            author_establishment_id=self.author.establishment_id,
            added_by_patient=self.added_by_patient,
        )
