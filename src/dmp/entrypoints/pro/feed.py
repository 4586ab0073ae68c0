"""Feeding a DMP from the professional portal: a new document with its metadata and one or more
files (the parts of one document), uploaded with a progress bar, streamed and checked
(``portal.uploads``); a new version replacing one; archiving, unarchiving, deleting one's own;
revealing a document hidden from the patient after the announcement consultation.

The same use cases as the FHIR API (``services.submission``): who may add, replace, delete or
reveal what is the policy's answer, written to the trail, never a handler's."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.domain.content import declared_type
from dmp.domain.french import PARIS
from dmp.domain.model import (
    PATIENT_CLASS,
    ContentInput,
    Document,
    DocumentMetadata,
    ProfessionalActor,
)
from dmp.domain.valuesets import Coding, ValueSets
from dmp.entrypoints.portal import uploads, web
from dmp.entrypoints.portal.document_add import FORMAT, ON_THE_FORM
from dmp.entrypoints.portal.documents import document_id, parse_day
from dmp.entrypoints.portal.web import context_of, field, redirect
from dmp.entrypoints.pro.web import dmp_ref as _dmp
from dmp.entrypoints.pro.web import page, pro_session, professional
from dmp.errors import InvalidInput
from dmp.policy import DocumentChange
from dmp.services import documents, pro_login, submission
from dmp.services.documents import Submission, folded
from dmp.services.gate import Reading

router = APIRouter(include_in_schema=False)
MAX_FILES = 5  # the parts of one document
Filter = Annotated[str | None, Query(max_length=100)]
CHANGES = {
    "archiver": DocumentChange.ARCHIVE,
    "desarchiver": DocumentChange.UNARCHIVE,
    "supprimer": DocumentChange.DELETE,
    "reveler": DocumentChange.REVEAL,
}


def professional_types(vs: ValueSets, wanted: str | None) -> dict[str, list[Coding]]:
    """The types (JDV_J66) a professional chooses from, by class, those whose name or code
    holds every word of ``wanted`` (case and accents aside): the list narrows without script."""
    words = folded(wanted or "").split()
    found: dict[str, list[Coding]] = {}
    for doc_type in vs.types.values():
        coding = doc_type.coding
        if doc_type.class_code == PATIENT_CLASS:
            continue
        text = folded(f"{coding.display} {coding.code}")
        if all(word in text for word in words):
            found.setdefault(vs.classes[doc_type.class_code], []).append(coding)
    return found


def _today(request: Request) -> str:
    return context_of(request).now().astimezone(PARIS).date().isoformat()


def _form_page(
    request: Request,
    actor: ProfessionalActor,
    dmp_id: UUID,
    *,
    wanted: str | None = None,
    form: dict[str, str] | None = None,
    replacing: Document | None = None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    ctx = context_of(request)
    types = professional_types(ctx.valuesets, wanted)
    if not types and wanted:  # nothing matched: the whole list rather than none
        types = professional_types(ctx.valuesets, None)
    return page(
        request,
        "pro/feed.html",
        status=status,
        me=actor,
        error=error,
        dmp_id=dmp_id,
        types=types,
        wanted=wanted or "",
        form=form or {"date": _today(request)},
        replacing=replacing,
        today=_today(request),
        max_mib=ctx.settings.max_content_bytes // (1024 * 1024),
        max_files=MAX_FILES,
    )


@router.get("/dmp/{ref}/ajouter")
async def add_form(request: Request, ref: str, filtre: Filter = None) -> Response:
    actor = await professional(request)
    return _form_page(request, actor, _dmp(ref), wanted=filtre)


def _moment(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, PARIS) if day else None


FIELDS = ("type", "titre", "date", "debut", "fin", "commentaire", "masque", "invisible")


def _submission(received: uploads.Received, replaces: UUID | None = None) -> Submission:
    """The form as the use case takes it: the metadata, and each file as a part, streamed."""
    data = received.fields
    created = parse_day(field(data, "date", max_length=10), "Date du document")
    assert created is not None  # a required field: never empty here
    start = parse_day(field(data, "debut", required=False, max_length=10), "Début des soins")
    stop = parse_day(field(data, "fin", required=False, max_length=10), "Fin des soins")
    if start and stop and stop < start:
        raise InvalidInput("La fin des soins précède leur début.", code="form")
    chosen = received.chosen
    if not chosen:
        raise InvalidInput("Choisissez le ou les fichiers du document.", code="form")
    comments = field(data, "commentaire", required=False).strip()
    metadata = DocumentMetadata(
        master_identifier=f"urn:uuid:{uuid4()}",
        type_code=field(data, "type", max_length=64),
        title=field(data, "titre").strip(),
        creation_time=datetime.combine(created, time.min, PARIS),
        format_code=FORMAT,
        comments=comments or None,
        service_start=_moment(start),
        service_stop=_moment(stop),
        masked=field(data, "masque", required=False, max_length=3) == "oui",
        invisible_patient=field(data, "invisible", required=False, max_length=3) == "oui",
    )
    parts = [ContentInput(declared_type(f.content_type, f.file_name), f.chunks()) for f in chosen]
    return Submission(metadata, parts, replaces_id=replaces)


def _kept(received: uploads.Received | None) -> dict[str, str]:
    """What the form said, to show it again with the refusal (the files are chosen again)."""
    if received is None:
        return {}
    return {name: str(received.fields.get(name) or "")[:500] for name in FIELDS}


async def _submit(
    request: Request, ref: str, replaces: UUID | None
) -> tuple[ProfessionalActor, UUID, Response | None]:
    actor = await professional(request)
    ctx, dmp_id = context_of(request), _dmp(ref)
    session = pro_session(request)
    reading = pro_login.reading(session, actor, dmp_id)
    limit, spool = ctx.settings.max_content_bytes, request.app.state.spool_dir
    received: uploads.Received | None = None
    try:
        async with uploads.receive(request, session, limit, spool, max_files=MAX_FILES) as got:
            received = got
            new = _submission(got, replaces)
            await run_in_threadpool(
                lambda: submission.submit_documents(
                    ctx,
                    actor,
                    dmp_id,
                    [new],
                    mode=reading.mode,
                    justification=reading.justification,
                )
            )
    except ON_THE_FORM as refused:
        replacing = None
        if replaces is not None:
            replacing = await _current(request, actor, dmp_id, replaces)
        failed = _form_page(
            request,
            actor,
            dmp_id,
            form=_kept(received),
            replacing=replacing,
            status=refused.status,
            error=refused.message,
        )
        return actor, dmp_id, failed
    return actor, dmp_id, None


@router.post("/dmp/{ref}/ajouter")
async def add(request: Request, ref: str) -> Response:
    _actor, dmp_id, failed = await _submit(request, ref, None)
    return failed or redirect(f"/pro/dmp/{dmp_id}?fait=ajoute")


async def _current(request: Request, actor: ProfessionalActor, dmp_id: UUID, doc: UUID) -> Document:
    session = pro_session(request)
    return await run_in_threadpool(
        documents.get_document,
        context_of(request),
        pro_login.reading(session, actor, dmp_id),
        dmp_id,
        doc,
    )


@router.get("/dmp/{ref}/documents/{doc}/remplacer")
async def replace_form(request: Request, ref: str, doc: str) -> Response:
    actor = await professional(request)
    dmp_id = _dmp(ref)
    current = await _current(request, actor, dmp_id, document_id(doc))
    m = current.metadata
    form: dict[str, Any] = {
        "type": m.type_code,
        "titre": m.title,
        "date": _today(request),
        "commentaire": m.comments or "",
        "masque": "oui" if m.masked else "",
        "invisible": "oui" if m.invisible_patient else "",
    }
    return _form_page(request, actor, dmp_id, form=form, replacing=current)


@router.post("/dmp/{ref}/documents/{doc}/remplacer")
async def replace(request: Request, ref: str, doc: str) -> Response:
    _actor, dmp_id, failed = await _submit(request, ref, document_id(doc))
    return failed or redirect(f"/pro/dmp/{dmp_id}?fait=remplace")


@router.post("/dmp/{ref}/documents/{doc}/{action}")
async def change(request: Request, ref: str, doc: str, action: str) -> Response:
    """Archive, unarchive, delete or reveal: the policy says who may."""
    actor = await professional(request)
    await web.form(request)
    wanted = CHANGES.get(action)
    if wanted is None:
        raise InvalidInput("Action inconnue sur ce document.", code="form")
    dmp_id = _dmp(ref)
    reading: Reading = pro_login.reading(pro_session(request), actor, dmp_id)
    await run_in_threadpool(
        lambda: submission.change_document(
            context_of(request),
            actor,
            dmp_id,
            document_id(doc),
            wanted,
            mode=reading.mode,
            justification=reading.justification,
        )
    )
    if wanted is DocumentChange.DELETE:
        return redirect(f"/pro/dmp/{dmp_id}?fait={action}")
    return redirect(f"/pro/dmp/{dmp_id}/documents/{doc}?fait={action}")
