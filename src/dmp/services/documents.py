"""Documents: submit (with replacement), find, read, change flags and status, destroy.

Submission runs in three steps so that no database lock is held while content streams in:
check the right to write; stream each content through the type check and the cipher into the
blob store; then, in one transaction, check again and write the metadata and the audit entry.
If anything fails after content was written, that content and its key are removed; if the process
dies instead, ``dmp jobs run`` sweeps what no committed row refers to.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp import policy
from dmp.adapters.crypto import decrypt_stream
from dmp.adapters.db.repositories import RowMap
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    AccessMode,
    Actor,
    Author,
    Confidentiality,
    Content,
    ContentInput,
    DocStatus,
    Document,
    DocumentFacts,
    DocumentMetadata,
)
from dmp.services import audit
from dmp.services.common import (
    NO_DOCUMENT,
    Loaded,
    hidden,
    load_or_refuse,
    record_audit,
    refuse,
)
from dmp.services.context import Context
from dmp.services.tracking import note_access


@dataclass(frozen=True, slots=True)
class Submission:
    metadata: DocumentMetadata
    contents: Sequence[ContentInput]
    replaces_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """ITI-67 search parameters, already parsed. Empty sets mean "any"."""

    statuses: frozenset[DocStatus] = frozenset({DocStatus.CURRENT})
    type_codes: frozenset[str] = frozenset()
    class_codes: frozenset[str] = frozenset()
    security_labels: frozenset[str] = frozenset()
    author_rpps: frozenset[str] = frozenset()
    created_from: datetime | None = None
    created_to: datetime | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """Who reads, and how: the normal way, or in emergency with a justification."""

    actor: Actor
    mode: AccessMode = AccessMode.NORMAL
    justification: str | None = None


def security_labels(doc: Document) -> frozenset[str]:
    labels = {doc.metadata.confidentiality.value}
    flags = (
        ("MASQUE_PS", doc.metadata.masked),
        ("INVISIBLE_PATIENT", doc.metadata.invisible_patient),
        ("INVISIBLE_REPRESENTANTS_LEGAUX", doc.metadata.invisible_representatives),
    )
    return frozenset(labels | {name for name, on in flags if on})


def matches(doc: Document, query: DocumentQuery) -> bool:
    m = doc.metadata
    checks = (
        not query.statuses or doc.status in query.statuses,
        not query.type_codes or m.type_code in query.type_codes,
        not query.class_codes or doc.class_code in query.class_codes,
        not query.security_labels or bool(security_labels(doc) & query.security_labels),
        not query.author_rpps or doc.author.rpps in query.author_rpps,
        query.created_from is None or m.creation_time >= query.created_from,
        query.created_to is None or m.creation_time <= query.created_to,
        query.period_from is None
        or (m.service_stop or m.service_start or m.creation_time) >= query.period_from,
        query.period_to is None or (m.service_start or m.creation_time) <= query.period_to,
    )
    return all(checks)


# --- reading --------------------------------------------------------------------------------------


def _to_document(ctx: Context, row: RowMap, contents: list[RowMap], author: Author) -> Document:
    cipher = FieldCipher(row["dmp_id"], ctx.keys.get(row["id"]))
    metadata = DocumentMetadata(
        master_identifier=row["master_identifier"],
        type_code=row["type_code"],
        title=cipher.open("title", row["id"], row["title_enc"]),
        creation_time=row["creation_time"],
        format_code=row["format_code"],
        confidentiality=Confidentiality(row["confidentiality"]),
        comments=cipher.open_optional("comments", row["id"], row["comments_enc"]),
        service_start=row["service_start"],
        service_stop=row["service_stop"],
        practice_setting=row["practice_setting"],
        facility_type=row["facility_type"],
        language=row["language"],
        masked=row["masked"],
        invisible_patient=row["invisible_patient"],
        invisible_representatives=row["invisible_representatives"],
    )
    return Document(
        dmp_id=row["dmp_id"],
        id=row["id"],
        logical_id=row["logical_id"],
        version=row["version"],
        status=DocStatus(row["status"]),
        class_code=row["class_code"],
        metadata=metadata,
        author=author,
        submitted_at=row["submitted_at"],
        contents=tuple(
            Content(c["position"], c["mime_type"], c["size"], c["sha256"], c["blob_key"])
            for c in contents
        ),
        replaces_id=row["replaces_id"],
        replaced_by_id=row["replaced_by_id"],
        hidden_since=row["hidden_since"],
        added_by_patient=row["added_by_patient"],
    )


def _author(row: RowMap) -> Author:
    """The author of a document row read with its author's names (``DocumentRepository``)."""
    if row["author_rpps"] is not None:
        name = f"{row['author_given_name']} {row['author_family_name']}"
    else:
        name = "Le patient" if row["added_by_patient"] else "?"
    return Author(
        row["author_professional_id"],
        row["author_establishment_id"],
        name,
        row["author_role"],
        row["author_rpps"],
        row["author_finess"],
    )


def _facts_of(row: RowMap) -> DocumentFacts:
    return DocumentFacts(
        class_code=row["class_code"],
        status=DocStatus(row["status"]),
        masked=row["masked"],
        invisible_patient=row["invisible_patient"],
        invisible_representatives=row["invisible_representatives"],
        author_professional_id=row["author_professional_id"],
        author_establishment_id=row["author_establishment_id"],
        added_by_patient=row["added_by_patient"],
    )


