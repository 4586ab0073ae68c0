"""Feeding the DMP: submit documents (and replacements), change their flags and status, and
destroy them at the patient's request.

Submission runs in three steps so that no database lock is held while content streams in:
check the right to write; stream each content through the type check and the cipher into the
blob store; then, in one transaction, check again and write the metadata and the audit entry.
If anything fails after content was written, that content and its key are removed, unless the
commit itself went unconfirmed (``CommitInDoubt``: the document may be stored); if the process
dies instead, ``dmp jobs run`` sweeps what no committed row refers to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from dmp import policy
from dmp.adapters.crypto import encrypt_stream
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain import inputs
from dmp.domain.content import inspect
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    AccessMode,
    Actor,
    Author,
    DocStatus,
    Document,
    DocumentMetadata,
    ProfessionalActor,
)
from dmp.domain.records import StoredDocument
from dmp.errors import (
    CommitInDoubt,
    Conflict,
    ContentMismatch,
    InvalidInput,
    PreconditionFailed,
    TooLarge,
    Unavailable,
    UnsupportedContent,
)
from dmp.policy import DocumentChange, Flags
from dmp.services import gate
from dmp.services.common import french_date, notify_patient
from dmp.services.context import Context
from dmp.services.documents import Submission, content_aad, content_of, get_document
from dmp.services.gate import Admitted, Door, Reading


@dataclass
class _Digest:
    """Counts and hashes the plaintext as it streams past (SHA-256, ours; SHA-1, FHIR's
    ``attachment.hash``), and holds it to what the producer declared (size, SHA-1) before the
    last bytes are let through."""

    declared_size: int | None = None
    declared_sha1: bytes | None = None
    size: int = 0
    _sha256: Any = field(default_factory=hashlib.sha256)
    _sha1: Any = field(default_factory=hashlib.sha1)

    def through(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.size += len(chunk)
            self._sha256.update(chunk)
            self._sha1.update(chunk)
            if self.declared_size is not None and self.size > self.declared_size:
                raise _mismatch("taille")
            yield chunk
        if self.declared_size is not None and self.size != self.declared_size:
            raise _mismatch("taille")
        if self.declared_sha1 is not None and self._sha1.digest() != self.declared_sha1:
            raise _mismatch("empreinte SHA-1")

    @property
    def hexdigest(self) -> str:
        return str(self._sha256.hexdigest())

    @property
    def sha1_hexdigest(self) -> str:
        return str(self._sha1.hexdigest())


def _mismatch(what: str) -> ContentMismatch:
    return ContentMismatch(
        f"Le contenu reçu ne correspond pas à sa {what} déclarée (attachment.size, "
        "attachment.hash) : rien n'a été enregistré."
    )


@dataclass
class _Prepared:
    submission: Submission
    document_id: UUID
    class_code: str
    contents: list[dict[str, Any]]
    replaced: Admitted[StoredDocument] | None = None  # the version it replaces, let through
    decision: policy.Decision | None = None  # why this person may store it
    set_id: UUID | None = None  # the SubmissionSet it comes in


def _validate(ctx: Context, submission: Submission) -> str:
    """Check the metadata (limits, value sets); returns the class derived from the type."""
    mime_types = [content.mime_type for content in submission.contents]
    return inputs.check_document(submission.metadata, mime_types, ctx.valuesets)


def _check(ctx: Context, door: Door, prepared: Sequence[_Prepared], *, lock: bool) -> None:
    """Decide each submission (and each replacement); refuse the whole bundle at the first no,
    with the refusal in the trail."""
    for p in prepared:
        m = p.submission.metadata
        target = ("document", m.master_identifier)
        decision = policy.add_document(door.access, p.class_code, m.invisible_patient)
        if not decision:
            door.refuse(decision, told=policy.told_why(door.access, decision), target=target)
        if door.uow.documents.master_identifier_taken(door.dmp_id, m.master_identifier):
            # The same answer whoever may see the other document: it tells only that the
            # producer's unique id is taken in this DMP.
            error = Conflict(f"Un document porte déjà l'identifiant {m.master_identifier}.")
            door.refuse(gate.DUPLICATE_IDENTIFIER, target=target, error=error)
        p.decision = decision
        if p.submission.replaces_id is not None:
            p.replaced = door.document(
                p.submission.replaces_id,
                lambda access, facts: policy.change_document(
                    access, facts, DocumentChange.REPLACE, ctx.matrix
                ),
                lock=lock,
                action="document.replace",
            )
            p.decision = p.replaced.decision


def _store_contents(
    ctx: Context, dmp_id: UUID, p: _Prepared, written: list[tuple[UUID, str]]
) -> None:
    key = ctx.keys.create(p.document_id, group=dmp_id)
    written.append((p.document_id, ""))
    for position, content in enumerate(p.submission.contents):
        blob_key = f"{dmp_id}/{p.document_id}-{position}"
        digest = _Digest(content.declared_size, content.declared_sha1)
        checked = inspect(content.mime_type, content.chunks, ctx.settings.max_content_bytes)
        sealed = encrypt_stream(
            key, content_aad(dmp_id, p.document_id, position), digest.through(checked)
        )
        written.append((p.document_id, blob_key))
        ctx.blobs.put(blob_key, sealed)
        p.contents.append(
            {
                "dmp_id": dmp_id,
                "document_id": p.document_id,
                "position": position,
                "mime_type": content.mime_type,
                "size": digest.size,
                "sha256": digest.hexdigest,
                "sha1": digest.sha1_hexdigest,
                "blob_key": blob_key,
            }
        )


def _store_refused_or(
    ctx: Context, reading: Reading, dmp_id: UUID, p: _Prepared, written: list[tuple[UUID, str]]
) -> None:
    """Store the contents; a content refused on its type, size or hash is audited as a
    refusal."""
    try:
        _store_contents(ctx, dmp_id, p, written)
    except (UnsupportedContent, TooLarge, ContentMismatch) as exc:
        with ctx.uow() as uow:
            door = gate.enter(ctx, uow, reading, "document.add", dmp_id, policy.open_record)
            target = ("document", p.submission.metadata.master_identifier)
            door.refuse(exc.code, target=target, error=exc)


def _discard(ctx: Context, written: list[tuple[UUID, str]]) -> None:
    """Remove what a failed submission wrote: the contents first, then the keys. A store that
    fails here (the one that made the submission fail, often) leaves an orphan that the sweep
    of ``dmp jobs run`` removes; the submission's own error is the one reported."""
    for key_id, blob_key in sorted(written, key=lambda w: not w[1]):
        try:
            if blob_key:
                ctx.blobs.delete(blob_key)
            else:
                ctx.keys.destroy(key_id)
        except Unavailable:
            continue


