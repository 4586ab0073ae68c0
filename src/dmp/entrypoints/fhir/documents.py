"""Documents: read a DocumentReference (with its version: ``ETag``, ``Last-Modified``,
``If-None-Match``), change a flag or the status by PATCH (``If-Match``, ``Prefer: return``),
and read back a SubmissionSet's ``List``. Each handler parses, calls one use case, and
answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dmp.entrypoints.fhir import docref, ids, openapi, patch, preferences
from dmp.entrypoints.fhir.auth import Access, Ctx, Professional
from dmp.entrypoints.fhir.bodies import PATCH_TYPES, base_url, call, call_consult, read_json
from dmp.entrypoints.fhir.errors import FhirResponse, outcome
from dmp.entrypoints.fhir.negotiation import resource_format, respond
from dmp.services import documents, submission

router = APIRouter(prefix="/fhir", tags=["Documents (MHD)"])
PATCH_HELP = (
    "Une seule modification par requête, en JSON Patch (application/json-patch+json) ou en "
    "FHIRPath Patch (un Parameters) : masquer aux professionnels ou rendre invisible au patient "
    "(JSON « add » en /securityLabel/- d'un Coding MASQUE_PS ou INVISIBLE_PATIENT ; FHIRPath "
    "« add », chemin DocumentReference, nom securityLabel, valueCoding) ; démasquer ou rendre "
    "visible (JSON « test » en /securityLabel/<i> avec le Coding, puis « remove » au même "
    "chemin ; FHIRPath « delete », chemin "
    "DocumentReference.securityLabel.where(code='MASQUE_PS')) ; supprimer (JSON « replace » en "
    "/status avec entered-in-error ; FHIRPath « replace », chemin DocumentReference.status, "
    "valueCode) ; archiver ou désarchiver (JSON « add » en /extension/- de l'extension "
    "dmp-document-archived, valueBoolean ; FHIRPath « replace », chemin "
    "DocumentReference.extension('…/dmp-document-archived').value, valueBoolean). If-Match "
    '(W/"<version>") : refusée (412) si le document a changé depuis. Toute autre '
    "modification : 422."
)


@router.get(
    "/DocumentReference/{id}",
    summary="Lire les métadonnées d'un document",
    description='Réponse avec ETag (W/"<version>") et Last-Modified ; If-None-Match : 304 '
    "si la version est celle que le client a déjà.",
    responses=openapi.responses("DocumentReference.", "DocumentReference"),
    response_class=FhirResponse,
)
async def read_document_reference(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    dmp_id, doc_id = ids.parse_document_id(id)
    resource_format(request)  # a format we do not have is refused before anything is read
    reading = access.reading(actor)
    doc = await call_consult(ctx, documents.get_document, ctx, reading, dmp_id, doc_id)
    headers = preferences.version_headers(doc)
    if preferences.not_modified(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    resource = docref.document_reference(doc, ctx.valuesets, base_url(request))
    return respond(request, resource, headers=headers)


@router.patch(
    "/DocumentReference/{id}",
    summary="Modifier un document : masquer, rendre invisible au patient, archiver, supprimer",
    description=PATCH_HELP,
    responses=openapi.responses(
        "Le DocumentReference modifié (Prefer: return=representation, par défaut), rien "
        "(return=minimal) ou un OperationOutcome (return=OperationOutcome) ; après suppression, "
        "un OperationOutcome (le document n'est plus visible de personne). 412 si If-Match ne "
        "nomme pas la version en cours.",
        "DocumentReference",
        "OperationOutcome",
    ),
    openapi_extra=openapi.patch_body(),
    response_class=FhirResponse,
)
async def patch_document_reference(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    dmp_id, doc_id = ids.parse_document_id(id)
    change = patch.change_of(await read_json(request, PATCH_TYPES))
    returned = preferences.returned(request, "representation")
    doc = await call(
        submission.change_document,
        ctx,
        actor,
        dmp_id,
        doc_id,
        change,
        mode=access.mode,
        justification=access.justification,
        expected_version=preferences.expected_version(request),
    )
    if doc is None:
        text = "Document supprimé (entered-in-error) : il n'est plus visible de personne."
        return _answer(request, returned, outcome(200, text, "deleted", "information"), {})
    headers = preferences.version_headers(doc)
    resource = docref.document_reference(doc, ctx.valuesets, base_url(request))
    if returned == "OperationOutcome":
        text = f"Modification enregistrée : version {doc.meta_version} du document."
        resource = outcome(200, text, "changed", "information")
    return _answer(request, returned, resource, headers)


def _answer(
    request: Request, returned: str, resource: dict[str, Any], headers: dict[str, str]
) -> Response:
    if returned == "minimal":
        return Response(status_code=200, headers=headers)
    return respond(request, resource, headers=headers)


@router.get(
    "/List/{id}",
    summary="Relire un lot déposé (SubmissionSet, ITI-65)",
    description="Le List d'un dépôt : les documents de ce lot que le lecteur peut voir.",
    responses=openapi.responses("List (SubmissionSet).", "List"),
    response_class=FhirResponse,
)
def read_submission_set(
    request: Request, id: str, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    dmp_id, set_id = ids.parse_document_id(id)
    resource_format(request)
    found = documents.find_submission_set(ctx, access.reading(actor), dmp_id, set_id)
    return respond(request, docref.submission_set(dmp_id, set_id, found))