def _open(
    ctx: Context, uow: UnitOfWork, reading: Reading, dmp_id: UUID | Ins, action: str
) -> Loaded:
    """Open the DMP (by id, or by INS) for reading, or audit the refusal and answer not found."""
    loaded = load_or_refuse(
        ctx, uow, reading.actor, dmp_id, action, reading.mode, reading.justification
    )
    access = policy.Access(reading.actor, loaded.facts, reading.mode, reading.justification)
    decision = policy.open_record(access)
    if not decision:
        refuse(
            ctx,
            uow,
            loaded,
            reading.actor,
            action,
            decision,
            hidden(),
            target_kind="record",
            target_id=loaded.dmp_id,
            mode=reading.mode,
            justification=reading.justification,
        )
    note_access(ctx, uow, loaded, reading.actor, reading.mode)
    return loaded


def find_documents(
    ctx: Context, reading: Reading, dmp_id: UUID | Ins, query: DocumentQuery = DocumentQuery()
) -> list[Document]:
    """The documents of the DMP (given by id, or by the patient's INS in the same transaction)
    that this reader may see and that match the query, newest first."""
    with ctx.uow() as uow:
        loaded = _open(ctx, uow, reading, dmp_id, "document.search")
        dmp_id = loaded.dmp_id
        access = policy.Access(reading.actor, loaded.facts, reading.mode, reading.justification)
        rows = [
            r
            for r in uow.documents.of_record(dmp_id)
            if policy.read_document(access, _facts_of(r), ctx.matrix)
        ]
        contents = uow.documents.contents(dmp_id, [r["id"] for r in rows])
        ctx.keys.prefetch([r["id"] for r in rows])  # one key-store query, not one per document
        docs = [_to_document(ctx, r, contents[r["id"]], _author(r)) for r in rows]
        found = [d for d in docs if matches(d, query)]
        record_audit(
            ctx,
            uow,
            loaded,
            reading.actor,
            audit.Event(
                "document.search",
                True,
                f"{len(found)} résultat(s)",
                "record",
                dmp_id,
                reading.mode,
                reading.justification,
            ),
        )
        uow.commit()
    return found


def _readable(
    ctx: Context, uow: UnitOfWork, reading: Reading, loaded: Loaded, document_id: UUID, action: str
) -> RowMap:
    row = uow.documents.with_author(loaded.dmp_id, document_id)
    access = policy.Access(reading.actor, loaded.facts, reading.mode, reading.justification)
    decision = policy.read_document(access, _facts_of(row), ctx.matrix) if row else None
    if row is None or not decision:
        refuse(
            ctx,
            uow,
            loaded,
            reading.actor,
            action,
            decision or NO_DOCUMENT,
            hidden("Document"),
            target_kind="document",
            target_id=document_id,
            mode=reading.mode,
            justification=reading.justification,
            secret=bool(row and row["invisible_representatives"]),
        )
    return row


def get_document(ctx: Context, reading: Reading, dmp_id: UUID, document_id: UUID) -> Document:
    ctx.keys.prefetch([dmp_id, document_id])  # the two keys this read opens, in one query
    with ctx.uow() as uow:
        loaded = _open(ctx, uow, reading, dmp_id, "document.read")
        row = _readable(ctx, uow, reading, loaded, document_id, "document.read")
        doc = _to_document(
            ctx,
            row,
            uow.documents.contents(dmp_id, [document_id])[document_id],
            _author(row),
        )
        record_audit(
            ctx,
            uow,
            loaded,
            reading.actor,
            audit.Event(
                "document.read",
                True,
                "metadata",
                "document",
                document_id,
                reading.mode,
                reading.justification,
                secret=row["invisible_representatives"],
            ),
        )
        uow.commit()
    return doc


def open_content(
    ctx: Context, reading: Reading, dmp_id: UUID, document_id: UUID, position: int = 0
) -> tuple[Content, Iterator[bytes]]:
    """Audit the retrieval, then stream the decrypted content (each segment checked first)."""
    ctx.keys.prefetch([dmp_id, document_id])  # the two keys this read opens, in one query
    with ctx.uow() as uow:
        loaded = _open(ctx, uow, reading, dmp_id, "document.retrieve")
        row = _readable(ctx, uow, reading, loaded, document_id, "document.retrieve")
        found = [
            c
            for c in uow.documents.contents(dmp_id, [document_id])[document_id]
            if c["position"] == position
        ]
        if not found:
            raise hidden("Contenu")
        c = found[0]
        record_audit(
            ctx,
            uow,
            loaded,
            reading.actor,
            audit.Event(
                "document.retrieve",
                True,
                "content",
                "document",
                document_id,
                reading.mode,
                reading.justification,
                secret=row["invisible_representatives"],
            ),
        )
        uow.commit()
    content = Content(c["position"], c["mime_type"], c["size"], c["sha256"], c["blob_key"])
    key = ctx.keys.get(document_id)
    stream = decrypt_stream(
        key, _content_aad(dmp_id, document_id, position), ctx.blobs.open(content.blob_key)
    )
    return content, stream


def _content_aad(dmp_id: UUID, document_id: UUID, position: int) -> bytes:
    return f"content:{dmp_id}:{document_id}:{position}".encode()
