"""Documents: ITI-67 (find), read, ITI-68 (retrieve the content) and PATCH (change a flag or
the status). Each handler parses, calls one use case, and answers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from dmp.domain.identifiers import Ins
from dmp.domain.model import Content, Document, ProfessionalActor
from dmp.entrypoints.fhir import ids, mapping, openapi, patch, search
from dmp.entrypoints.fhir.auth import Access, AccessRequest, Ctx, Professional
from dmp.entrypoints.fhir.bodies import PATCH_TYPES, base_url, call, read_json
from dmp.entrypoints.fhir.errors import FhirResponse, outcome
from dmp.entrypoints.fhir.patients import parse_ins_token
from dmp.errors import InvalidInput
from dmp.services import documents, submission
from dmp.services.context import Context

router = APIRouter(prefix="/fhir", tags=["Documents (MHD)"])
Text = Annotated[str | None, Query()]


def _patient(patient: str | None, ins: str | None) -> UUID | Ins:
    """The DMP to search: its id, or the patient's INS (resolved by the search itself, in the
    same transaction and audit entry)."""
    patient, ins = patient or None, ins or None
    if (patient is None) == (ins is None):
        raise InvalidInput(
            "Indiquez le patient : « patient » (Patient/<id>) ou « patient.identifier » (INS), "
            "l'un ou l'autre.",
            code="search",
        )
    if patient is not None:
        return ids.parse_patient_reference(patient)
    assert ins is not None
    return parse_ins_token(ins)


def _find(
    ctx: Context,
    access: AccessRequest,
    actor: ProfessionalActor,
    target: tuple[str | None, str | None],
    query: documents.DocumentQuery,
) -> list[Document]:
    return documents.find_documents(ctx, access.reading(actor), _patient(*target), query)


def _links(request: Request, offset: int, count: int, total: int) -> dict[str, str]:
    url = request.url
    links = {"self": str(url)}
    if offset + count < total and count > 0:
        links["next"] = str(url.include_query_params(_offset=offset + count, _count=count))
    if offset > 0:
        previous = max(0, offset - max(count, 1))
        links["previous"] = str(url.include_query_params(_offset=previous, _count=count))
    return links


@router.get(
    "/DocumentReference",
    summary="ITI-67 : rechercher les documents d'un patient",
    description=search.__doc__ or "",
    responses=openapi.responses("Bundle searchset de DocumentReference.", "Bundle"),
    response_class=FhirResponse,
)
def find_document_references(
    request: Request,
    ctx: Ctx,
    actor: Professional,
    access: Access,
    patient: Text = None,
    patient_identifier: Annotated[str | None, Query(alias="patient.identifier")] = None,
    status: Text = None,
    archived: Text = None,
    type_: Annotated[str | None, Query(alias="type")] = None,
    category: Text = None,
    security_label: Annotated[str | None, Query(alias="security-label")] = None,
    author_identifier: Annotated[str | None, Query(alias="author.identifier")] = None,
    author: Text = None,
    creation: Annotated[list[str] | None, Query()] = None,
    period: Annotated[list[str] | None, Query()] = None,
    count: Annotated[int, Query(alias="_count", ge=0, le=10_000)] = search.DEFAULT_COUNT,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=10_000_000)] = 0,
) -> FhirResponse:
    query = search.query(
        status=status,
        archived=archived,
        type_=type_,
        category=category,
        security_label=security_label,
        author=author_identifier or author,
        creation=creation,
        period=period,
    )
    found = _find(ctx, access, actor, (patient, patient_identifier), query)
    count = min(count, search.MAX_COUNT)
    base = base_url(request)
    page = [
        mapping.match(
            mapping.document_url(base, d.dmp_id, d.id),
            mapping.document_reference(d, ctx.valuesets, base),
        )
        for d in found[offset : offset + count]
    ]
    return FhirResponse(
        mapping.searchset(page, len(found), _links(request, offset, count, len(found)))
    )


@router.get(
    "/DocumentReference/{id}",
    summary="Lire les métadonnées d'un document",
    responses=openapi.responses("DocumentReference.", "DocumentReference"),
    response_class=FhirResponse,
)
def read_document_reference(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> FhirResponse:
    dmp_id, doc_id = ids.parse_document_id(id)
    doc = documents.get_document(ctx, access.reading(actor), dmp_id, doc_id)
    return FhirResponse(mapping.document_reference(doc, ctx.valuesets, base_url(request)))


def _wants_resource(request: Request, mime_type: str) -> bool:
    """A Binary resource only when asked for FHIR JSON and not for the content's own type."""
    accept = request.headers.get("accept", "").lower()
    wanted = {part.split(";", 1)[0].strip() for part in accept.split(",")}
    fhir = bool(wanted & {"application/fhir+json", "application/json"})
    raw = bool(wanted & {mime_type, mime_type.split("/", maxsplit=1)[0] + "/*", "*/*"})
    return fhir and not raw


