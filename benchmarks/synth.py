"""Synthetic rows for the benchmarks: a directory, then patients with their DMP, documents, keys
and audit chain, as the services would have written them.

Everything is derived from a seed (patient ``i`` from ``Random(seed, i)``), except what the
cryptography must draw at random: data keys, nonces and salts. The rows are the real ones: data
keys wrapped by the master key (one per DMP, one per document), identity and titles sealed by
``FieldCipher``, audit entries hashed by ``dmp.services.audit.entry_hash`` and each chain's head
signed by ``AuditSigner``. Contents are encrypted with ``encrypt_stream`` for the sampled patients
only; the other documents are metadata-only (see ``docs/performance.md``).
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from dmp.adapters.blindindex import InsIndexer
from dmp.adapters.crypto import KeyRing
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.identifiers import INS_NIR_SYSTEM, nir_key
from dmp.domain.model import Actor, PatientActor, PatientIdentity, ProfessionalActor
from dmp.services.audit import GENESIS, AuditSigner, actor_fields, entry_hash
from dmp.services.gate import identity_to_json

ABSENT_SHA256 = "0" * 64  # metadata-only documents: no blob, and this says so
KIB = 1024
INS_SYSTEM = INS_NIR_SYSTEM  # the INS of the generated patients are NIR-based
_LOGIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_PLACES_PER_DEPARTMENT = 899 * 999  # commune 001-899 x order 001-999
_NUMERIC_DEPARTMENTS = tuple(f"{n:02d}" for n in range(1, 96) if n != 20)


def uuid_from(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def patient_rng(seed: int, index: int) -> random.Random:
    return random.Random(seed * 1_000_003 + index)


# --- document mix -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocType:
    code: str
    weight: float
    media: str  # pdf | cda | text
    profession: str | None = None  # who usually writes it (TRE_G15); None: a médecin or anyone


# JDV_J66 types with a plausible share of a DMP's documents (biology and prescriptions dominate).
DOC_MIX: tuple[DocType, ...] = (
    DocType("11502-2", 20, "pdf"),
    DocType("11488-4", 14, "pdf"),
    DocType("57833-6", 14, "pdf"),
    DocType("18748-4", 8, "pdf"),
    DocType("60593-1", 8, "pdf", "21"),
    DocType("REMB", 6, "pdf"),
    DocType("57832-8", 5, "pdf"),
    DocType("11490-0", 4, "cda"),
    DocType("34112-3", 3, "pdf"),
    DocType("57828-6", 3, "pdf"),
    DocType("11369-6", 3, "cda"),
    DocType("60591-5", 2, "cda"),
    DocType("64288-4", 1.5, "pdf"),
    DocType("11504-8", 1, "pdf"),
    DocType("11526-1", 1, "pdf"),
    DocType("28634-4", 1, "pdf", "70"),
    DocType("34874-8", 1, "pdf", "60"),
    DocType("34133-9", 1, "pdf"),
    DocType("18776-5", 0.5, "pdf"),
    DocType("29549-3", 0.5, "pdf", "60"),
    DocType("DOCPAT01", 0.6, "text", "patient"),
    DocType("DOCPAT02", 0.4, "text", "patient"),
    DocType("DOCPAT06", 0.3, "text", "patient"),
    DocType("EXPPAT_1", 0.2, "text", "patient"),
)
MEDIA = {
    # mime type, format code, median size (bytes), log-normal sigma
    "pdf": ("application/pdf", "urn:ihe:iti:xds:2017:mimeTypeSufficient", 200 * KIB, 1.0),
    "cda": ("text/xml", "urn:asip:ci-sis:2010", 24 * KIB, 0.6),
    "text": ("text/plain", "urn:ihe:iti:xds:2017:mimeTypeSufficient", 4 * KIB, 0.5),
}
MIN_SIZE, MAX_SIZE = 2 * KIB, 30 * 1024 * KIB


def draw_size(rng: random.Random, media: str) -> int:
    _mime, _format, median, sigma = MEDIA[media]
    return int(min(MAX_SIZE, max(MIN_SIZE, rng.lognormvariate(math.log(median), sigma))))


def draw_count(rng: random.Random, mean: float) -> int:
    """Documents per DMP: log-normal (many small DMPs, a long tail), capped at 20x the mean."""
    if mean <= 0:
        return 0
    sigma = 0.9
    value = rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
    return min(round(value), int(20 * mean) + 1)


# --- the directory ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pro:
    """A professional of the synthetic directory, as the generator needs it."""

    id: UUID
    rpps: str
    profession: str
    establishment_id: UUID
    finess: str
    display: str

    def actor(self) -> ProfessionalActor:
        return ProfessionalActor(
            professional_id=self.id,
            rpps=self.rpps,
            profession=self.profession,
            establishment_id=self.establishment_id,
            establishment_finess=self.finess,
        )


@dataclass
class Directory:
    """The establishments and professionals, and which of them are general practitioners."""

    establishments: list[dict[str, Any]] = field(default_factory=list)
    professionals: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    pros: list[Pro] = field(default_factory=list)
    gps: list[int] = field(default_factory=list)  # indices into pros


# --- one patient's rows -------------------------------------------------------------------------


@dataclass
class Rows:
    """Rows per table (dicts keyed by column), key-store rows, and contents to encrypt."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    keys: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[tuple[str, bytes, bytes, bytes]] = field(default_factory=list)  # key, dk, aad, data
    ins: dict[UUID, str] = field(default_factory=dict)  # for the manifest, never for the database

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(row)

    def extend(self, other: Rows) -> None:
        for table, rows in other.tables.items():
            self.tables.setdefault(table, []).extend(rows)
        self.keys += other.keys
        self.blobs += other.blobs
        self.ins |= other.ins

    def count(self) -> int:
        return sum(len(rows) for rows in self.tables.values()) + len(self.keys)


