"""ITI-67 Find Document References: ``GET /fhir/DocumentReference`` and its form-encoded twin
``POST /fhir/DocumentReference/_search``. Each parses the parameters, calls one use case, and
answers a searchset (``docsearch`` says what the parameters mean)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dmp.domain.model import Document
from dmp.entrypoints.fhir import docref, docsearch, mapping, openapi, preferences
from dmp.entrypoints.fhir.auth import Access, Ctx, Professional
from dmp.entrypoints.fhir.bodies import base_url, call_consult, read_body
from dmp.entrypoints.fhir.errors import FhirResponse
from dmp.entrypoints.fhir.negotiation import empty_searchset, resource_format, respond
from dmp.entrypoints.fhir.search import Parameters
from dmp.services import documents
from dmp.services.context import Context
from dmp.services.gate import Reading

router = APIRouter(prefix="/fhir", tags=["Documents (MHD)"])
Json = dict[str, Any]
FORM = frozenset({"application/x-www-form-urlencoded"})


def _links(p: Parameters, url: str, plan: docsearch.Plan, total: int) -> dict[str, str]:
    links = {"self": p.link(url)}
    offset, count = plan.offset, plan.count
    if offset + count < total and count > 0 and not plan.only_total:
        links["next"] = p.link(url, offset=offset + count, count=count)
    if offset > 0 and not plan.only_total:
        links["previous"] = p.link(url, offset=max(0, offset - max(count, 1)), count=count)
    return links


def _entry(doc: Document, ctx: Context, base: str, elements: frozenset[str] | None) -> Json:
    resource = docref.document_reference(doc, ctx.valuesets, base)
    if elements is not None:
        resource = docref.subsetted(resource, elements)
    return mapping.match(docref.document_url(base, doc.dmp_id, doc.id), resource)


async def _search(
    request: Request,
    ctx: Context,
    reading: Reading,
    given: list[tuple[str, str]],
) -> Response:
    p = Parameters.read(given, docsearch.PARAMETERS, preferences.strict(request))
    base = base_url(request)
    url = f"{base}/DocumentReference"
    request.state.searchset = empty_searchset(request, p.link(url))
    resource_format(request)  # a format we do not have is refused before anything is read
    plan = docsearch.plan(p)
    found = await call_consult(
        ctx, documents.find_documents, ctx, reading, plan.patient, plan.query
    )
    page = [] if plan.only_total else found[plan.offset : plan.offset + plan.count]
    entries = [_entry(doc, ctx, base, plan.elements) for doc in page]
    links = _links(p, url, plan, len(found))
    return respond(request, mapping.searchset(entries, len(found), links))


@router.get(
    "/DocumentReference",
    summary="ITI-67 : rechercher les documents d'un patient",
    description="Le patient est désigné par patient (Patient/<id>), patient.identifier (son "
    "INS) ou les _id des documents. Un paramètre inconnu est ignoré (absent du lien self), ou "
    "refusé avec « Prefer: handling=strict ». Un DMP inexistant ou que vous ne pouvez pas ouvrir "
    "rend un Bundle vide avec un OperationOutcome d'information, la même réponse dans les deux "
    "cas.",
    responses=openapi.responses("Bundle searchset de DocumentReference.", "Bundle"),
    openapi_extra=openapi.search_parameters(docsearch.PARAMETERS),
    response_class=FhirResponse,
)
async def find_document_references(
    request: Request, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    given = list(request.query_params.multi_items())
    return await _search(request, ctx, access.reading(actor), given)


@router.post(
    "/DocumentReference/_search",
    summary="ITI-67 : rechercher les documents d'un patient (paramètres dans le corps)",
    description="Les mêmes paramètres que GET /fhir/DocumentReference, dans un corps "
    "application/x-www-form-urlencoded (et, le cas échéant, dans l'URL).",
    responses=openapi.responses("Bundle searchset de DocumentReference.", "Bundle"),
    openapi_extra=openapi.form_body(docsearch.PARAMETERS),
    response_class=FhirResponse,
)
async def search_document_references(
    request: Request, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    body = await read_body(request, FORM)
    form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    given = list(request.query_params.multi_items()) + form
    return await _search(request, ctx, access.reading(actor), given)
