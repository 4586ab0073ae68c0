"""Destroying chosen documents, at the patient's request (SPEC §2, partial destruction): for
good, keys and contents included. The page says so plainly; the use case asks for a fresh
one-time code (``step-up-required``), and the portal sends the patient to get one, then back
here (``errors``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.documents import document_id
from dmp.entrypoints.portal.web import context_of, page, redirect
from dmp.services import documents, submission
from dmp.services.documents import DocumentQuery
from dmp.services.gate import Reading

router = APIRouter(include_in_schema=False)
EVERY_VERSION = DocumentQuery(statuses=frozenset())  # archived and older versions too


async def _form(request: Request, status: int = 200, error: str | None = None) -> Response:
    actor = web.signed_in(request).actor()
    ctx = context_of(request)
    found = await run_in_threadpool(
        documents.find_documents, ctx, Reading(actor), actor.dmp_id, EVERY_VERSION
    )
    return page(
        request, "documents/destroy.html", status=status, error=error, docs=found, vs=ctx.valuesets
    )


@router.get("/documents/detruire")
async def destroy_form(request: Request) -> Response:
    return await _form(request)


@router.post("/documents/detruire")
async def destroy(request: Request) -> Response:
    actor = web.signed_in(request).actor()
    data = await web.form(request)
    chosen = [document_id(value) for value in data.getlist("documents") if isinstance(value, str)]
    if not chosen:
        return await _form(request, 400, "Cochez au moins un document à détruire.")
    if data.get("definitif") != "oui":
        return await _form(request, 400, "Cochez la case qui confirme que c'est définitif.")
    await run_in_threadpool(
        submission.destroy_documents, context_of(request), actor, actor.dmp_id, chosen
    )
    return redirect("/documents?fait=detruit")
