"""ITI-65 Provide Document Bundle: ``POST /fhir`` with a transaction Bundle (IHE MHD).

The Bundle holds a SubmissionSet ``List`` (optional here), one or more ``DocumentReference`` and
the ``Binary`` resources their attachments point at (``attachment.url`` = the Binary's
``fullUrl``, ``urn:uuid:…``), or the bytes inline (``attachment.data``). The patient is named by
``DocumentReference.subject``: an INS identifier, a Patient entry of the Bundle carrying the INS,
or ``Patient/<id>``. All the documents are stored with their audit entries, or none.

The body is streamed to disk (see ``spool``): memory does not grow with the documents' size. The
largest Bundle accepted holds one content at the size limit (base64 adds a third), plus 1 MiB.
The SubmissionSet is not kept as a resource: its entry is answered ``200 OK`` without location.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request

from dmp.domain.identifiers import INS_NIA_SYSTEM, INS_NIR_SYSTEM, Ins
from dmp.domain.model import Document, ProfessionalActor
from dmp.domain.valuesets import ValueSets
from dmp.entrypoints.fhir import ids, intake, openapi
from dmp.entrypoints.fhir.auth import Access, AccessRequest, Ctx, Professional
from dmp.entrypoints.fhir.bodies import base_url, call, check_media_type, parse_json, resource_of
from dmp.entrypoints.fhir.errors import FhirResponse
from dmp.entrypoints.fhir.spool import SpooledBody, body_limit, spool
from dmp.services import submission
from dmp.services.context import Context
from dmp.services.documents import Submission

router = APIRouter(prefix="/fhir", tags=["Documents (MHD)"])
Json = dict[str, Any]
_ACCEPTED = frozenset({"List", "DocumentReference", "Binary", "Patient"})


@dataclass(frozen=True, slots=True)
class Subject:
    ins: Ins | None = None
    dmp_id: UUID | None = None


@dataclass
class Parsed:
    subject: Subject
    entries: list[tuple[str, str | None]]  # (resourceType, fullUrl) in the request's order
    submissions: list[Submission] = field(default_factory=list)
    sources: list[list[str | None]] = field(default_factory=list)  # Binary fullUrl per content


def _ins_of(identifiers: Any) -> Ins | None:
    for identifier in identifiers if isinstance(identifiers, list) else [identifiers]:
        if isinstance(identifier, dict) and identifier.get("system") in (
            INS_NIR_SYSTEM,
            INS_NIA_SYSTEM,
        ):
            return Ins.parse(str(identifier.get("value", "")), identifier["system"])
    return None


def _subject(reference: Any, patients: dict[str, Json]) -> Subject:
    if not isinstance(reference, dict):
        raise intake.bad("DocumentReference.subject (le patient, par son INS) est obligatoire.")
    ins = _ins_of(reference.get("identifier"))
    target = reference.get("reference")
    if ins is None and isinstance(target, str) and target in patients:
        ins = _ins_of(patients[target].get("identifier"))
    if ins is not None:
        return Subject(ins=ins)
    if isinstance(target, str) and target:
        return Subject(dmp_id=ids.parse_patient_reference(target))
    raise intake.bad("Le patient doit être désigné par son INS (urn:oid:1.2.250.1.213.1.4.8).")


def _sources(resource: Json) -> list[str | None]:
    sources: list[str | None] = []
    for content in resource.get("content") or []:
        attachment = content.get("attachment") if isinstance(content, dict) else None
        attachment = attachment if isinstance(attachment, dict) else {}
        url = attachment.get("url")
        sources.append(url if attachment.get("data") is None and isinstance(url, str) else None)
    return sources


def _entries(bundle: Json) -> list[tuple[Json, str | None]]:
    if bundle.get("type") != "transaction":
        raise intake.bad("Un Bundle de type « transaction » est attendu (ITI-65).", "bundle")
    found = []
    for index, entry in enumerate(intake.as_list(bundle.get("entry"), "Bundle.entry")):
        resource = intake.as_dict(intake.as_dict(entry, "entry").get("resource"), f"entry[{index}]")
        kind = resource.get("resourceType")
        if kind not in _ACCEPTED:
            raise intake.bad(f"entry[{index}] : ressource {str(kind)[:40]} non prise en charge.")
        full_url = entry.get("fullUrl")
        found.append((resource, full_url if isinstance(full_url, str) else None))
    return found


def parse(document: Any, body: SpooledBody, vs: ValueSets) -> Parsed:
    body.check_placement(document)
    entries = _entries(resource_of(document, "Bundle"))
    by_url: dict[str, dict[str, Json]] = {"Binary": {}, "Patient": {}}
    for resource, full_url in entries:
        named = by_url.get(resource["resourceType"])
        if named is not None and full_url:
            if full_url in named:
                raise intake.bad(f"fullUrl en double dans le lot : {full_url[:80]}.", "bundle")
            named[full_url] = resource
    documents = [r for r, _ in entries if r["resourceType"] == "DocumentReference"]
    if not documents:
        raise intake.bad("Le lot ne contient aucun DocumentReference.", "bundle")
    subjects = {_subject(d.get("subject"), by_url["Patient"]) for d in documents}
    if len(subjects) > 1:
        raise intake.bad("Tous les documents d'un lot concernent le même patient.", "subject")
    parsed = Parsed(subjects.pop(), [(r["resourceType"], u) for r, u in entries])
    for resource in documents:
        parsed.submissions.append(intake.submission(resource, by_url["Binary"], body, vs))
        parsed.sources.append(_sources(resource))
    used = {url for sources in parsed.sources for url in sources}
    binaries = sum(1 for r, _ in entries if r["resourceType"] == "Binary")
    if binaries != len(by_url["Binary"]) or set(by_url["Binary"]) - used:
        raise intake.bad("Le lot contient un Binary qu'aucun document ne référence.", "bundle")
    return parsed


def _store(
    ctx: Context, actor: ProfessionalActor, access: AccessRequest, parsed: Parsed
) -> list[Document]:
    patient = parsed.subject.dmp_id or parsed.subject.ins
    assert patient is not None
    return submission.submit_documents(
        ctx,
        actor,
        patient,
        parsed.submissions,
        mode=access.mode,
        justification=access.justification,
    )


def _created(base: str, location: str) -> Json:
    return {
        "fullUrl": f"{base}/{location}",
        "response": {"status": "201 Created", "location": location},
    }


def _response(parsed: Parsed, stored: list[Document], base: str) -> Json:
    locations: dict[str | None, str] = {}
    for doc, sources in zip(stored, parsed.sources, strict=True):
        for position, url in enumerate(sources):
            if url is not None:
                locations[url] = f"Binary/{ids.binary_id(doc.dmp_id, doc.id, position)}"
    documents = iter(stored)
    entries = []
    for kind, full_url in parsed.entries:
        if kind == "DocumentReference":
            doc = next(documents)
            location = f"DocumentReference/{ids.document_id(doc.dmp_id, doc.id)}"
            entries.append(_created(base, location))
        elif kind == "Binary":
            entries.append(_created(base, locations[full_url]))
        else:
            entries.append({"response": {"status": "200 OK"}})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


@router.post(
    "",
    summary="ITI-65 : déposer des documents (Bundle transaction MHD)",
    responses=openapi.responses("Bundle transaction-response.", "Bundle"),
    openapi_extra=openapi.request_body("Bundle"),
    response_class=FhirResponse,
)
async def provide_document_bundle(
    request: Request, ctx: Ctx, actor: Professional, access: Access
) -> FhirResponse:
    check_media_type(request)
    limit = body_limit(ctx.settings.max_content_bytes)
    body = await spool(request.stream(), limit, request.app.state.spool_dir)
    try:
        parsed = parse(parse_json(body.skeleton(), body.is_long), body, ctx.valuesets)
        stored = await call(_store, ctx, actor, access, parsed)
    finally:
        body.close()
    return FhirResponse(_response(parsed, stored, base_url(request)))


router.add_api_route(
    "/",
    provide_document_bundle,
    methods=["POST"],
    include_in_schema=False,
    response_class=FhirResponse,
)
