"""Patient: the look-up of a DMP by the patient's INS (``GET /fhir/Patient?identifier=…``), by
its id (``_id``), and the read of the ``Patient/<id>`` that documents and searches refer to.

The look-up tells every professional (but those the law keeps out) whether a DMP exists for an
INS and in which state, the identity only to who may open it. Reading by id, or searching by
``_id``, is for whoever may open the DMP: to anyone else an id names nothing (404 for a read,
an empty searchset for a search, the same answers as for an id that names no DMP).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dmp.domain.identifiers import Ins
from dmp.entrypoints.fhir import ids, mapping, openapi, preferences
from dmp.entrypoints.fhir.auth import Access, Ctx, Professional
from dmp.entrypoints.fhir.bodies import base_url, call
from dmp.entrypoints.fhir.errors import FhirResponse, outcome
from dmp.entrypoints.fhir.negotiation import empty_searchset, resource_format, respond
from dmp.entrypoints.fhir.patients import parse_ins_token
from dmp.entrypoints.fhir.search import Parameters
from dmp.errors import InvalidInput, NotFound
from dmp.services import records

router = APIRouter(prefix="/fhir", tags=["Patient"])
Json = dict[str, Any]
PARAMETERS: dict[str, tuple[str, str]] = {
    "identifier": ("token", "INS du patient : urn:oid:1.2.250.1.213.1.4.8|<NIR + clé>."),
    "_id": ("token", "Id du Patient, celui des références Patient/<id> des documents."),
    "_format": ("special", "json ou xml (sinon, l'en-tête Accept)."),
}


def _found(request: Request, found: records.Lookup, ins: Ins, links: dict[str, str]) -> Json:
    assert found.dmp_id is not None
    full_url = f"{base_url(request)}/Patient/{ids.patient_id(found.dmp_id)}"
    return mapping.searchset([mapping.match(full_url, mapping.patient(found, ins))], 1, links)


def _looked_up(request: Request, found: records.Lookup, ins: Ins, links: dict[str, str]) -> Json:
    if found.exists:
        return _found(request, found, ins, links)
    if found.state is not None and found.destroyed_at is not None:
        text = f"Le DMP de ce patient a été détruit le {found.destroyed_at:%d/%m/%Y}."
    else:
        text = "Aucun DMP n'existe pour cet INS."
    return mapping.searchset([], 0, links, outcome(200, text, "no-record", "information"))


def _dmp_id(text: str) -> UUID:
    found = ids.expand(text.strip().removeprefix("Patient/"))
    if found is None:
        raise NotFound("Patient introuvable ou accès non autorisé.")
    return found


@router.get(
    "/Patient",
    summary="Rechercher le DMP d'un patient par son INS (ou par son id)",
    responses=openapi.responses("Bundle searchset : 0 ou 1 Patient.", "Bundle"),
    openapi_extra=openapi.search_parameters(PARAMETERS),
    response_class=FhirResponse,
)
async def search_patient(
    request: Request, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    given = request.query_params.multi_items()
    p = Parameters.read(given, PARAMETERS, preferences.strict(request))
    links = {"self": p.link(f"{base_url(request)}/Patient")}
    request.state.searchset = empty_searchset(request, links["self"])
    resource_format(request)
    identifier, patient_id = p.one("identifier"), p.one("_id")
    if (identifier is None) == (patient_id is None):
        raise InvalidInput(
            "Indiquez le patient par son INS (identifier) ou par son id (_id), l'un ou l'autre.",
            code="search",
        )
    if identifier is not None:
        ins = parse_ins_token(identifier)
        found = await call(records.lookup, ctx, actor, ins)
        return respond(request, _looked_up(request, found, ins, links))
    assert patient_id is not None
    read = await call(records.read_patient, ctx, access.reading(actor), _dmp_id(patient_id))
    assert read.ins is not None
    return respond(request, _found(request, read, read.ins, links))


@router.get(
    "/Patient/{id}",
    summary="Lire le Patient d'un DMP (la référence Patient/<id> des documents)",
    description="Pour qui peut ouvrir le DMP ; pour tout autre, 404, comme un id inconnu.",
    responses=openapi.responses("Patient.", "Patient"),
    response_class=FhirResponse,
)
def read_patient(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    dmp_id = _dmp_id(id)
    resource_format(request)
    found = records.read_patient(ctx, access.reading(actor), dmp_id)
    assert found.ins is not None
    return respond(request, mapping.patient(found, found.ins))
