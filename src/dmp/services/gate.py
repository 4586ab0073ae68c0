"""The one door to a DMP. Every read or change of a DMP, whoever asks (the professional API,
the portals, the scheduled jobs), passes here, in this order:

1. resolve the DMP, by its id or by the patient's INS (through its blind index: the data
   database knows no INS, and the audit entries name an INS by its index);
2. load its facts (state, authorizations, blocks, médecin traitant, oppositions, minority);
3. ask the policy;
4. write the audit entry, allowed or refused, with the exact reason of the decision;
5. hand the caller a ``Door`` to act through (or raise, once the refusal is committed).

A refusal that is not in the patient's history did not happen: every refusal here is written
and committed before it is answered. "Not allowed" is answered exactly like "does not exist",
unless the policy says the person may learn why (``policy.told_why``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, Literal, NoReturn, TypeVar, overload
from uuid import UUID

from dmp import policy
from dmp.adapters.db.repositories import DESTROYING
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    AccessMode,
    Actor,
    DocumentFacts,
    PatientIdentity,
    ProfessionalActor,
    RecordFacts,
    RecordState,
)
from dmp.domain.records import AuthoredDocument, StoredContent, StoredDocument, StoredRecord
from dmp.errors import Conflict, DmpError, Forbidden, InvalidInput, NotFound
from dmp.policy import Decision
from dmp.services import audit
from dmp.services.context import Context
from dmp.services.sessions import StepUpRequired

# The service's own refusal reasons, beside the policy's (``policy.REASONS``): what was asked for
# does not exist, or cannot be stored as given.
NO_RECORD = "no-record"
NO_DOCUMENT = "no-document"
NO_CONTENT = "no-content"
DUPLICATE_IDENTIFIER = "duplicate-identifier"
STALE_VERSION = "stale-version"  # a change asked of another version than the current one

# The refusal a fresh one-time code lifts: its error tells the portal to ask for one.
STEP_UP_REQUIRED = "step-up-required"

# Refusals that state a conflict with the DMP's state (409) rather than a lack of right (403).
_CONFLICTS = frozenset(
    {
        "record-exists",
        "record-closed",
        "record-not-closed",
        "record-destroyed",
        "wrong-status",
        "medecin-traitant-designated",
        DUPLICATE_IDENTIFIER,
    }
)

Decide = Callable[[policy.Access], Decision]
DecideDocument = Callable[[policy.Access, DocumentFacts], Decision]


@dataclass(frozen=True, slots=True)
class Reading:
    """Who acts, and how: the normal way, or in an emergency mode with a justification."""

    actor: Actor
    mode: AccessMode = AccessMode.NORMAL
    justification: str | None = None


@dataclass(frozen=True, slots=True)
class Loaded:
    """A DMP as the door loaded it: as stored, the facts the policy needs, and its cipher."""

    record: StoredRecord
    facts: RecordFacts
    cipher: FieldCipher
    identity: PatientIdentity
    accessed: bool = False  # the acting professional opened this DMP before

    @property
    def dmp_id(self) -> UUID:
        return self.facts.dmp_id


def hidden(what: str = "DMP") -> NotFound:
    """Refusals of access look exactly like absence."""
    return NotFound(f"{what} introuvable ou accès non autorisé.")


def refusal_error(reason: str, told: bool, what: str = "DMP") -> DmpError:
    """How a refusal is answered: as absence unless the person may learn why; then as a conflict
    with the DMP's state, or as a lack of right, with the policy's French message."""
    if not told:
        return hidden(what)
    message = policy.REASONS.get(reason, "Action non autorisée.")
    if reason == STEP_UP_REQUIRED:
        return StepUpRequired(message)
    return Conflict(message) if reason in _CONFLICTS else Forbidden(message)


def _answer(reading: Reading, error: DmpError) -> DmpError:
    """An emergency read asked for without a justification is told so, whatever the refusal
    (the same answer whether or not the DMP exists)."""
    if isinstance(error, NotFound) and policy.unjustified(reading.mode, reading.justification):
        return InvalidInput(policy.REASONS["justification-required"], code="justification")
    return error


def identity_to_json(identity: PatientIdentity) -> str:
    return json.dumps(
        {
            "family_name": identity.family_name,
            "given_names": identity.given_names,
            "birth_date": identity.birth_date.isoformat(),
            "gender": identity.gender,
            "birth_name": identity.birth_name,
        },
        ensure_ascii=False,
    )


def identity_from_json(text: str) -> PatientIdentity:
    raw = json.loads(text)
    return PatientIdentity(
        raw["family_name"],
        raw["given_names"],
        date.fromisoformat(raw["birth_date"]),
        raw["gender"],
        raw.get("birth_name"),
    )


def state_of(record: StoredRecord | None) -> RecordState | None:
    if record is None:
        return None
    if record.state == DESTROYING:
        return RecordState.DESTROYED
    return RecordState(record.state)


def _live(record: StoredRecord | None) -> StoredRecord | None:
    return None if record is None or record.state == DESTROYING else record


def _load(
    ctx: Context, uow: UnitOfWork, record: StoredRecord, reading: Reading, group_keys: bool = False
) -> Loaded:
    keys = ctx.keys
    data_key = keys.get_with_group(record.dmp_id) if group_keys else keys.get(record.dmp_id)
    cipher = FieldCipher(record.dmp_id, data_key)
    identity = identity_from_json(cipher.open("identity", "record", record.identity_enc))
    minor = identity.is_minor_on(ctx.now().date())
    actor = reading.actor
    accessor = actor.professional_id if isinstance(actor, ProfessionalActor) else None
    facts, accessed = uow.records.facts(record, patient_is_minor=minor, accessor=accessor)
    return Loaded(record, facts, cipher, identity, accessed)


# A DMP as the data database finds it: by its id, or by the blind index of the patient's INS.
Key = UUID | str


def _key(ctx: Context, patient: UUID | Ins) -> Key:
    """The INS's blind index, computed once for the whole request; a DMP id as it is."""
    return ctx.blind_index(patient) if isinstance(patient, Ins) else patient


