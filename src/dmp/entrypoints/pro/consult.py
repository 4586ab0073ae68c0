"""Consulting a DMP: declaring the patient's authorization at the point of care, the documents
as this professional may see them (filtered by class, type, date and author), a document's page
(a PDF in a frame, a CDA as readable text), its download, and the emergency access (bris de
glace; SAMU regulation for the regulators) with its justification. Every read goes through the
services the FHIR API calls: the door decides and writes the audit entry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.domain.inputs import ascii_int
from dmp.domain.model import AccessMode
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.document_contents import INLINE, _stream
from dmp.entrypoints.portal.documents import LISTED, _query, document_id
from dmp.entrypoints.portal.web import context_of, field, redirect
from dmp.entrypoints.pro.web import dmp_ref, done, page, professional
from dmp.errors import InvalidInput, NotFound
from dmp.services import authorizations, documents, pro_login

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=100)]
MODES = {"urgence": AccessMode.EMERGENCY, "samu": AccessMode.SAMU}


_dmp = dmp_ref


@router.get("/dmp/{ref}")
async def consult(
    request: Request,
    ref: str,
    classe: Text = None,
    type_: Annotated[str | None, Query(alias="type", max_length=100)] = None,
    du: Text = None,
    au: Text = None,
    auteur: Text = None,
    fait: Text = None,
) -> Response:
    actor = await professional(request)
    ctx, dmp_id = context_of(request), _dmp(ref)
    session = web.session_of(request)
    assert session is not None
    reading = pro_login.reading(session, actor, dmp_id)
    query = _query(request, classe, type_, du, au, auteur)
    chosen = {"classe": classe, "type": type_, "du": du, "au": au, "auteur": auteur}
    values: dict[str, Any] = {
        "dmp_id": dmp_id,
        "vs": ctx.valuesets,
        "chosen": chosen,
        "reading": reading,
        "done": done(fait),
    }
    try:
        found = await run_in_threadpool(documents.find_documents, ctx, reading, dmp_id, query)
    except NotFound as refused:
        return page(
            request, "pro/access.html", status=404, me=actor, refused=refused.message, **values
        )
    return page(request, "pro/consult.html", me=actor, docs=found, listed=LISTED, **values)


@router.post("/dmp/{ref}/autorisation")
async def declare(request: Request, ref: str) -> Response:
    """The patient in front of the professional authorizes them (recorded as declared, the
    patient told)."""
    actor = await professional(request)
    await web.form(request)
    dmp_id = _dmp(ref)
    await run_in_threadpool(
        authorizations.declare_authorization, context_of(request), actor, dmp_id
    )
    return redirect(f"/pro/dmp/{dmp_id}")


@router.post("/dmp/{ref}/urgence")
async def emergency(request: Request, ref: str) -> Response:
    """Open the DMP in an emergency mode, with the written justification; the next pages read
    in that mode."""
    await professional(request)
    data = await web.form(request)
    mode = MODES.get(field(data, "mode", max_length=10))
    if mode is None:
        raise InvalidInput("Choisissez le mode d'accès en urgence.", code="form")
    justification = field(data, "justification", required=False)
    session = web.session_of(request)
    assert session is not None
    dmp_id = _dmp(ref)
    await run_in_threadpool(
        pro_login.ask_emergency, context_of(request), session, dmp_id, mode, justification
    )
    return redirect(f"/pro/dmp/{dmp_id}")


@router.get("/dmp/{ref}/documents/{doc}")
async def show(request: Request, ref: str, doc: str, fait: Text = None) -> Response:
    actor = await professional(request)
    ctx, dmp_id = context_of(request), _dmp(ref)
    session = web.session_of(request)
    assert session is not None
    shown = await run_in_threadpool(
        documents.show_document,
        ctx,
        pro_login.reading(session, actor, dmp_id),
        dmp_id,
        document_id(doc),
    )
    return page(
        request,
        "pro/document.html",
        me=actor,
        dmp_id=dmp_id,
        doc=shown.document,
        clinical=shown.clinical,
        vs=ctx.valuesets,
        done=done(fait),
    )


async def _retrieve(request: Request, ref: str, doc: str, part: str | None) -> documents.Retrieved:
    actor = await professional(request)
    dmp_id = _dmp(ref)
    session = web.session_of(request)
    assert session is not None
    position = ascii_int(part) if part else 0
    if position is None:
        raise InvalidInput("Partie du document invalide.", code="form")
    return await run_in_threadpool(
        documents.retrieve,
        context_of(request),
        pro_login.reading(session, actor, dmp_id),
        dmp_id,
        document_id(doc),
        position,
    )


@router.get("/dmp/{ref}/documents/{doc}/contenu")
async def content(request: Request, ref: str, doc: str, partie: Text = None) -> Response:
    retrieved = await _retrieve(request, ref, doc, partie)
    inline = retrieved.content.mime_type in INLINE
    return _stream(retrieved, "inline" if inline else "attachment")


@router.get("/dmp/{ref}/documents/{doc}/telecharger")
async def download(request: Request, ref: str, doc: str, partie: Text = None) -> Response:
    return _stream(await _retrieve(request, ref, doc, partie), "attachment")
