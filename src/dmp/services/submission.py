"""Feeding the DMP: submit documents (and replacements), change their flags and status, and
destroy them at the patient's request. See the docstring of ``dmp.services.documents``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from dmp import policy
from dmp.adapters.crypto import encrypt_stream
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain import inputs
from dmp.domain.content import inspect
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    Actor,
    Author,
    Content,
    DocStatus,
    Document,
    DocumentMetadata,
    ProfessionalActor,
)
from dmp.errors import Conflict, Forbidden, InvalidInput, TooLarge, UnsupportedContent
from dmp.policy import DocumentChange
from dmp.services import audit
from dmp.services.common import (
    NO_DOCUMENT,
    Loaded,
    french_date,
    hidden,
    load_by_id,
    load_or_refuse,
    notify_patient,
    record_audit,
    refuse,
)
from dmp.services.context import Context
from dmp.services.documents import (
    Reading,
    Submission,
    _content_aad,
    _facts_of,
    _readable,
    get_document,
)


@dataclass
class _Digest:
    """Counts and hashes the plaintext as it streams past."""

    size: int = 0

    def __post_init__(self) -> None:
        self._sha = hashlib.sha256()

    def through(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.size += len(chunk)
            self._sha.update(chunk)
            yield chunk

    @property
    def hexdigest(self) -> str:
        return self._sha.hexdigest()


@dataclass
class _Prepared:
    submission: Submission
    document_id: UUID
    class_code: str
    contents: list[dict[str, Any]]


def _validate(ctx: Context, submission: Submission) -> str:
    """Check the metadata (limits, value sets); returns the class derived from the type."""
    mime_types = [content.mime_type for content in submission.contents]
    return inputs.check_document(submission.metadata, mime_types, ctx.valuesets)


def _check(
    ctx: Context, uow: UnitOfWork, actor: Actor, loaded: Loaded, prepared: Sequence[_Prepared]
) -> None:
    """Decide each submission (and each replacement); refuse the whole bundle at the first no."""
    access = policy.Access(actor, loaded.facts)
    for p in prepared:
        m = p.submission.metadata
        decision = policy.add_document(access, p.class_code)
        if decision and m.invisible_patient and not isinstance(actor, ProfessionalActor):
            decision = policy.deny("not-allowed-change")
        if not decision:
            error = Forbidden(decision.message) if policy.open_record(access) else hidden()
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                "document.add",
                decision,
                error,
                target_kind="document",
                target_id=m.master_identifier,
            )
        if uow.documents.master_identifier_taken(loaded.dmp_id, m.master_identifier):
            raise Conflict(f"Un document porte déjà l'identifiant {m.master_identifier}.")
        if p.submission.replaces_id is not None:
            old = _readable(
                ctx, uow, Reading(actor), loaded, p.submission.replaces_id, "document.replace"
            )
            change = policy.change_document(access, _facts_of(old), DocumentChange.REPLACE)
            if not change:
                refuse(
                    ctx,
                    uow,
                    loaded,
                    actor,
                    "document.replace",
                    change,
                    Conflict(change.message),
                    target_kind="document",
                    target_id=old["id"],
                )


def _store_contents(
    ctx: Context, dmp_id: UUID, p: _Prepared, written: list[tuple[UUID, str]]
) -> None:
    key = ctx.keys.create(p.document_id)
    written.append((p.document_id, ""))
    for position, content in enumerate(p.submission.contents):
        blob_key = f"{dmp_id}/{p.document_id}-{position}"
        digest = _Digest()
        checked = inspect(content.mime_type, content.chunks, ctx.settings.max_content_bytes)
        sealed = encrypt_stream(
            key, _content_aad(dmp_id, p.document_id, position), digest.through(checked)
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
                "blob_key": blob_key,
            }
        )


def _store_refused_or(
    ctx: Context, actor: Actor, dmp_id: UUID, p: _Prepared, written: list[tuple[UUID, str]]
) -> None:
    """Store the contents; a content refused on its type or size is audited as a refusal."""
    try:
        _store_contents(ctx, dmp_id, p, written)
    except (UnsupportedContent, TooLarge) as exc:
        with ctx.uow() as uow:
            loaded = load_by_id(ctx, uow, dmp_id)
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                "document.add",
                exc.code,
                exc,
                target_kind="document",
                target_id=p.submission.metadata.master_identifier,
            )


def _discard(ctx: Context, written: list[tuple[UUID, str]]) -> None:
    for key_id, blob_key in written:
        if blob_key:
            ctx.blobs.delete(blob_key)
        else:
            ctx.keys.destroy(key_id)


def submit_documents(
    ctx: Context, actor: Actor, patient: UUID | Ins, submissions: Sequence[Submission]
) -> list[Document]:
    """Store every document of the submission with its audit entry, or none of them. The DMP
    is given by its id, or by the patient's INS (resolved in the first check)."""
    prepared = [_Prepared(s, uuid4(), _validate(ctx, s), []) for s in submissions]
    identifiers = [s.metadata.master_identifier for s in submissions]
    if len(set(identifiers)) != len(identifiers):
        raise Conflict("Deux documents de la soumission portent le même identifiant unique.")
    with ctx.uow() as uow:
        loaded = load_or_refuse(ctx, uow, actor, patient, "document.add")
        dmp_id = loaded.dmp_id
        _check(ctx, uow, actor, loaded, prepared)
    written: list[tuple[UUID, str]] = []
    try:
        for p in prepared:
            _store_refused_or(ctx, actor, dmp_id, p, written)
        with ctx.uow() as uow:
            locked = load_by_id(ctx, uow, dmp_id, for_update=True)
            if locked is None:
                raise hidden()
            _check(ctx, uow, actor, locked, prepared)  # the DMP may have changed meanwhile
            now = ctx.now()
            stored = [_insert(ctx, uow, actor, locked, p, now) for p in prepared]
            _notify_added(uow, actor, locked, prepared, now)
            uow.commit()
    except BaseException:
        _discard(ctx, written)
        raise
    return stored


