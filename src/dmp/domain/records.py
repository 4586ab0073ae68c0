"""A DMP and its documents as the data database keeps them: what the repositories hand back, one
object per row, its fields the columns the statement selects (by name). Sealed columns stay
sealed (``*_enc``): only the DMP's or the document's key opens them. Pure: no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

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