def _record(uow: UnitOfWork, key: Key, lock: bool) -> StoredRecord | None:
    if isinstance(key, str):
        return uow.records.by_ins(key, for_update=lock)
    return uow.records.get(key, for_update=lock)


def _target_of(key: Key) -> tuple[str, object]:
    """What an audit entry names: the DMP, or for an INS with no DMP its blind index."""
    return ("ins-index", key) if isinstance(key, str) else ("record", key)


def _system_entry(
    ctx: Context,
    uow: UnitOfWork,
    reading: Reading,
    action: str,
    decision: Decision | str,
    target: tuple[str, object],
) -> None:
    """An entry of the system chain: about a DMP that does not exist (any more). No DMP, no key:
    a justification given for it is not kept."""
    allowed, reason = _outcome(decision)
    event = audit.Event(action, allowed, reason, target[0], target[1], reading.mode)
    audit.append(uow, ctx.signer, ctx.now(), None, reading.actor, event)


def _outcome(decision: Decision | str) -> tuple[bool, str]:
    if isinstance(decision, Decision):
        return decision.allowed, decision.reason
    return False, decision  # a refusal reason of the service's own


def _absent(
    ctx: Context,
    uow: UnitOfWork,
    reading: Reading,
    action: str,
    key: Key,
    record: StoredRecord | None,
) -> NoReturn:
    """No DMP (or one being destroyed): the refusal goes to the system chain. Whoever the law
    keeps out is told so, as they would be for a DMP that exists."""
    law = policy.refuse_excluded(reading.actor)
    reason: Decision | str = law or (NO_RECORD if record is None else "record-destroyed")
    _system_entry(ctx, uow, reading, action, reason, _target_of(key))
    uow.commit()
    raise refusal_error(law.reason, told=True) if law else _answer(reading, hidden())


def enter(
    ctx: Context,
    uow: UnitOfWork,
    reading: Reading,
    action: str,
    patient: UUID | Ins,
    decide: Decide,
    *,
    lock: bool = False,
    target: tuple[str, object] | None = None,
    at_point_of_care: bool = False,
    group_keys: bool = False,
) -> Door:
    """Open the DMP of ``patient`` (its id, or the patient's INS) for ``action``, as ``decide``
    rules; or write the refusal, commit it and raise. ``lock`` takes the DMP's row for the
    transaction (changes). ``target`` is what the audit entries name (the DMP by default).
    ``group_keys``: the keys of the DMP's documents are read with the DMP's (one key-store
    query for a search)."""
    key = _key(ctx, patient)
    record = _record(uow, key, lock)
    if _live(record) is None:
        _absent(ctx, uow, reading, action, key, record)
    assert record is not None
    loaded = _load(ctx, uow, record, reading, group_keys)
    door = Door(ctx, uow, reading, action, loaded, target or ("record", loaded.dmp_id))
    decision = decide(door.access)
    if not decision:
        door.refuse(decision, told=policy.told_why(door.access, decision, at_point_of_care))
    door.decision = decision
    return door