def submit_documents(
    ctx: Context,
    actor: Actor,
    patient: UUID | Ins,
    submissions: Sequence[Submission],
    *,
    mode: AccessMode = AccessMode.NORMAL,
    justification: str | None = None,
) -> list[Document]:
    """Store every document of the submission with its audit entry, or none of them. The DMP
    is given by its id, or by the patient's INS (resolved in the first check). An emergency
    mode only reads: a submission in one is refused, and the refusal is in the trail. The
    documents share one SubmissionSet id (``Document.submission_set_id``)."""
    set_id = uuid4()
    prepared = [_Prepared(s, uuid4(), _validate(ctx, s), [], set_id=set_id) for s in submissions]
    identifiers = [s.metadata.master_identifier for s in submissions]
    if len(set(identifiers)) != len(identifiers):
        raise Conflict("Deux documents de la soumission portent le même identifiant unique.")
    reading = Reading(actor, mode, justification)
    with ctx.uow() as uow:
        door = gate.enter(ctx, uow, reading, "document.add", patient, policy.open_for_writing)
        dmp_id = door.dmp_id
        _check(ctx, door, prepared, lock=False)
    written: list[tuple[UUID, str]] = []
    try:
        for p in prepared:
            _store_refused_or(ctx, reading, dmp_id, p, written)
        with ctx.uow() as uow:
            # The DMP may have changed meanwhile: decide again, on its row locked.
            door = gate.enter(
                ctx, uow, reading, "document.add", dmp_id, policy.open_for_writing, lock=True
            )
            _check(ctx, door, prepared, lock=True)
            now = ctx.now()
            stored = [_insert(ctx, door, p, now) for p in prepared]
            _notify_added(door, prepared, now)
            uow.commit()
    except CommitInDoubt:
        raise  # stored or not: the orphan sweep removes the contents only if no row has them
    except BaseException:
        _discard(ctx, written)
        raise
    return stored


def _flags(p: _Prepared) -> Flags:
    m = p.submission.metadata
    declared = Flags(m.masked, m.invisible_patient, m.invisible_representatives)
    return declared if p.replaced is None else policy.version_flags(p.replaced.facts, declared)


