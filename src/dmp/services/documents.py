"""Documents: find, read, retrieve the content. Each opens the DMP through the door
(``gate``), which decides and writes the audit entry."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from dmp import policy
from dmp.adapters.crypto import decrypt_stream
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain import cda
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    Confidentiality,
    Content,
    ContentInput,
    DocStatus,
    Document,
    DocumentMetadata,
)
from dmp.domain.records import AuthoredDocument, StoredContent
from dmp.services import gate
from dmp.services.context import Context
from dmp.services.gate import Admitted, Door, Reading
from dmp.services.tracking import note_access

CDA_TYPE = "text/xml"  # a CDA R2 document (domain.content checks its root)


@dataclass(frozen=True, slots=True)
class Submission:
    metadata: DocumentMetadata
    contents: Sequence[ContentInput]
    replaces_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """ITI-67 search parameters, already parsed. Empty sets mean "any"; ``events`` and
    ``related`` name what the DMP does not keep (a document's events and related references),
    so asking for any finds nothing."""

    statuses: frozenset[DocStatus] = frozenset({DocStatus.CURRENT})
    type_codes: frozenset[str] = frozenset()
    class_codes: frozenset[str] = frozenset()
    security_labels: frozenset[str] = frozenset()
    author_rpps: frozenset[str] = frozenset()
    created_from: datetime | None = None
    created_to: datetime | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None
    author_name: str | None = None  # a part of the author's name, case and accents aside
    ids: frozenset[UUID] = frozenset()
    identifiers: frozenset[str] = frozenset()
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    facility_types: frozenset[str] = frozenset()
    practice_settings: frozenset[str] = frozenset()
    format_codes: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    related: frozenset[str] = frozenset()
    author_given: tuple[str, ...] = ()
    author_family: tuple[str, ...] = ()
    oldest_first: bool = False


def security_labels(doc: Document) -> frozenset[str]:
    labels = {doc.metadata.confidentiality.value}
    flags = (
        ("MASQUE_PS", doc.metadata.masked),
        ("INVISIBLE_PATIENT", doc.metadata.invisible_patient),
        ("INVISIBLE_REPRESENTANTS_LEGAUX", doc.metadata.invisible_representatives),
    )
    return frozenset(labels | {name for name, on in flags if on})


def identifiers_of(doc: Document) -> frozenset[str]:
    """What the ``identifier`` search parameter finds a document by: the producer's unique id,
    and its own and its logical id as ``urn:uuid:``."""
    return frozenset(
        {doc.metadata.master_identifier, f"urn:uuid:{doc.id}", f"urn:uuid:{doc.logical_id}"}
    )


def folded(text: str) -> str:
    """Text as a FHIR string search compares it: without case or accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _starts(name: str | None, wanted: tuple[str, ...]) -> bool:
    return name is not None and any(folded(name).startswith(w) for w in wanted)


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


def _codes_match(doc: Document, query: DocumentQuery) -> bool:
    m = doc.metadata
    return (
        (not query.type_codes or m.type_code in query.type_codes)
        and (not query.class_codes or doc.class_code in query.class_codes)
        and (not query.security_labels or bool(security_labels(doc) & query.security_labels))
        and (not query.facility_types or m.facility_type in query.facility_types)
        and (not query.practice_settings or m.practice_setting in query.practice_settings)
        and (not query.format_codes or m.format_code in query.format_codes)
        and not query.events
        and not query.related
    )


def matches(doc: Document, query: DocumentQuery) -> bool:
    """Whether the document answers every parameter of the query. Each test is made only when
    its parameter was given, and the first that fails ends it: a search without filters tests
    each document's status alone."""
    m = doc.metadata
    return (
        (not query.statuses or doc.status in query.statuses)
        and (not query.ids or doc.id in query.ids)
        and (not query.identifiers or bool(identifiers_of(doc) & query.identifiers))
        and _codes_match(doc, query)
        and (not query.author_rpps or doc.author.rpps in query.author_rpps)
        and (not query.author_given or _starts(doc.author.given_name, query.author_given))
        and (not query.author_family or _starts(doc.author.family_name, query.author_family))
        and _within(m.creation_time, query.created_from, query.created_to)
        and _within(doc.submitted_at, query.submitted_from, query.submitted_to)
        and (
            query.period_from is None
            or (m.service_stop or m.service_start or m.creation_time) >= query.period_from
        )
        and (query.period_to is None or (m.service_start or m.creation_time) <= query.period_to)
        and (
            not query.author_name or _folded(query.author_name) in _folded(doc.author.display_name)
        )
    )


def _folded(text: str) -> str:
    """A name as a person searches it: « Chloé » is found by « chloe »."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# --- reading --------------------------------------------------------------------------------------


def _to_document(
    ctx: Context, stored: AuthoredDocument, contents: list[StoredContent], related: frozenset[UUID]
) -> Document:
    """A stored document as the domain object; ``related``: the other versions the reader may
    see (a reference to a version one may not read is never shown)."""
    cipher = FieldCipher(stored.dmp_id, ctx.keys.get(stored.id))
    metadata = DocumentMetadata(
        master_identifier=stored.master_identifier,
        type_code=stored.type_code,
        title=cipher.open("title", stored.id, stored.title_enc),
        creation_time=stored.creation_time,
        format_code=stored.format_code,
        confidentiality=Confidentiality(stored.confidentiality),
        comments=cipher.open_optional("comments", stored.id, stored.comments_enc),
        service_start=stored.service_start,
        service_stop=stored.service_stop,
        practice_setting=stored.practice_setting,
        facility_type=stored.facility_type,
        language=stored.language,
        masked=stored.masked,
        invisible_patient=stored.invisible_patient,
        invisible_representatives=stored.invisible_representatives,
    )
    return Document(
        dmp_id=stored.dmp_id,
        id=stored.id,
        logical_id=stored.logical_id,
        version=stored.version,
        status=DocStatus(stored.status),
        class_code=stored.class_code,
        metadata=metadata,
        author=stored.author,
        submitted_at=stored.submitted_at,
        contents=tuple(c.content for c in contents),
        replaces_id=stored.replaces_id if stored.replaces_id in related else None,
        replaced_by_id=stored.replaced_by_id if stored.replaced_by_id in related else None,
        hidden_since=stored.hidden_since,
        added_by_patient=stored.added_by_patient,
        meta_version=stored.meta_version,
        updated_at=stored.updated_at,
        submission_set_id=stored.submission_set_id,
    )


def content_of(values: dict[str, Any]) -> Content:
    """A content as the values it is about to be stored with (a stored one is
    ``StoredContent.content``)."""
    v = values
    return Content(v["position"], v["mime_type"], v["size"], v["sha256"], v["blob_key"], v["sha1"])


def _open(
    ctx: Context,
    uow: UnitOfWork,
    reading: Reading,
    patient: UUID | Ins,
    action: str,
    *,
    search: bool = False,
) -> Door:
    """Open the DMP (by id, or by INS) for reading, tell of a first or an emergency access. A
    ``search`` reads the keys of the DMP's documents with the DMP's."""
    door = gate.enter(ctx, uow, reading, action, patient, policy.open_record, group_keys=search)
    note_access(door)
    return door


def as_documents(
    ctx: Context, door: Door, found: list[Admitted[AuthoredDocument]], related: frozenset[UUID]
) -> list[Document]:
    """The documents as this reader sees them: only references to versions they may read."""
    ids = [d.document.id for d in found]
    contents = door.contents(ids)
    ctx.keys.prefetch(ids, group=door.dmp_id)  # one key-store query, not one per document
    return [_to_document(ctx, d.document, contents[d.document.id], related) for d in found]


def find_documents(
    ctx: Context, reading: Reading, dmp_id: UUID | Ins, query: DocumentQuery = DocumentQuery()
) -> list[Document]:
    """The documents of the DMP (given by id, or by the patient's INS in the same transaction)
    that this reader may see and that match the query, newest first."""
    with ctx.uow() as uow:
        door = _open(ctx, uow, reading, dmp_id, "document.search", search=True)
        readable = door.readable_documents()
        visible = frozenset(d.document.id for d in readable)
        found = [d for d in as_documents(ctx, door, readable, visible) if matches(d, query)]
        door.record()
        uow.commit()
    return found[::-1] if query.oldest_first else found


def _one(
    ctx: Context, door: Door, document_id: UUID
) -> tuple[Admitted[AuthoredDocument], Document]:
    found = door.document(document_id, _reads(ctx))
    stored = found.document
    related = door.readable([stored.replaces_id, stored.replaced_by_id])
    [doc] = as_documents(ctx, door, [found], related)
    return found, doc


def get_document(ctx: Context, reading: Reading, dmp_id: UUID, document_id: UUID) -> Document:
    # The two keys this read opens, in one query.
    ctx.keys.prefetch([dmp_id, document_id], group=dmp_id)
    with ctx.uow() as uow:
        door = _open(ctx, uow, reading, dmp_id, "document.read")
        found, doc = _one(ctx, door, document_id)
        door.record(
            found.decision,
            target=("document", document_id),
            secret=found.facts.invisible_representatives,
        )
        uow.commit()
    return doc


def open_content(
    ctx: Context, reading: Reading, dmp_id: UUID, document_id: UUID, position: int = 0
) -> tuple[Content, Iterator[bytes]]:
    """Audit the retrieval, then stream the decrypted content (each segment checked first)."""
    # The two keys this read opens, in one query.
    ctx.keys.prefetch([dmp_id, document_id], group=dmp_id)
    with ctx.uow() as uow:
        door = _open(ctx, uow, reading, dmp_id, "document.retrieve")
        found = door.document(document_id, _reads(ctx))
        content = _content(door, found, position)
        uow.commit()
    return content, _decrypted(ctx, dmp_id, document_id, content)


@dataclass(frozen=True, slots=True)
class Retrieved:
    """A content on its way to a person, with the document it belongs to (its title names the
    file)."""

    document: Document
    content: Content
    chunks: Iterator[bytes]


def retrieve(
    ctx: Context, reading: Reading, dmp_id: UUID, document_id: UUID, position: int = 0
) -> Retrieved:
    """``open_content``, with the document as this person sees it."""
    ctx.keys.prefetch([dmp_id, document_id], group=dmp_id)
    with ctx.uow() as uow:
        door = _open(ctx, uow, reading, dmp_id, "document.retrieve")
        found, doc = _one(ctx, door, document_id)
        content = _content(door, found, position)
        uow.commit()
    return Retrieved(doc, content, _decrypted(ctx, dmp_id, document_id, content))


@dataclass(frozen=True, slots=True)
class Shown:
    """A document as a page shows it: its metadata and, for a CDA, what it says (the other
    formats are fetched by the browser, through ``retrieve``)."""

    document: Document
    clinical: cda.ClinicalDocument | None = None


def show_document(ctx: Context, reading: Reading, dmp_id: UUID, document_id: UUID) -> Shown:
    """Read a document; a CDA's contents are read too, as structure, and audited as a
    retrieval. Memory stays bounded whatever the content's size (``cda.read``)."""
    ctx.keys.prefetch([dmp_id, document_id], group=dmp_id)
    with ctx.uow() as uow:
        door = _open(ctx, uow, reading, dmp_id, "document.read")
        found, doc = _one(ctx, door, document_id)
        target, secret = ("document", document_id), found.facts.invisible_representatives
        door.record(found.decision, target=target, secret=secret)
        structured = [c for c in doc.contents if c.mime_type == CDA_TYPE][:1]
        if structured:
            door.record(found.decision, action="document.retrieve", target=target, secret=secret)
        uow.commit()
    if not structured:
        return Shown(doc)
    return Shown(doc, cda.read(_decrypted(ctx, dmp_id, document_id, structured[0])))


def _content(door: Door, found: Admitted[AuthoredDocument], position: int) -> Content:
    """The content at ``position`` of a document the door let through, its retrieval audited
    (or its absence refused)."""
    document_id = found.document.id
    target = ("document", document_id)
    secret = found.facts.invisible_representatives
    at = [c for c in door.contents([document_id])[document_id] if c.position == position]
    if not at:
        door.refuse(gate.NO_CONTENT, target=target, secret=secret, what="Contenu")
    door.record(found.decision, target=target, secret=secret)
    return at[0].content


def _decrypted(ctx: Context, dmp_id: UUID, document_id: UUID, content: Content) -> Iterator[bytes]:
    key = ctx.keys.get(document_id)
    aad = content_aad(dmp_id, document_id, content.position)
    return decrypt_stream(key, aad, ctx.blobs.open(content.blob_key))


def _reads(ctx: Context) -> gate.DecideDocument:
    return lambda access, facts: policy.read_document(access, facts, ctx.matrix)


def content_aad(dmp_id: UUID, document_id: UUID, position: int) -> bytes:
    return f"content:{dmp_id}:{document_id}:{position}".encode()


def find_submission_set(
    ctx: Context, reading: Reading, dmp_id: UUID, set_id: UUID
) -> list[Document]:
    """The documents of one SubmissionSet (ITI-65 ``List``) that this reader may see; a set of
    which they see none is answered as one that does not exist."""
    with ctx.uow() as uow:
        door = _open(ctx, uow, reading, dmp_id, "document.search", search=True)
        readable = [d for d in door.readable_documents() if d.document.submission_set_id == set_id]
        if not readable:
            door.refuse(gate.NO_DOCUMENT, target=("submission-set", set_id), what="Lot")
        related = frozenset(d.document.id for d in readable)
        found = as_documents(ctx, door, readable, related)
        door.record(target=("submission-set", set_id))
        uow.commit()
    return found