def _insert(
    ctx: Context, uow: UnitOfWork, actor: Actor, loaded: Loaded, p: _Prepared, now: datetime
) -> Document:
    """Write one document's rows and audit entry; returns the document as stored."""
    m: DocumentMetadata = p.submission.metadata
    dmp_id, doc_id = loaded.dmp_id, p.document_id
    cipher = FieldCipher(dmp_id, ctx.keys.get(doc_id))
    logical_id, version = uuid4(), 1
    if p.submission.replaces_id is not None:
        old = uow.documents.get(dmp_id, p.submission.replaces_id, for_update=True)
        assert old is not None  # checked by _check in this transaction
        logical_id, version = old["logical_id"], old["version"] + 1
        uow.documents.update(
            dmp_id,
            old["id"],
            status=DocStatus.SUPERSEDED.value,
            replaced_by_id=doc_id,
            updated_at=now,
        )
    pro = actor if isinstance(actor, ProfessionalActor) else None
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
    }
    uow.documents.add(values, p.contents)
    action = "document.replace" if p.submission.replaces_id else "document.add"
    record_audit(
        ctx,
        uow,
        loaded,
        actor,
        audit.Event(action, True, "stored", "document", doc_id, secret=m.invisible_representatives),
    )
    return Document(
        dmp_id=dmp_id,
        id=doc_id,
        logical_id=logical_id,
        version=version,
        status=DocStatus.CURRENT,
        class_code=p.class_code,
        metadata=m,
        author=_author_of(uow, pro),
        submitted_at=now,
        contents=tuple(
            Content(
                c["position"],
                c["mime_type"],
                c["size"],
                c["sha256"],
                c["blob_key"],
            )
            for c in p.contents
        ),
        replaces_id=p.submission.replaces_id,
        hidden_since=values["hidden_since"],
        added_by_patient=pro is None,
    )


def _author_of(uow: UnitOfWork, pro: ProfessionalActor | None) -> Author:
    if pro is None:
        return Author(None, None, "Le patient", "patient")
    name = pro.display_name
    if name is None:
        found = uow.directory.professional(pro.professional_id)
        name = found.display_name if found else pro.rpps
    return Author(
        pro.professional_id,
        pro.establishment_id,
        name,
        pro.profession,
        pro.rpps,
        pro.establishment_finess,
    )


def _notify_added(
    uow: UnitOfWork, actor: Actor, loaded: Loaded, prepared: Sequence[_Prepared], now: datetime
) -> None:
    # The patient is not told of a document hidden from them until the announcement consultation.
    told = [p for p in prepared if not p.submission.metadata.invisible_patient]
    if told and isinstance(actor, ProfessionalActor):
        notify_patient(
            uow,
            now,
            loaded,
            "document_added",
            date=french_date(now),
        )