def run_job(
    ctx: Context, uow: UnitOfWork, reading: Reading, action: str, dmp_id: UUID, job: policy.Job
) -> Door | None:
    """Enter a DMP for one of the service's scheduled jobs; None if the DMP is gone meanwhile."""
    record = _live(uow.records.get(dmp_id, for_update=True))
    if record is None:
        return None
    door = Door(ctx, uow, reading, action, _load(ctx, uow, record, reading), ("record", dmp_id))
    door.decision = policy.scheduled(job)
    return door


def trace(
    ctx: Context,
    uow: UnitOfWork,
    reading: Reading,
    action: str,
    dmp_id: UUID,
    reason: str,
    secret: Callable[[policy.Access], bool],
) -> None:
    """A refusal decided before any DMP is opened (a wrong password or code at login), written
    to the DMP's chain in the caller's transaction: the patient reads it in their history."""
    record = _live(uow.records.get(dmp_id))
    if record is None:
        return
    door = Door(ctx, uow, reading, action, _load(ctx, uow, record, reading), ("record", dmp_id))
    door.record(reason, secret=secret(door.access))


def admit_creation(ctx: Context, uow: UnitOfWork, reading: Reading, ins_index: str) -> Decision:
    """May this professional create the DMP of the INS of this blind index? The INS's row (if
    any) stays locked until the transaction ends, so that two creations cannot both pass."""
    record = uow.records.by_ins(ins_index, for_update=True)
    decision = policy.create_record(reading.actor, state_of(record))
    if not decision:
        live = _live(record)
        if live is None:
            _system_entry(ctx, uow, reading, "record.create", decision, _target_of(ins_index))
            uow.commit()
            raise refusal_error(decision.reason, told=True)
        loaded = _load(ctx, uow, live, reading)
        door = Door(ctx, uow, reading, "record.create", loaded, ("record", loaded.dmp_id))
        door.refuse(decision, told=True)
    return decision


def look_up(ctx: Context, uow: UnitOfWork, reading: Reading, ins_index: str) -> Door | None:
    """Whether a DMP exists for the INS of this blind index: every professional may ask, except
    the excluded by law. Returns the door of the DMP, or None when there is none; the look-up is
    audited either way (in the DMP's chain, or in the system chain)."""
    decision = policy.look_up(reading.actor)
    record = _live(uow.records.by_ins(ins_index))
    door = None
    if record is not None:
        loaded = _load(ctx, uow, record, reading)
        door = Door(ctx, uow, reading, "record.lookup", loaded, ("record", loaded.dmp_id))
    if not decision:
        if door is not None:
            door.refuse(decision, told=True)
        _system_entry(ctx, uow, reading, "record.lookup", decision, _target_of(ins_index))
        uow.commit()
        raise refusal_error(decision.reason, told=True)
    if door is None:
        _system_entry(ctx, uow, reading, "record.lookup", decision, _target_of(ins_index))
        return None
    door.decision = decision
    door.record()
    return door


Stored_co = TypeVar("Stored_co", bound=StoredDocument, covariant=True)
Stored = TypeVar("Stored", bound=StoredDocument)


@dataclass(frozen=True, slots=True)
class Admitted(Generic[Stored_co]):
    """A document of the DMP that the door let through (read with its author's names, unless
    locked to be changed), the facts it was decided on, and the decision."""

    document: Stored_co
    facts: DocumentFacts
    decision: Decision


