"""The patient's documents (SPEC §4, §5): the list with its filters, a document's page, masking
and unmasking. Its contents, adding one's own document and destroying chosen ones have their
modules beside this one (``document_contents``, ``document_add``, ``document_destroy``). A legal
representative uses the same pages.

Each handler parses, calls one use case with the session's actor, and renders: what this person
sees of a document, may change, add or destroy is the services' and the policy's answer. A
document id names a document of the session's DMP only; any other id, well-formed or not, is
answered as a missing document, and the refusal is in the patient's history.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.domain.french import PARIS
from dmp.domain.inputs import MAX_NAME, ascii_int, check_text
from dmp.domain.model import DocStatus
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, field, page, redirect
from dmp.errors import InvalidInput
from dmp.policy import DocumentChange
from dmp.services import documents, submission
from dmp.services.documents import DocumentQuery
from dmp.services.gate import Reading

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
LISTED = frozenset({DocStatus.CURRENT, DocStatus.ARCHIVED})  # older versions: from the new one
DONE = {
    "ajoute": "Votre document est ajouté à votre DMP.",
    "masque": (
        "Le document est masqué aux professionnels de santé : seuls son auteur et votre "
        "médecin traitant le voient encore."
    ),
    "demasque": "Le document est de nouveau visible par les professionnels que vous autorisez.",
    "detruit": "Les documents choisis sont détruits définitivement.",
}
_UUID = re.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DAY = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")
Text = Annotated[str | None, Query(max_length=100)]


# --- parsing -------------------------------------------------------------------------------------


def document_id(text: str) -> UUID:
    """The document a path names. A malformed id names none: it is read as the nil UUID, which
    no document has (their ids are random, version 4), so that the door refuses it as it
    refuses any missing document, and writes the refusal."""
    return UUID(text) if _UUID.fullmatch(text) else UUID(int=0)


def parse_day(text: str | None, label: str) -> date | None:
    if not text:
        return None
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(f"{label} : date invalide (jour/mois/année attendus).", code="form")


def _code(text: str | None, known: dict[str, object], label: str) -> frozenset[str]:
    if not text:
        return frozenset()
    if text not in known:
        raise InvalidInput(f"{label} inconnu(e) : choisissez dans la liste.", code="form")
    return frozenset({text})


def _query(
    request: Request,
    classe: str | None,
    type_: str | None,
    du: str | None,
    au: str | None,
    auteur: str | None,
) -> DocumentQuery:
    vs = context_of(request).valuesets
    start, end = parse_day(du, "Du"), parse_day(au, "Au")
    name = check_text(auteur or "", "L'auteur", code="form", max_length=MAX_NAME).strip()
    return DocumentQuery(
        statuses=LISTED,
        class_codes=_code(classe, dict(vs.classes), "Classe"),
        type_codes=_code(type_, dict(vs.types), "Type"),
        created_from=datetime.combine(start, time.min, PARIS) if start else None,
        created_to=datetime.combine(end, time.max, PARIS) if end else None,
        author_name=name or None,
    )


def _page_number(text: str | None) -> int:
    number = ascii_int(text) if text else 1
    if number is None or number < 1:
        raise InvalidInput("Numéro de page invalide.", code="form")
    return number


def _back(text: str) -> str:
    """Where a form came from, to go back to it: a page of the documents only."""
    if text.startswith("/documents") and "//" not in text and "\\" not in text:
        return text
    return "/documents"


def with_params(target: str, **params: str) -> str:
    """``target`` with these query parameters, replacing those of the same name."""
    path, _, query = target.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query) if k not in params]
    return f"{path}?{urlencode(kept + list(params.items()))}"


def _here(request: Request) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "fait"]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


# --- the list ------------------------------------------------------------------------------------


@router.get("/documents")
async def list_documents(
    request: Request,
    classe: Text = None,
    type_: Annotated[str | None, Query(alias="type", max_length=100)] = None,
    du: Text = None,
    au: Text = None,
    auteur: Text = None,
    page_: Annotated[str | None, Query(alias="page", max_length=6)] = None,
    fait: Text = None,
) -> Response:
    actor = web.signed_in(request).actor()
    query, number = _query(request, classe, type_, du, au, auteur), _page_number(page_)
    ctx = context_of(request)
    found = await run_in_threadpool(
        documents.find_documents, ctx, Reading(actor), actor.dmp_id, query
    )
    pages = max(1, -(-len(found) // PER_PAGE))
    number = min(number, pages)
    here = _here(request)
    return page(
        request,
        "documents/list.html",
        docs=found[(number - 1) * PER_PAGE : number * PER_PAGE],
        total=len(found),
        number=number,
        pages=pages,
        previous=with_params(here, page=str(number - 1)) if number > 1 else None,
        next=with_params(here, page=str(number + 1)) if number < pages else None,
        here=here,
        chosen={"classe": classe, "type": type_, "du": du, "au": au, "auteur": auteur},
        vs=ctx.valuesets,
        done=DONE.get(fait or ""),
    )


# --- one document --------------------------------------------------------------------------------


@router.get("/documents/{ref}")
async def show(request: Request, ref: str, fait: Text = None) -> Response:
    actor = web.signed_in(request).actor()
    ctx = context_of(request)
    shown = await run_in_threadpool(
        documents.show_document, ctx, Reading(actor), actor.dmp_id, document_id(ref)
    )
    return page(
        request,
        "documents/show.html",
        doc=shown.document,
        clinical=shown.clinical,
        vs=ctx.valuesets,
        here=_here(request),
        done=DONE.get(fait or ""),
    )


# --- masking -------------------------------------------------------------------------------------


async def _change(request: Request, ref: str, change: DocumentChange, done: str) -> Response:
    actor = web.signed_in(request).actor()
    data = await web.form(request)
    back = _back(field(data, "suite", required=False, max_length=400))
    await run_in_threadpool(
        submission.change_document,
        context_of(request),
        actor,
        actor.dmp_id,
        document_id(ref),
        change,
    )
    return redirect(with_params(back, fait=done))


@router.post("/documents/{ref}/masquer")
async def mask(request: Request, ref: str) -> Response:
    return await _change(request, ref, DocumentChange.MASK, "masque")


@router.post("/documents/{ref}/demasquer")
async def unmask(request: Request, ref: str) -> Response:
    return await _change(request, ref, DocumentChange.UNMASK, "demasque")