@dataclass(frozen=True)
class Crypto:
    """The secrets every row is written with: the INS index is computed with the index key of
    the data set's key store, the one its server will use."""

    keyring: KeyRing
    signer: AuditSigner
    index: InsIndexer

    def key_row(
        self, owner: UUID, data_key: bytes, at: datetime, group: UUID | None = None
    ) -> dict[str, Any]:
        """The key store's row of ``owner``'s key, in ``group`` (a document's: its DMP) or in a
        group of its own, as ``KeyStore.put`` writes it."""
        wrapped = self.keyring.wrap(owner, data_key)
        return {
            "dmp_id": owner,
            "key_id": wrapped.key_id,
            "wrapped": wrapped.blob,
            "created_at": at,
            "rotated_at": None,
            "group_id": group or owner,
        }


@dataclass(frozen=True)
class Event:
    """An audit event before it is chained: when, who, what."""

    at: datetime
    actor: Actor
    action: str
    reason: str
    target_kind: str | None = None
    target_id: object | None = None


def chain_rows(
    crypto: Crypto, chain: UUID, events: list[Event], start: tuple[int, str] = (0, GENESIS)
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The audit entries of ``events`` (sorted by time) appended after ``start``, and the signed
    head, exactly as ``dmp.services.audit.append`` writes them one by one."""
    seq, prev_hash = start
    entries = []
    for event in sorted(events, key=lambda e: e.at):
        seq += 1
        entry: dict[str, Any] = {
            "dmp_id": chain,
            "seq": seq,
            "at": event.at,
            **actor_fields(event.actor),
            "mode": "normal",
            "action": event.action,
            "target_kind": event.target_kind,
            "target_id": None if event.target_id is None else str(event.target_id),
            "outcome": "allowed",
            "reason": event.reason,
            "justification_enc": None,
            "secret": False,
            "prev_hash": prev_hash,
        }
        entry["hash"] = prev_hash = entry_hash(entry)
        entries.append(entry)
    head = {
        "dmp_id": chain,
        "seq": seq,
        "hash": prev_hash,
        "signature": crypto.signer.sign(chain, seq, prev_hash),
        "signed_at": entries[-1]["at"] if entries else datetime.now(UTC),
    }
    return entries, head


# --- identifiers that must be unique ------------------------------------------------------------


def unique_ins(index: int, birth: date, gender: str) -> str:
    """A valid INS whose birthplace digits encode ``index`` (bijectively): never a duplicate."""
    department = _NUMERIC_DEPARTMENTS[index // _PLACES_PER_DEPARTMENT % len(_NUMERIC_DEPARTMENTS)]
    place = index % _PLACES_PER_DEPARTMENT * 7919 % _PLACES_PER_DEPARTMENT  # 7919: coprime
    commune, order = place // 999 + 1, place % 999 + 1
    sex = "1" if gender == "male" else "2"
    nir = f"{sex}{birth.year % 100:02d}{birth.month:02d}{department}{commune:03d}{order:03d}"
    return f"{nir}{nir_key(nir):02d}"


def unique_login(index: int) -> str:
    """A 10-character login from the service's alphabet, one per index (a bijection)."""
    base = len(_LOGIN_ALPHABET)
    number = (index * 7_777_777_777 + 123_456_789) % base**10  # the multiplier is prime to 31
    chars = []
    for _ in range(10):
        number, digit = divmod(number, base)
        chars.append(_LOGIN_ALPHABET[digit])
    return "".join(chars)


def sealed_identity(cipher: FieldCipher, identity: PatientIdentity) -> bytes:
    return cipher.seal("identity", "record", identity_to_json(identity))


def patient_actor(account_id: UUID, dmp_id: UUID) -> PatientActor:
    return PatientActor(account_id, dmp_id)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(1.0, (end - start).total_seconds())
    return start + timedelta(seconds=rng.uniform(0, span))