class Door:
    """An opened DMP: what the use case acts through, in the transaction that opened it."""

    def __init__(
        self,
        ctx: Context,
        uow: UnitOfWork,
        reading: Reading,
        action: str,
        loaded: Loaded,
        target: tuple[str, object],
    ) -> None:
        self.ctx, self.uow, self.reading, self.action = ctx, uow, reading, action
        self.loaded = loaded
        self.target = target
        self.access = policy.Access(
            reading.actor, loaded.facts, reading.mode, reading.justification
        )
        self.decision = policy.deny("not-authorized")  # set by whoever opens the door
        # The contents read with their documents (they never change once written).
        self._contents: dict[UUID, list[StoredContent]] = {}

    @property
    def dmp_id(self) -> UUID:
        return self.loaded.dmp_id

    @property
    def facts(self) -> RecordFacts:
        return self.loaded.facts

    @property
    def cipher(self) -> FieldCipher:
        return self.loaded.cipher

    @property
    def actor(self) -> Actor:
        return self.reading.actor

    # --- the trail -------------------------------------------------------------------------------

    def record(
        self,
        decision: Decision | str | None = None,
        *,
        action: str | None = None,
        target: tuple[str, object] | None = None,
        secret: bool = False,
    ) -> None:
        """Write the entry of what was decided (by default the door's own decision); a reason of
        the service's own is a refusal."""
        self._append(decision or self.decision, action, target, secret)

    def refuse(
        self,
        refusal: Decision | str,
        *,
        told: bool = False,
        target: tuple[str, object] | None = None,
        secret: bool = False,
        error: DmpError | None = None,
        what: str = "DMP",
        action: str | None = None,
    ) -> NoReturn:
        """Write the refusal with its exact reason, commit it, and raise: ``error`` if given,
        else as the policy says (absence, or the reason when the person is ``told``)."""
        self._append(refusal, action, target, secret)
        self.uow.commit()
        _, reason = _outcome(refusal)
        raise error or _answer(self.reading, refusal_error(reason, told, what))

    def _append(
        self,
        decision: Decision | str,
        action: str | None,
        target: tuple[str, object] | None,
        secret: bool,
    ) -> None:
        allowed, reason = _outcome(decision)
        kind, target_id = target or self.target
        # What a minor does online is a trace of their connection: the parents do not see it.
        secret = secret or policy.connection_is_secret(self.access)
        event = audit.Event(
            action or self.action,
            allowed,
            reason,
            kind,
            target_id,
            self.reading.mode,
            self.reading.justification,
            secret,
        )
        audit.append(
            self.uow, self.ctx.signer, self.ctx.now(), self.dmp_id, self.actor, event, self.cipher
        )

    # --- documents ------------------------------------------------------------------------------

    @overload
    def document(
        self,
        document_id: UUID,
        decide: DecideDocument,
        *,
        lock: Literal[False] = False,
        action: str | None = None,
    ) -> Admitted[AuthoredDocument]: ...

    @overload
    def document(
        self,
        document_id: UUID,
        decide: DecideDocument,
        *,
        lock: bool,
        action: str | None = None,
    ) -> Admitted[StoredDocument]: ...

    def document(
        self,
        document_id: UUID,
        decide: DecideDocument,
        *,
        lock: bool = False,
        action: str | None = None,
    ) -> Admitted[StoredDocument]:
        """One document of this DMP, as ``decide`` rules; or the refusal, written (as ``action``,
        the door's own by default) and raised. A document the person may not read is answered
        as a missing one. Locked (to be changed), it is read without its author's names."""
        document: StoredDocument | None
        if lock:
            document = self.uow.documents.get(self.dmp_id, document_id, for_update=True)
        elif found := self.uow.documents.with_author(self.dmp_id, document_id):
            document, self._contents[document_id] = found
        else:
            document = None
        target = ("document", document_id)
        if document is None:
            self.refuse(NO_DOCUMENT, target=target, what="Document", action=action)
        facts = document.facts
        decision = decide(self.access, facts)
        if not decision:
            told = policy.told_why_document(self.access, facts, self.ctx.matrix, decision)
            secret = facts.invisible_representatives
            self.refuse(
                decision, told=told, target=target, secret=secret, what="Document", action=action
            )
        return Admitted(document, facts, decision)

    def readable_documents(self) -> list[Admitted[AuthoredDocument]]:
        """Every document of the DMP this person may read, newest first (with their authors)."""
        documents = []
        for document, contents in self.uow.documents.of_record(self.dmp_id):
            documents.append(document)
            self._contents[document.id] = contents
        return self._visible(documents)

    def readable_among(self, document_ids: Sequence[UUID]) -> list[Admitted[StoredDocument]]:
        """Those of these documents this person may read now, in one statement (the access
        history names a document by its title only then)."""
        return self._visible(self.uow.documents.some(self.dmp_id, document_ids))

    def _visible(self, documents: Iterable[Stored]) -> list[Admitted[Stored]]:
        """Those of these documents this person may read: ``policy.read_document`` for each,
        the DMP's opening decided once for them all."""
        opened = policy.open_record(self.access)
        found = []
        for document in documents:
            facts = document.facts
            decision = policy.document_visible(self.access, facts, self.ctx.matrix, opened)
            if decision:
                found.append(Admitted(document, facts, decision))
        return found

    def contents(self, document_ids: Sequence[UUID]) -> dict[UUID, list[StoredContent]]:
        """The contents of documents the door let through (read with them, or now)."""
        missing = [i for i in document_ids if i not in self._contents]
        if missing:
            self._contents.update(self.uow.documents.contents(self.dmp_id, missing))
        return {i: self._contents[i] for i in document_ids}

    def readable(self, document_ids: Sequence[UUID | None]) -> frozenset[UUID]:
        """Which of these documents (other versions, say) this person may read."""
        wanted = [i for i in document_ids if i is not None]
        found = set()
        for document_id in wanted:
            document = self.uow.documents.get(self.dmp_id, document_id)
            facts = document.facts if document is not None else None
            if facts is not None and policy.read_document(self.access, facts, self.ctx.matrix):
                found.add(document_id)
        return frozenset(found)
