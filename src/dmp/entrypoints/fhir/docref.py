"""A document as a DocumentReference of the IHE MHD Comprehensive profile, and a SubmissionSet
as its ``List``.

How our metadata sits in MHD (the choices are also in the CapabilityStatement):

- ``meta.versionId`` counts the changes of the metadata (``preferences``), ``meta.lastUpdated``
  is the last one; the document's own version (1, then one more per replacement) is an
  extension;
- ``content.attachment.title`` is the title, ``description`` the comments;
  ``attachment.creation`` the creation time, ``date`` the submission time;
- ``identifier``: the document's own id (``official``) and the logical id shared by its versions
  (``secondary``), both as ``urn:uuid:``;
- ``author``: the XDS author as MHD wants it, contained — a ``PractitionerRole`` (profession,
  TRE_G15) of a ``Practitioner`` (RPPS, names) for the ``Organization`` they acted for (FINESS,
  name); the patient's own documents name the ``Patient``;
- ``context.facilityType`` and ``context.practiceSetting``, always (given at submission, or
  those of the establishment the author acted for);
- ``attachment.hash`` is the SHA-1 (base64) as FHIR says, the SHA-256 an extension; an archived
  document keeps ``status = current`` with the ``dmp-document-archived`` extension.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from dmp.domain.identifiers import FINESS_SYSTEM, RPPS_SYSTEM
from dmp.domain.model import Content, DocStatus, Document
from dmp.domain.valuesets import ValueSets
from dmp.entrypoints.fhir import extensions as ext
from dmp.entrypoints.fhir import ids
from dmp.services.documents import security_labels

Json = dict[str, Any]
PROFILE = (
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.DocumentReference"
)
SUBMISSION_SET = (
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.SubmissionSet"
)
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_FHIR_STATUS = {
    DocStatus.CURRENT: "current",
    DocStatus.ARCHIVED: "current",
    DocStatus.SUPERSEDED: "superseded",
    DocStatus.DELETED: "entered-in-error",
}
# Always kept by ``_elements``: what makes a DocumentReference one (FHIR: mandatory elements).
MANDATORY = frozenset({"resourceType", "id", "meta", "status", "content"})


def instant(moment: datetime) -> str:
    return moment.isoformat()


def _coding(system: str, code: str, display: str | None = None) -> Json:
    coding: Json = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(system: str, code: str, display: str | None = None) -> Json:
    return {"coding": [_coding(system, code, display)]}


def _labels(doc: Document, vs: ValueSets) -> list[Json]:
    confidentiality = doc.metadata.confidentiality.value
    labels = [
        _concept(vs.confidentiality_system, confidentiality, vs.confidentiality[confidentiality])
    ]
    for flag in sorted(security_labels(doc) - {confidentiality}):
        labels.append(_concept(vs.flags_system, flag, vs.flags.get(flag)))
    return labels


def _contained_author(doc: Document, vs: ValueSets) -> list[Json]:
    """The author as contained resources: a PractitionerRole (``#author``) of the Practitioner
    (``#practitioner``) for the Organization (``#organization``)."""
    author = doc.author
    role: Json = {"resourceType": "PractitionerRole", "id": "author"}
    contained: list[Json] = [role]
    if author.rpps:
        person: Json = {
            "resourceType": "Practitioner",
            "id": "practitioner",
            "identifier": [{"system": RPPS_SYSTEM, "value": author.rpps}],
        }
        if author.family_name:
            name: Json = {"family": author.family_name}
            if author.given_name:
                name["given"] = [author.given_name]
            person["name"] = [name]
        contained.append(person)
        role["practitioner"] = {"reference": "#practitioner", "display": author.display_name}
    if author.finess:
        organization: Json = {
            "resourceType": "Organization",
            "id": "organization",
            "identifier": [{"system": FINESS_SYSTEM, "value": author.finess}],
        }
        if author.establishment_name:
            organization["name"] = author.establishment_name
        contained.append(organization)
        role["organization"] = {"reference": "#organization"}
    if author.role in vs.professions:
        role["code"] = [_concept(vs.profession_system, author.role, vs.professions[author.role])]
    return contained


def _hash(content: Content) -> Json:
    found: Json = {}
    if content.sha1:
        found["hash"] = base64.b64encode(bytes.fromhex(content.sha1)).decode("ascii")
    return found


def _contents(doc: Document, vs: ValueSets, base: str) -> list[Json]:
    m = doc.metadata
    fmt = vs.formats.get(m.format_code)
    format_coding = (
        _coding(fmt.coding.system, fmt.coding.code, fmt.coding.display)
        if fmt
        else {"code": m.format_code}
    )
    return [
        {
            "attachment": {
                "extension": [{"url": ext.CONTENT_SHA256, "valueString": content.sha256}],
                "contentType": content.mime_type,
                "language": m.language,
                "url": f"{base}/Binary/{ids.binary_id(doc.dmp_id, doc.id, content.position)}",
                "size": content.size,
                **_hash(content),
                "title": m.title,
                "creation": instant(m.creation_time),
            },
            "format": format_coding,
        }
        for content in doc.contents
    ]


def _context(doc: Document, vs: ValueSets) -> Json:
    m = doc.metadata
    context: Json = {}
    if m.service_start or m.service_stop:
        period: Json = {}
        if m.service_start:
            period["start"] = instant(m.service_start)
        if m.service_stop:
            period["end"] = instant(m.service_stop)
        context["period"] = period
    if m.facility_type:
        context["facilityType"] = _concept(
            vs.facility_type_system, m.facility_type, vs.facility_types.get(m.facility_type)
        )
    if m.practice_setting:
        context["practiceSetting"] = _concept(
            vs.practice_setting_system,
            m.practice_setting,
            vs.practice_settings.get(m.practice_setting),
        )
    return context


def _identifiers(doc: Document) -> list[Json]:
    return [
        {"use": "official", "system": ext.DMP_ID_SYSTEM, "value": f"urn:uuid:{doc.id}"},
        {"use": "secondary", "system": ext.DMP_ID_SYSTEM, "value": f"urn:uuid:{doc.logical_id}"},
    ]


def _master_identifier(value: str) -> Json:
    if value.startswith(("urn:oid:", "urn:uuid:")):
        return {"system": "urn:ietf:rfc:3986", "value": value}
    return {"value": value}


def meta(doc: Document) -> Json:
    return {
        "versionId": str(doc.meta_version),
        "lastUpdated": instant(doc.last_updated),
        "profile": [PROFILE],
    }


def _type(doc: Document, vs: ValueSets) -> Json:
    known = vs.types.get(doc.metadata.type_code)
    if known is None:
        return {"coding": [{"code": doc.metadata.type_code}]}
    return _concept(known.coding.system, known.coding.code, known.coding.display)


def _author(doc: Document, vs: ValueSets) -> tuple[list[Json], list[Json]]:
    """The contained resources and the ``author`` references of a document."""
    if doc.added_by_patient:
        patient = {"reference": f"Patient/{ids.patient_id(doc.dmp_id)}", "display": "Le patient"}
        return [], [patient]
    return _contained_author(doc, vs), [{"reference": "#author"}]


def document_reference(doc: Document, vs: ValueSets, base: str) -> Json:
    m = doc.metadata
    contained, authors = _author(doc, vs)
    resource: Json = {
        "resourceType": "DocumentReference",
        "id": ids.document_id(doc.dmp_id, doc.id),
        "meta": meta(doc),
        "extension": [
            {"url": ext.DOCUMENT_ARCHIVED, "valueBoolean": doc.status is DocStatus.ARCHIVED},
            {"url": ext.DOCUMENT_VERSION, "valueInteger": doc.version},
        ],
        "masterIdentifier": _master_identifier(m.master_identifier),
        "identifier": _identifiers(doc),
        "status": _FHIR_STATUS[doc.status],
        "type": _type(doc, vs),
        "category": [_concept(vs.class_system, doc.class_code, vs.classes.get(doc.class_code))],
        "subject": {"reference": f"Patient/{ids.patient_id(doc.dmp_id)}"},
        "date": instant(doc.submitted_at),
        "author": authors,
        "securityLabel": _labels(doc, vs),
        "content": _contents(doc, vs, base),
        "context": _context(doc, vs),
    }
    if contained:
        resource["contained"] = contained
    if m.comments:
        resource["description"] = m.comments
    if doc.replaces_id is not None:
        target = f"DocumentReference/{ids.document_id(doc.dmp_id, doc.replaces_id)}"
        resource["relatesTo"] = [{"code": "replaces", "target": {"reference": target}}]
    return resource


def subsetted(resource: Json, elements: frozenset[str]) -> Json:
    """``_elements``: the elements asked for, the mandatory ones, and a tag saying the
    resource is incomplete (FHIR search.html §3.1.1.5.9)."""
    kept = {k: v for k, v in resource.items() if k in elements | MANDATORY}
    kept["meta"] = {**resource.get("meta", {}), "tag": [SUBSETTED]}
    return kept


def document_url(base: str, dmp_id: UUID, doc_id: UUID) -> str:
    return f"{base}/DocumentReference/{ids.document_id(dmp_id, doc_id)}"


def submission_set_id(dmp_id: UUID, set_id: UUID) -> str:
    return ids.document_id(dmp_id, set_id)  # the same shape: a DMP and an id in it


def submission_set(dmp_id: UUID, set_id: UUID, documents: list[Document]) -> Json:
    """The ``List`` of a SubmissionSet: its documents that the reader may see."""
    first = min(documents, key=lambda d: d.submitted_at)
    return {
        "resourceType": "List",
        "id": submission_set_id(dmp_id, set_id),
        "meta": {"profile": [SUBMISSION_SET]},
        "identifier": [
            {"use": "official", "system": ext.DMP_ID_SYSTEM, "value": f"urn:uuid:{set_id}"}
        ],
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "subject": {"reference": f"Patient/{ids.patient_id(dmp_id)}"},
        "date": instant(first.submitted_at),
        "entry": [
            {"item": {"reference": f"DocumentReference/{ids.document_id(d.dmp_id, d.id)}"}}
            for d in documents
        ],
    }
