"""ITI-65 Provide Document Bundle: ``POST /fhir`` with a transaction Bundle (IHE MHD), in FHIR
JSON or XML.

The Bundle holds a SubmissionSet ``List`` (at most one; optional here), one or more
``DocumentReference`` and the ``Binary`` resources their attachments point at
(``attachment.url`` = the Binary's ``fullUrl``, ``urn:uuid:…``), or the bytes inline
(``attachment.data``). The patient is named by ``DocumentReference.subject``: an INS
identifier, a Patient entry of the Bundle carrying the INS, or ``Patient/<id>``; the List's
``subject``, when given, must name the same patient the same way. All the documents are stored
with their audit entries, or none.

The body is streamed to disk (see ``spool``, and ``xmlbody`` for XML): memory does not grow
with the documents' size. The largest Bundle accepted holds one content at the size limit
(base64 adds a third), plus 1 MiB. Every entry is answered ``201 Created`` with its
``location``, the List's included (``List/<id>`` reads it back); ``Prefer: return=
representation`` adds each resource, ``return=OperationOutcome`` an outcome per entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dmp.domain.identifiers import INS_NIA_SYSTEM, INS_NIR_SYSTEM, Ins
from dmp.domain.model import Document, ProfessionalActor
from dmp.domain.valuesets import ValueSets
from dmp.entrypoints.fhir import docref, ids, intake, openapi, preferences
from dmp.entrypoints.fhir.auth import Access, AccessRequest, Ctx, Professional
from dmp.entrypoints.fhir.bodies import (
    JSON_TYPES,
    base_url,
    call,
    check_media_type,
    media_type,
    parse_json,
    resource_of,
)
from dmp.entrypoints.fhir.errors import FhirResponse, outcome
from dmp.entrypoints.fhir.negotiation import FHIR_TYPES, XML, resource_format, respond
from dmp.entrypoints.fhir.spool import SpooledBody, body_limit, spool
from dmp.entrypoints.fhir.xmlbody import bundle_from_xml
from dmp.services import submission
from dmp.services.context import Context
from dmp.services.documents import Submission

router = APIRouter(prefix="/fhir", tags=["Documents (MHD)"])
Json = dict[str, Any]
_ACCEPTED = frozenset({"List", "DocumentReference", "Binary", "Patient"})
BODY_TYPES = JSON_TYPES | FHIR_TYPES[XML]


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


def _check_submission_set(
    entries: list[tuple[Json, str | None]], subjects: set[Subject], patients: dict[str, Json]
) -> None:
    """At most one SubmissionSet, about the documents' patient, named the same way."""
    lists = [r for r, _ in entries if r["resourceType"] == "List"]
    if len(lists) > 1:
        raise intake.bad("Un lot contient au plus un List (SubmissionSet).", "bundle")
    named = lists[0].get("subject") if lists else None
    if named is not None and _subject(named, patients) not in subjects:
        raise intake.bad(
            "Le patient du lot (List.subject) n'est pas celui des documents : désignez le "
            "même patient, de la même façon (INS ou Patient/<id>).",
            "subject",
        )


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
    _check_submission_set(entries, subjects, by_url["Patient"])
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


def _created(base: str, location: str, resource: Json | None, returned: str) -> Json:
    entry: Json = {
        "fullUrl": f"{base}/{location}",
        "response": {"status": "201 Created", "location": location},
    }
    if resource is not None and returned == "representation":
        entry["resource"] = resource
        if "meta" in resource and "versionId" in resource["meta"]:
            entry["response"]["etag"] = f'W/"{resource["meta"]["versionId"]}"'
    if returned == "OperationOutcome":
        text = f"Enregistré : {location}."
        entry["response"]["outcome"] = outcome(200, text, "created", "information")
    return entry


def _response(
    ctx: Context, parsed: Parsed, stored: list[Document], base: str, returned: str
) -> Json:
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
            resource = docref.document_reference(doc, ctx.valuesets, base)
            entries.append(_created(base, location, resource, returned))
        elif kind == "Binary":
            entries.append(_created(base, locations[full_url], None, returned))
        elif kind == "List":
            entries.append(_submission_set(stored, base, returned))
        else:
            entries.append({"response": {"status": "200 OK"}})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


def _submission_set(stored: list[Document], base: str, returned: str) -> Json:
    dmp_id, set_id = stored[0].dmp_id, stored[0].submission_set_id
    assert set_id is not None  # every submission has its set
    location = f"List/{docref.submission_set_id(dmp_id, set_id)}"
    return _created(base, location, docref.submission_set(dmp_id, set_id, stored), returned)


def _document(body: SpooledBody, xml: bool) -> Any:
    if xml:
        return bundle_from_xml(body.skeleton())
    return parse_json(body.skeleton(), body.is_long)


@router.post(
    "",
    summary="ITI-65 : déposer des documents (Bundle transaction MHD, JSON ou XML)",
    responses=openapi.responses("Bundle transaction-response.", "Bundle"),
    openapi_extra=openapi.request_body("Bundle"),
    response_class=FhirResponse,
)
async def provide_document_bundle(
    request: Request, ctx: Ctx, actor: Professional, access: Access
) -> Response:
    check_media_type(request, BODY_TYPES)
    resource_format(request)  # a format we do not have is refused before anything is read
    xml = media_type(request) in FHIR_TYPES[XML]
    limit = body_limit(ctx.settings.max_content_bytes)
    body = await spool(request.stream(), limit, request.app.state.spool_dir, xml=xml)
    try:
        parsed = parse(_document(body, xml), body, ctx.valuesets)
        stored = await call(_store, ctx, actor, access, parsed)
    finally:
        body.close()
    returned = preferences.returned(request, "minimal")
    return respond(request, _response(ctx, parsed, stored, base_url(request), returned))


router.add_api_route(
    "/",
    provide_document_bundle,
    methods=["POST"],
    include_in_schema=False,
    response_class=FhirResponse,
)
