"""What the service keeps a trace of: the audit chains' entries and heads (docs/adr/0004), and
the notifications queued in the outbox (docs/adr/0009). Pure: values as they are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of a DMP's chain (or of the system chain), as stored: ``hash`` covers every
    other field (``services.audit.entry_hash``), ``prev_hash`` links it to the one before."""

    dmp_id: UUID
    seq: int
    at: datetime
    actor_kind: str  # professional | patient | representative | system
    actor_id: str | None
    actor_rpps: str | None
    profession: str | None  # TRE_G15 code of a professional actor
    establishment: str | None  # the FINESS a professional acted for
    mode: str  # an AccessMode
    action: str
    target_kind: str | None
    target_id: str | None
    outcome: str  # allowed | denied
    reason: str
    justification_enc: bytes | None  # sealed under the DMP's key
    secret: bool  # hidden from legal representatives
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry of a chain, signed: a tail cut off no longer matches it."""

    dmp_id: UUID
    seq: int
    hash: str
    signature: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class ChainActor:
    """Someone a chain names as an actor (each once: the history's choice of person)."""

    actor_kind: str
    actor_id: str | None
    actor_rpps: str | None


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    """An entry of a professional's own activity, as much as it says in clear: no
    justification (sealed under the DMP's key), no target id, no other actor."""

    dmp_id: UUID
    seq: int
    at: datetime
    profession: str | None
    establishment: str | None
    mode: str
    action: str
    target_kind: str | None
    outcome: str  # allowed | denied
    reason: str


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A queued notification and where its delivery stands (``state``: an OutboxState's
    value). Its ``params`` (JSON) never hold health data nor an address; a message to a
    ``contact`` carries its addresses sealed under a key of its own (``contact_enc``)."""

    id: UUID
    dmp_id: UUID | None
    recipient_kind: str  # account | professional | contact
    recipient_id: UUID
    template: str
    params: str
    contact_enc: bytes | None
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    state: str
    next_attempt_at: datetime
    lease_until: datetime | None
    claim: UUID | None  # the claim in force: only its holder records the outcome
    channels_done: str  # "email sms"
    last_error: str | None