_FLAG_CHANGES: dict[DocumentChange, dict[str, object]] = {
    DocumentChange.MASK: {"masked": True},
    DocumentChange.UNMASK: {"masked": False},
    DocumentChange.ARCHIVE: {"status": DocStatus.ARCHIVED.value},
    DocumentChange.UNARCHIVE: {"status": DocStatus.CURRENT.value},
    DocumentChange.DELETE: {"status": DocStatus.DELETED.value},
}


def change_document(
    ctx: Context, actor: Actor, dmp_id: UUID, document_id: UUID, change: DocumentChange
) -> Document | None:
    """Mask or unmask, hide from the patient or reveal, archive, unarchive or delete a document.
    Returns the document as the actor now sees it (None once deleted)."""
    if change is DocumentChange.REPLACE:
        raise InvalidInput("Un remplacement se fait en soumettant la nouvelle version.")
    with ctx.uow() as uow:
        loaded = load_by_id(ctx, uow, dmp_id, for_update=True)
        if loaded is None:
            raise hidden()
        access = policy.Access(actor, loaded.facts)
        row = uow.documents.get(dmp_id, document_id, for_update=True)
        visible = policy.read_document(access, _facts_of(row), ctx.matrix) if row else None
        if row is None or not visible:
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                f"document.{change.value}",
                visible or NO_DOCUMENT,
                hidden("Document"),
                target_kind="document",
                target_id=document_id,
                secret=bool(row and row["invisible_representatives"]),
            )
        decision = policy.change_document(access, _facts_of(row), change)
        if not decision:
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                f"document.{change.value}",
                decision,
                Forbidden(decision.message),
                target_kind="document",
                target_id=document_id,
            )
        now = ctx.now()
        values: dict[str, object] = dict(_FLAG_CHANGES.get(change, {}))
        if change is DocumentChange.HIDE_FROM_PATIENT:
            values = {"invisible_patient": True, "hidden_since": now, "hidden_notice_at": None}
        elif change is DocumentChange.REVEAL:
            values = {"invisible_patient": False, "hidden_since": None}
        uow.documents.update(dmp_id, document_id, updated_at=now, **values)
        record_audit(
            ctx,
            uow,
            loaded,
            actor,
            audit.Event(
                f"document.{change.value}",
                True,
                decision.reason,
                "document",
                document_id,
                secret=row["invisible_representatives"],
            ),
        )
        uow.commit()
    if change is DocumentChange.DELETE:
        return None
    return get_document(ctx, Reading(actor), dmp_id, document_id)


def destroy_documents(
    ctx: Context, actor: Actor, dmp_id: UUID, document_ids: Sequence[UUID]
) -> int:
    """Partial destruction, at the patient's request: the documents' keys and contents are
    destroyed, irreversibly; only the audit entries remain."""
    if not document_ids:
        raise InvalidInput("Choisissez au moins un document à détruire.")
    with ctx.uow() as uow:
        loaded = load_by_id(ctx, uow, dmp_id, for_update=True)
        if loaded is None:
            raise hidden()
        access = policy.Access(actor, loaded.facts)
        step_up = timedelta(seconds=ctx.settings.step_up_max_age_seconds)
        decision = policy.destroy(access, ctx.now(), step_up)
        if not decision:
            refuse(
                ctx,
                uow,
                loaded,
                actor,
                "document.destroy",
                decision,
                Forbidden(decision.message),
                target_kind="record",
                target_id=dmp_id,
            )
        for document_id in document_ids:
            _readable(ctx, uow, Reading(actor), loaded, document_id, "document.destroy")
        blob_keys = uow.documents.destroy(dmp_id, list(document_ids))
        for document_id in document_ids:
            record_audit(
                ctx,
                uow,
                loaded,
                actor,
                audit.Event("document.destroy", True, decision.reason, "document", document_id),
            )
        now = ctx.now()
        notify_patient(
            uow,
            now,
            loaded,
            "documents_destroyed",
            count=str(len(document_ids)),
            date=french_date(now),
        )
        uow.commit()
    for document_id in document_ids:
        ctx.keys.destroy(document_id)
    for blob_key in blob_keys:
        ctx.blobs.delete(blob_key)
    return len(document_ids)