def _insert(ctx: Context, door: Door, p: _Prepared, now: datetime) -> Document:
    """Write one document's rows and audit entry; returns the document as stored."""
    flags = _flags(p)
    dmp_id, doc_id, uow, actor = door.dmp_id, p.document_id, door.uow, door.actor
    pro = actor if isinstance(actor, ProfessionalActor) else None
    facility_type, practice_setting = _context_of(ctx, pro, p.submission.metadata)
    m: DocumentMetadata = replace(
        p.submission.metadata,
        masked=flags.masked,
        invisible_patient=flags.invisible_patient,
        invisible_representatives=flags.invisible_representatives,
        facility_type=facility_type,
        practice_setting=practice_setting,
    )
    cipher = FieldCipher(dmp_id, ctx.keys.get(doc_id))
    logical_id, version = uuid4(), 1
    if p.replaced is not None:
        old = p.replaced.document
        logical_id, version = old.logical_id, old.version + 1
        uow.documents.update(
            dmp_id,
            old.id,
            status=DocStatus.SUPERSEDED.value,
            replaced_by_id=doc_id,
            updated_at=now,
            meta_version=old.meta_version + 1,
        )
    values: dict[str, Any] = {
        "dmp_id": dmp_id,
        "id": doc_id,
        "logical_id": logical_id,
        "version": version,
        "master_identifier": m.master_identifier,
        "status": DocStatus.CURRENT.value,
        "type_code": m.type_code,
        "class_code": p.class_code,
        "format_code": m.format_code,
        "confidentiality": m.confidentiality.value,
        "language": m.language,
        "title_enc": cipher.seal("title", doc_id, m.title),
        "comments_enc": cipher.seal_optional("comments", doc_id, m.comments),
        "author_professional_id": pro.professional_id if pro else None,
        "author_establishment_id": pro.establishment_id if pro else None,
        "author_role": pro.profession if pro else "patient",
        "added_by_patient": pro is None,
        "creation_time": m.creation_time,
        "submitted_at": now,
        "service_start": m.service_start,
        "service_stop": m.service_stop,
        "practice_setting": m.practice_setting,
        "facility_type": m.facility_type,
        "masked": m.masked,
        "invisible_patient": m.invisible_patient,
        "invisible_representatives": m.invisible_representatives,
        "hidden_since": now if m.invisible_patient else None,
        "hidden_notice_at": None,
        "replaces_id": p.submission.replaces_id,
        "replaced_by_id": None,
        "updated_at": now,
        "meta_version": 1,
        "submission_set_id": p.set_id,
    }
    uow.documents.add(values, p.contents)
    assert p.decision is not None  # decided by _check in this transaction
    door.record(
        p.decision,
        action="document.replace" if p.replaced else "document.add",
        target=("document", doc_id),
        secret=m.invisible_representatives,
    )
    return Document(
        dmp_id=dmp_id,
        id=doc_id,
        logical_id=logical_id,
        version=version,
        status=DocStatus.CURRENT,
        class_code=p.class_code,
        metadata=m,
        author=_author_of(pro),
        submitted_at=now,
        contents=tuple(content_of(c) for c in p.contents),
        replaces_id=p.submission.replaces_id,
        hidden_since=values["hidden_since"],
        added_by_patient=pro is None,
        updated_at=now,
        submission_set_id=p.set_id,
    )


def _context_of(
    ctx: Context, pro: ProfessionalActor | None, m: DocumentMetadata
) -> tuple[str, str]:
    """The MHD context the producer gave, or that of who produced the document: the kind of
    establishment the author acts for, a professional alone, the patient (see the value sets)."""
    producer = "patient" if pro is None else (pro.establishment_kind or "alone")
    default = ctx.valuesets.document_contexts.get(
        producer, ctx.valuesets.document_contexts["alone"]
    )
    return m.facility_type or default[0], m.practice_setting or default[1]


def _author_of(pro: ProfessionalActor | None) -> Author:
    """The author as the directory had them when the actor was authenticated (in this request):
    no statement of its own."""
    if pro is None:
        return Author(None, None, "Le patient", "patient")
    return Author(
        pro.professional_id,
        pro.establishment_id,
        pro.display_name or pro.rpps,
        pro.profession,
        pro.rpps,
        pro.establishment_finess,
        pro.given_name,
        pro.family_name,
        pro.establishment_name,
    )


