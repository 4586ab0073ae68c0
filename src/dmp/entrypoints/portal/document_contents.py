"""A document's contents, as the patient reads them: in the document's page (a PDF or a text in
a frame, an image) or downloaded, under the document's title. Each is streamed as it is
decrypted, never held whole; its retrieval is audited by the use case before the first byte."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dmp.domain.content import extension
from dmp.domain.inputs import ascii_int
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.documents import document_id
from dmp.entrypoints.portal.web import context_of
from dmp.errors import InvalidInput
from dmp.services import documents
from dmp.services.documents import Retrieved
from dmp.services.gate import Reading

router = APIRouter(include_in_schema=False)
# Shown in the page; anything else is downloaded.
INLINE = frozenset({"application/pdf", "image/jpeg", "image/png", "image/tiff", "text/plain"})
# Served as: a text is UTF-8 (domain.content checks it); an XML says its encoding itself.
SERVED_AS = {"text/plain": "text/plain; charset=utf-8", "text/xml": "application/xml"}
# The one response the portal's own pages may frame: the content, with no script of its own.
FRAMED = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}
NOT_FRAMED = {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"}
Part = Annotated[str | None, Query(alias="partie", max_length=3)]


async def _retrieve(request: Request, ref: str, part: str | None) -> Retrieved:
    actor = web.signed_in(request).actor()
    position = ascii_int(part) if part else 0
    if position is None:
        raise InvalidInput("Partie du document invalide.", code="form")
    return await run_in_threadpool(
        documents.retrieve,
        context_of(request),
        Reading(actor),
        actor.dmp_id,
        document_id(ref),
        position,
    )


@router.get("/documents/{ref}/contenu")
async def content(request: Request, ref: str, partie: Part = None) -> Response:
    """The content the document's page shows: in a frame, as an image, or as text."""
    retrieved = await _retrieve(request, ref, partie)
    inline = retrieved.content.mime_type in INLINE
    return _stream(retrieved, "inline" if inline else "attachment")


@router.get("/documents/{ref}/telecharger")
async def download(request: Request, ref: str, partie: Part = None) -> Response:
    return _stream(await _retrieve(request, ref, partie), "attachment")


def _stream(retrieved: Retrieved, disposition: str) -> StreamingResponse:
    found = retrieved.content
    named = file_name(retrieved.document.metadata.title, found.mime_type)
    headers = {
        "Content-Length": str(found.size),
        "Content-Disposition": f"{disposition}; {named}",
        "Cross-Origin-Resource-Policy": "same-origin",
        **(FRAMED if disposition == "inline" else NOT_FRAMED),
    }
    media_type = SERVED_AS.get(found.mime_type, found.mime_type)
    return StreamingResponse(retrieved.chunks, media_type=media_type, headers=headers)


def file_name(title: str, mime_type: str) -> str:
    """The ``filename`` parameters of a document's file: its title and the extension of its
    type, in ASCII for old clients and in UTF-8 for the others (RFC 6266)."""
    full = f"{' '.join(title.split())[:100] or 'document'}.{extension(mime_type)}"
    plain = unicodedata.normalize("NFKD", full).encode("ascii", "ignore").decode("ascii")
    plain = re.sub("[^A-Za-z0-9._-]+", "_", plain).strip("._") or "document"
    return f"filename=\"{plain}\"; filename*=UTF-8''{quote(full, safe='')}"