def _base64_stream(head: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """A Binary resource whose base64 is encoded as the content streams: memory stays flat."""
    yield head.encode()
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = len(data) - len(data) % 3
        carry = data[cut:]
        yield binascii.b2a_base64(data[:cut], newline=False)
    yield binascii.b2a_base64(carry, newline=False) + b'"}'


def _digest_headers(content: Content) -> dict[str, str]:
    digest = base64.b64encode(bytes.fromhex(content.sha256)).decode()
    return {
        "ETag": f'"{content.sha256}"',
        "Repr-Digest": f"sha-256=:{digest}:",
        "Cache-Control": "no-store",
    }


@router.get(
    "/Binary/{id}",
    summary="ITI-68 : récupérer le contenu d'un document",
    responses=openapi.binary_responses(),
    response_class=StreamingResponse,
)
def retrieve_document(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> StreamingResponse:
    dmp_id, doc_id, position = ids.parse_binary_id(id)
    content, stream = documents.open_content(ctx, access.reading(actor), dmp_id, doc_id, position)
    # Answer with the id as the server writes it, never with the text the client sent: the
    # content is already open (its read audited), the headers must not fail now.
    canonical = ids.binary_id(dmp_id, doc_id, position)
    headers = _digest_headers(content)
    if _wants_resource(request, content.mime_type):
        head = (
            f'{{"resourceType":"Binary","id":"{canonical}",'
            f'"contentType":"{content.mime_type}","data":"'
        )
        body = _base64_stream(head, stream)
        return StreamingResponse(body, media_type="application/fhir+json", headers=headers)
    headers["Content-Length"] = str(content.size)
    headers["Content-Type"] = content.mime_type
    headers["Content-Disposition"] = f'attachment; filename="{canonical}"'
    return StreamingResponse(stream, headers=headers)


@router.patch(
    "/DocumentReference/{id}",
    summary="Modifier un document : masquer, rendre invisible au patient, archiver, supprimer",
    description=patch.__doc__ or "",
    responses=openapi.responses(
        "Le DocumentReference modifié ; après suppression, un OperationOutcome (le document "
        "n'est plus visible de personne).",
        "DocumentReference",
        "OperationOutcome",
    ),
    openapi_extra=openapi.patch_body(),
    response_class=FhirResponse,
)
async def patch_document_reference(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> FhirResponse:
    dmp_id, doc_id = ids.parse_document_id(id)
    change = patch.change_of(await read_json(request, PATCH_TYPES))
    doc = await call(
        submission.change_document,
        ctx,
        actor,
        dmp_id,
        doc_id,
        change,
        mode=access.mode,
        justification=access.justification,
    )
    if doc is None:
        text = "Document supprimé (entered-in-error) : il n'est plus visible de personne."
        return FhirResponse(outcome(200, text, "deleted", "information"))
    return FhirResponse(mapping.document_reference(doc, ctx.valuesets, base_url(request)))
