"""The audit trail: one hash-chained, signed chain of entries per DMP.

Each entry's hash covers its fields and the previous entry's hash; the chain's head (last sequence
number and hash) is signed with the operator's Ed25519 key on every append. ``verify`` recomputes
every chain: an edited, deleted, inserted or reordered entry breaks the hashes, and a cut tail no
longer matches the signed head. See docs/adr/0004-audit-chain.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.model import (
    AccessMode,
    Actor,
    PatientActor,
    ProfessionalActor,
    RepresentativeActor,
)
from dmp.domain.trail import AuditEntry, ChainHead
from dmp.errors import ConfigurationError

if TYPE_CHECKING:
    from dmp.adapters.db.uow import UnitOfWork

SYSTEM_CHAIN = UUID(int=0)  # actions that concern no DMP (directory, refused look-ups)
GENESIS = "0" * 64


class AuditSigner:
    def __init__(self, seed_b64: str) -> None:
        try:
            seed = base64.b64decode(seed_b64, validate=True)
            self._private = Ed25519PrivateKey.from_private_bytes(seed)
        except ValueError as exc:
            raise ConfigurationError(
                "DMP_AUDIT_SIGNING_KEY doit être une graine Ed25519 de 32 octets en base64."
            ) from exc
        self.public: Ed25519PublicKey = self._private.public_key()

    @staticmethod
    def generate() -> str:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        raw = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return base64.b64encode(raw).decode()

    # Each kind of signed message has its own prefix, so that a head's signature can never be
    # passed off as a witness checkpoint's, nor the other way round.
    @staticmethod
    def _message(dmp_id: UUID, seq: int, hash_: str) -> bytes:
        return f"dmp-audit-head:{dmp_id}:{seq}:{hash_}".encode()

    @staticmethod
    def _checkpoint_message(n: int, at: str, root: str) -> bytes:
        return f"dmp-witness:{n}:{at}:{root}".encode()

    def sign(self, dmp_id: UUID, seq: int, hash_: str) -> str:
        return self._sign(self._message(dmp_id, seq, hash_))

    def valid(self, dmp_id: UUID, seq: int, hash_: str, signature: str) -> bool:
        return self._valid(self._message(dmp_id, seq, hash_), signature)

    def sign_checkpoint(self, n: int, at: str, root: str) -> str:
        """Sign checkpoint ``n`` of the witness, written at ``at`` (as written in the line),
        whose ``root`` chains every head the witness has seen."""
        return self._sign(self._checkpoint_message(n, at, root))

    def valid_checkpoint(self, n: int, at: str, root: str, signature: str) -> bool:
        return self._valid(self._checkpoint_message(n, at, root), signature)

    def _sign(self, message: bytes) -> str:
        return base64.b64encode(self._private.sign(message)).decode()

    def _valid(self, message: bytes, signature: str) -> bool:
        try:
            self.public.verify(base64.b64decode(signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class Event:
    """What happened: the action, its target, and the decision with its reason."""

    action: str
    allowed: bool
    reason: str
    target_kind: str | None = None
    target_id: object | None = None
    mode: AccessMode = AccessMode.NORMAL
    justification: str | None = None
    secret: bool = False  # hidden from legal representatives (a minor's secret matters)


def actor_fields(actor: Actor) -> dict[str, Any]:
    if isinstance(actor, ProfessionalActor):
        return {
            "actor_kind": "professional",
            "actor_id": str(actor.professional_id),
            "actor_rpps": actor.rpps,
            "profession": actor.profession,
            "establishment": actor.establishment_finess,
        }
    if isinstance(actor, PatientActor | RepresentativeActor):
        kind = "patient" if isinstance(actor, PatientActor) else "representative"
        return {
            "actor_kind": kind,
            "actor_id": str(actor.account_id),
            "actor_rpps": None,
            "profession": None,
            "establishment": None,
        }
    return {
        "actor_kind": "system",
        "actor_id": actor.name,
        "actor_rpps": None,
        "profession": None,
        "establishment": None,
    }


_HASHED = (
    "dmp_id",
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor_rpps",
    "profession",
    "establishment",
    "mode",
    "action",
    "target_kind",
    "target_id",
    "outcome",
    "reason",
    "justification_enc",
    "secret",
    "prev_hash",
)


def entry_hash(entry: Mapping[str, Any] | AuditEntry) -> str:
    """The hash of an entry about to be written (its values by name), or of one stored."""

    def canonical(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat(timespec="microseconds")
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        if isinstance(value, UUID):
            return str(value)
        return value

    if isinstance(entry, AuditEntry):
        body = {name: canonical(getattr(entry, name)) for name in _HASHED}
    else:
        body = {name: canonical(entry[name]) for name in _HASHED}
    data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def append(
    uow: UnitOfWork,
    signer: AuditSigner,
    now: datetime,
    dmp_id: UUID | None,
    actor: Actor,
    event: Event,
    cipher: FieldCipher | None = None,
) -> int:
    """Append one entry to the chain of ``dmp_id`` (or the system chain) in the current
    transaction; returns its sequence number. Appends to one chain are serialised by the lock on
    its head row."""
    chain = dmp_id or SYSTEM_CHAIN
    head = uow.audit.head(chain, for_update=True)
    seq = head.seq + 1 if head else 1
    justification = None
    if event.justification is not None:
        if cipher is None:
            raise ValueError("a justification is health data: it needs the DMP's cipher")
        justification = cipher.seal("justification", seq, event.justification)
    entry: dict[str, Any] = {
        "dmp_id": chain,
        "seq": seq,
        "at": now,
        **actor_fields(actor),
        "mode": event.mode.value,
        "action": event.action,
        "target_kind": event.target_kind,
        "target_id": None if event.target_id is None else str(event.target_id),
        "outcome": "allowed" if event.allowed else "denied",
        "reason": event.reason,
        "justification_enc": justification,
        "secret": event.secret,
        "prev_hash": head.hash if head else GENESIS,
    }
    entry["hash"] = entry_hash(entry)
    signed = {
        "dmp_id": chain,
        "seq": seq,
        "hash": entry["hash"],
        "signed_at": now,
        "signature": signer.sign(chain, seq, entry["hash"]),
    }
    uow.audit.append(entry, signed, new_chain=head is None)
    return seq


@dataclass(frozen=True, slots=True)
class Break:
    """The first place where a chain does not hold."""

    dmp_id: UUID
    seq: int | None
    problem: str

    def __str__(self) -> str:
        chain = "chaîne système" if self.dmp_id == SYSTEM_CHAIN else f"DMP {self.dmp_id}"
        where = f"entrée n° {self.seq}" if self.seq is not None else "tête de chaîne"
        return f"{chain}, {where} : {self.problem}"


def verify_chain(  # noqa: PLR0911 (one return per kind of break, in order)
    entries: Iterator[AuditEntry], head: ChainHead | None, signer: AuditSigner, dmp_id: UUID
) -> tuple[int, Break | None]:
    """Check one chain; returns how many entries were read and the first break, if any."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return count, Break(
                dmp_id, expected_seq, f"entrée manquante ou déplacée (trouvé n° {entry.seq})"
            )
        if entry.prev_hash != prev_hash:
            return count, Break(dmp_id, entry.seq, "le chaînage avec l'entrée précédente est rompu")
        if entry_hash(entry) != entry.hash:
            return count, Break(dmp_id, entry.seq, "le contenu de l'entrée a été modifié")
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    if head is None:
        return count, Break(dmp_id, None, "la tête signée de la chaîne est absente")
    if not signer.valid(dmp_id, head.seq, head.hash, head.signature):
        return count, Break(dmp_id, None, "la signature de la tête de chaîne est invalide")
    if (head.seq, head.hash) != (expected_seq - 1, prev_hash):
        return count, Break(
            dmp_id,
            expected_seq if head.seq >= expected_seq else head.seq,
            f"la chaîne s'arrête au n° {expected_seq - 1} mais la tête signée "
            f"annonce le n° {head.seq} (entrées supprimées en fin de chaîne)",
        )
    return count, None
