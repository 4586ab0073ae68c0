"""ITI-68 Retrieve Document: ``GET /fhir/Binary/<id>``, the content as its own bytes or as a
FHIR ``Binary`` resource (JSON or XML), as the request negotiates (``negotiation``): the
content's own type first, so that ``Accept: */*`` gets the bytes, and a FHIR format when the
client prefers it (``Accept: application/fhir+json, */*;q=0.1``).

A content up to 1 MiB (most documents: a consultation letter, a lab report) is decrypted whole
and sent in one write; a larger one streams from the blob store, decrypted as it goes, and a
Binary resource's base64 is encoded as it streams too: memory stays bounded whatever the size.
Both run where the consult runs (``Context.consult_on_loop``, ADR 7).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from dmp.domain.model import Content, ProfessionalActor
from dmp.entrypoints.fhir import ids, openapi
from dmp.entrypoints.fhir.auth import Access, AccessRequest, Ctx, Professional
from dmp.entrypoints.fhir.bodies import call_consult
from dmp.entrypoints.fhir.errors import FHIR_JSON, FHIR_XML
from dmp.entrypoints.fhir.negotiation import FHIR_TYPES, JSON, XML, choose
from dmp.services import documents
from dmp.services.context import Context

router = APIRouter(prefix="/fhir", tags=["Documents (MHD)"])
RAW = "raw"
_FHIR = ((JSON, FHIR_TYPES[JSON]), (XML, FHIR_TYPES[XML]))
_ANY_CONTENT = (RAW, frozenset(openapi.CONTENT_TYPES))
# Texts are UTF-8: the intake refuses any other (``dmp.domain.content``).
_CHARSET = {"text/plain": "text/plain; charset=utf-8"}
WHOLE_UP_TO = 1024 * 1024  # bytes: a content this size or smaller is sent in one piece


def _base64_stream(head: bytes, chunks: Iterator[bytes], tail: bytes) -> Iterator[bytes]:
    """A Binary resource whose base64 is encoded as the content streams: memory stays flat."""
    yield head
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = len(data) - len(data) % 3
        carry = data[cut:]
        yield binascii.b2a_base64(data[:cut], newline=False)
    yield binascii.b2a_base64(carry, newline=False) + tail


def _resource(
    kind: str, canonical: str, content: Content, stream: Iterator[bytes]
) -> Iterator[bytes]:
    if kind == JSON:
        head = (
            f'{{"resourceType":"Binary","id":"{canonical}",'
            f'"contentType":"{content.mime_type}","data":"'
        )
        return _base64_stream(head.encode(), stream, b'"}')
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?><Binary xmlns="http://hl7.org/fhir">'
        f'<id value="{canonical}"/><contentType value="{content.mime_type}"/><data value="'
    )
    return _base64_stream(head.encode(), stream, b'"/></Binary>')


def _digest_headers(content: Content) -> dict[str, str]:
    digest = base64.b64encode(bytes.fromhex(content.sha256)).decode()
    return {
        "ETag": f'"{content.sha256}"',
        "Repr-Digest": f"sha-256=:{digest}:",
        "Cache-Control": "no-store",
    }


def file_name(canonical: str, mime_type: str) -> str:
    """The name a downloaded content is saved under: its id, and its type's extension."""
    extension = mimetypes.guess_extension(mime_type, strict=True) or ".bin"
    return f"{canonical}{extension}"


@router.get(
    "/Binary/{id}",
    summary="ITI-68 : récupérer le contenu d'un document",
    responses=openapi.binary_responses(),
    response_class=StreamingResponse,
)
async def retrieve_document(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    return await call_consult(ctx, _retrieve, request, id, ctx, actor, access)


def _retrieve(
    request: Request, id: str, ctx: Context, actor: ProfessionalActor, access: AccessRequest
) -> Response:
    """The content opened (its read audited) and answered: where ``call_consult`` runs it."""
    dmp_id, doc_id, position = ids.parse_binary_id(id)
    choose(request, (_ANY_CONTENT, *_FHIR))  # nothing we could answer: 406 before any read
    content, stream = documents.open_content(ctx, access.reading(actor), dmp_id, doc_id, position)
    # Answer with the id as the server writes it, never with the text the client sent: the
    # content is already open (its read audited), the headers must not fail now.
    canonical = ids.binary_id(dmp_id, doc_id, position)
    headers = _digest_headers(content)
    kind = choose(request, ((RAW, frozenset({content.mime_type})), *_FHIR))
    if request.headers.get("if-none-match", "").strip() == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    whole = content.size <= WHOLE_UP_TO
    if kind != RAW:
        body = _resource(kind, canonical, content, stream)
        media = FHIR_JSON if kind == JSON else FHIR_XML
        return _answer(ctx, body, whole, media_type=media, headers=headers)
    headers["Content-Length"] = str(content.size)
    headers["Content-Type"] = _CHARSET.get(content.mime_type, content.mime_type)
    name = file_name(canonical, content.mime_type)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return _answer(ctx, stream, whole, headers=headers)


def _answer(ctx: Context, chunks: Iterator[bytes], whole: bool, **fields: Any) -> Response:
    """Whole: decrypted here, every segment checked before the first byte leaves (a tampered
    content is an error answer, not a cut-off one). Streamed: read and decrypted chunk by chunk,
    on the event loop when the consult runs there (``ctx.consult_on_loop``), between the writes
    of the other requests: a chunk sent to the thread pool would wait its turn twice on a loop
    busy with consults, and a long content then took seconds (ADR 7)."""
    if whole:
        return Response(b"".join(chunks), **fields)
    return StreamingResponse(_on_the_loop(chunks) if ctx.consult_on_loop else chunks, **fields)


async def _on_the_loop(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
