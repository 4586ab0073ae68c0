"""The patient adds a document of their own (SPEC §4: class 90, the types ``DOCPAT01``…
``DOCPAT09`` and ``EXPPAT_1``…``EXPPAT_3`` of the value set), its file uploaded with a progress
bar, streamed and refused as soon as it passes the size limit (``uploads``)."""

from __future__ import annotations

from datetime import datetime, time
from uuid import uuid4

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.domain.content import declared_type
from dmp.domain.french import PARIS
from dmp.domain.model import ContentInput, DocumentMetadata
from dmp.entrypoints.portal import uploads, web
from dmp.entrypoints.portal.documents import parse_day
from dmp.entrypoints.portal.web import context_of, field, page, redirect
from dmp.errors import (
    Conflict,
    ContentMismatch,
    Forbidden,
    InvalidInput,
    TooLarge,
    Unavailable,
    UnsupportedContent,
)
from dmp.services import submission
from dmp.services.documents import Submission

router = APIRouter(include_in_schema=False)
# A file a patient adds says what it is by its MIME type (IHE format code).
FORMAT = "urn:ihe:iti:xds:2017:mimeTypeSufficient"
# What refuses a new document for what it is: said on the form, to choose again.
ON_THE_FORM = (
    InvalidInput,
    UnsupportedContent,
    TooLarge,
    ContentMismatch,
    Conflict,
    Forbidden,
    Unavailable,  # the content store full or unwritable, the key store unreachable: 503, 507
)


def _form(request: Request, status: int = 200, error: str | None = None) -> Response:
    ctx = context_of(request)
    return page(
        request,
        "documents/add.html",
        status=status,
        error=error,
        types=ctx.valuesets.patient_types(),
        today=ctx.now().astimezone(PARIS).date().isoformat(),
        max_mib=ctx.settings.max_content_bytes // (1024 * 1024),
    )


@router.get("/documents/ajouter")
async def add_form(request: Request) -> Response:
    web.signed_in(request)
    return _form(request)


def _submission(received: uploads.Received) -> Submission:
    """The form, as the use case takes it: the patient's metadata, and the file as a stream."""
    data = received.fields
    type_code, title = field(data, "type", max_length=64), field(data, "titre")
    day = parse_day(field(data, "date", max_length=10), "Date du document")
    assert day is not None  # a required field: never empty here
    if not received.has_file:
        raise InvalidInput("Choisissez le fichier à ajouter.", code="form")
    metadata = DocumentMetadata(
        master_identifier=f"urn:uuid:{uuid4()}",
        type_code=type_code,
        title=title.strip(),
        creation_time=datetime.combine(day, time.min, PARIS),
        format_code=FORMAT,
    )
    mime_type = declared_type(received.content_type, received.file_name)
    return Submission(metadata, [ContentInput(mime_type, received.chunks())])


@router.post("/documents/ajouter")
async def add(request: Request) -> Response:
    session = web.signed_in(request)
    ctx, actor = context_of(request), session.actor()
    limit, spool = ctx.settings.max_content_bytes, request.app.state.spool_dir
    try:
        async with uploads.receive(request, session, limit, spool) as received:
            new = _submission(received)
            await run_in_threadpool(submission.submit_documents, ctx, actor, actor.dmp_id, [new])
    except ON_THE_FORM as refused:
        return _form(request, status=refused.status, error=refused.message)
    return redirect("/documents?fait=ajoute")