def _notify_added(door: Door, prepared: Sequence[_Prepared], now: datetime) -> None:
    # The patient is not told of a document hidden from them until the announcement consultation.
    told = [p for p in prepared if not _flags(p).invisible_patient]
    if told and isinstance(door.actor, ProfessionalActor):
        notify_patient(door, "document_added", date=french_date(now))


_FLAG_CHANGES: dict[DocumentChange, dict[str, object]] = {
    DocumentChange.MASK: {"masked": True},
    DocumentChange.UNMASK: {"masked": False},
    DocumentChange.ARCHIVE: {"status": DocStatus.ARCHIVED.value},
    DocumentChange.UNARCHIVE: {"status": DocStatus.CURRENT.value},
    DocumentChange.DELETE: {"status": DocStatus.DELETED.value},
}


def change_document(
    ctx: Context,
    actor: Actor,
    dmp_id: UUID,
    document_id: UUID,
    change: DocumentChange,
    *,
    mode: AccessMode = AccessMode.NORMAL,
    justification: str | None = None,
    expected_version: int | None = None,
) -> Document | None:
    """Mask or unmask, hide from the patient or reveal, archive, unarchive or delete a document.
    Returns the document as the actor now sees it (None once deleted). An emergency mode only
    reads: a change asked in one is refused, and the refusal is in the trail. With
    ``expected_version`` (HTTP ``If-Match``), a change made to another version than the current
    one is refused, and the refusal is in the trail: whoever asked had not seen the last change."""
    if change is DocumentChange.REPLACE:
        raise InvalidInput("Un remplacement se fait en soumettant la nouvelle version.")
    action = f"document.{change.value}"
    with ctx.uow() as uow:
        reading = Reading(actor, mode, justification)
        door = gate.enter(ctx, uow, reading, action, dmp_id, policy.open_record, lock=True)
        found = door.document(
            document_id,
            lambda access, facts: policy.change_document(access, facts, change, ctx.matrix),
            lock=True,
        )
        _check_version(door, found, expected_version)
        now = ctx.now()
        values: dict[str, object] = dict(_FLAG_CHANGES.get(change, {}))
        if change is DocumentChange.HIDE_FROM_PATIENT:
            values = {"invisible_patient": True, "hidden_since": now, "hidden_notice_at": None}
        elif change is DocumentChange.REVEAL:
            values = {"invisible_patient": False, "hidden_since": None}
        version = found.document.meta_version + 1
        uow.documents.update(dmp_id, document_id, updated_at=now, meta_version=version, **values)
        door.record(
            found.decision,
            target=("document", document_id),
            secret=found.facts.invisible_representatives,
        )
        uow.commit()
    if change is DocumentChange.DELETE:
        return None
    return get_document(ctx, Reading(actor), dmp_id, document_id)


def _check_version(door: Door, found: Admitted[StoredDocument], expected: int | None) -> None:
    current = found.document.meta_version
    if expected is not None and expected != current:
        error = PreconditionFailed(
            f"Le document a changé depuis votre lecture (version {current}, vous avez envoyé "
            f"If-Match pour la version {expected}) : relisez-le, puis refaites la modification."
        )
        target = ("document", found.document.id)
        secret = found.facts.invisible_representatives
        door.refuse(gate.STALE_VERSION, target=target, secret=secret, error=error)


def destroy_documents(
    ctx: Context, actor: Actor, dmp_id: UUID, document_ids: Sequence[UUID]
) -> int:
    """Partial destruction, at the patient's request: the documents' keys and contents are
    destroyed, irreversibly; only the audit entries remain."""
    chosen = list(dict.fromkeys(document_ids))
    if not chosen:
        raise InvalidInput("Choisissez au moins un document à détruire.")
    step_up = timedelta(seconds=ctx.settings.step_up_max_age_seconds)
    with ctx.uow() as uow:
        door = gate.enter(
            ctx,
            uow,
            Reading(actor),
            "document.destroy",
            dmp_id,
            lambda access: policy.destroy(access, ctx.now(), step_up),
            lock=True,
        )
        for document_id in chosen:
            door.document(
                document_id,
                lambda access, facts: policy.read_document(access, facts, ctx.matrix),
                lock=True,
            )
        blob_keys = uow.documents.destroy(dmp_id, chosen)
        for document_id in chosen:
            door.record(target=("document", document_id))
        now = ctx.now()
        notify_patient(door, "documents_destroyed", count=str(len(chosen)), date=french_date(now))
        uow.commit()
    for document_id in chosen:
        ctx.keys.destroy(document_id)
    for blob_key in blob_keys:
        ctx.blobs.delete(blob_key)
    return len(chosen)
