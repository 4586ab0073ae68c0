"""Domain → FHIR R4: the Patient of a lookup, DocumentReference, Bundle and Parameters.

How our metadata sits in MHD (IHE ITI-65/67) — the choices are also in the CapabilityStatement:

- ``content.attachment.title`` is the title, ``description`` the comments (IHE MHD mapping of
  XDS ``title`` and ``comments``); ``content.attachment.creation`` the creation time, ``date`` the
  submission time;
- ``identifier``: the document's own id (``official``) and the logical id shared by its versions
  (``secondary``), both as ``urn:uuid:``; the version number is an extension;
- an archived document keeps ``status = current`` and carries the ``dmp-document-archived``
  extension; deleted documents are never shown;
- the SHA-256 of a content goes in an extension (FHIR's ``hash`` is SHA-1, which we do not keep);
- ``attachment.url`` points at ``Binary/<document id>.<position>`` (ITI-68).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from dmp.domain.identifiers import FINESS_SYSTEM, RPPS_SYSTEM, Ins
from dmp.domain.model import DocStatus, Document, RecordState
from dmp.domain.valuesets import ValueSets
from dmp.entrypoints.fhir import extensions as ext
from dmp.entrypoints.fhir import ids
from dmp.services.documents import security_labels
from dmp.services.records import Lookup

Json = dict[str, Any]
_FHIR_STATUS = {
    DocStatus.CURRENT: "current",
    DocStatus.ARCHIVED: "current",
    DocStatus.SUPERSEDED: "superseded",
    DocStatus.DELETED: "entered-in-error",
}


def instant(moment: datetime) -> str:
    return moment.isoformat()


def _sub(url: str, **values: Any) -> Json:
    return {"url": url, **values}


# --- Patient -------------------------------------------------------------------------------------


def patient(found: Lookup, ins: Ins) -> Json:
    """The Patient of a DMP lookup: state for every professional, identity only if authorized."""
    assert found.dmp_id is not None
    assert found.state is not None
    state: list[Json] = [_sub("state", valueCode=found.state.value)]
    if found.closed_at is not None:
        state.append(_sub("closedAt", valueDateTime=instant(found.closed_at)))
    if found.closure_reason:
        state.append(_sub("closureReason", valueString=found.closure_reason))
    resource: Json = {
        "resourceType": "Patient",
        "id": ids.patient_id(found.dmp_id),
        "extension": [
            {"url": ext.RECORD_STATE, "extension": state},
            {
                "url": ext.MEDECIN_TRAITANT,
                "extension": [
                    _sub("designated", valueBoolean=found.has_medecin_traitant),
                    _sub("isRequester", valueBoolean=found.is_medecin_traitant),
                ],
            },
            {"url": ext.ACCESS_AUTHORIZED, "valueBoolean": found.authorized},
        ],
        "identifier": [
            {"use": "official", "system": ins.system, "value": ins.value},
            {"use": "secondary", "system": ext.DMP_ID_SYSTEM, "value": f"urn:uuid:{found.dmp_id}"},
        ],
        "active": found.state is RecordState.ACTIVE,
    }
    identity = found.identity
    if found.authorized and identity is not None:
        name: Json = {"use": "official", "family": identity.family_name}
        name["given"] = identity.given_names.split()
        resource["name"] = [name]
        if identity.birth_name:
            resource["name"].append({"use": "maiden", "family": identity.birth_name})
        resource["gender"] = identity.gender
        resource["birthDate"] = identity.birth_date.isoformat()
    return resource


# --- Bundles -------------------------------------------------------------------------------------


def searchset(
    entries: list[Json], total: int, links: dict[str, str], outcome: Json | None = None
) -> Json:
    bundle: Json = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": rel, "url": url} for rel, url in links.items()],
    }
    found = list(entries)
    if outcome is not None:
        found.append({"resource": outcome, "search": {"mode": "outcome"}})
    if found:
        bundle["entry"] = found
    return bundle


def match(full_url: str, resource: Json) -> Json:
    return {"fullUrl": full_url, "resource": resource, "search": {"mode": "match"}}


def parameters(values: list[Json]) -> Json:
    return {"resourceType": "Parameters", "parameter": values}


# --- DocumentReference ---------------------------------------------------------------------------


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


def _authors(doc: Document) -> list[Json]:
    author = doc.author
    if doc.added_by_patient:
        return [{"reference": f"Patient/{ids.patient_id(doc.dmp_id)}", "display": "Le patient"}]
    found: list[Json] = []
    if author.rpps:
        found.append(
            {
                "type": "Practitioner",
                "identifier": {"system": RPPS_SYSTEM, "value": author.rpps},
                "display": author.display_name,
            }
        )
    if author.finess:
        found.append(
            {
                "type": "Organization",
                "identifier": {"system": FINESS_SYSTEM, "value": author.finess},
            }
        )
    return found


def _contents(doc: Document, vs: ValueSets, base: str) -> list[Json]:
    m = doc.metadata
    fmt = vs.formats.get(m.format_code)
    format_coding = _coding(fmt.coding.system, fmt.coding.code, fmt.coding.display) if fmt else None
    contents = []
    for content in doc.contents:
        attachment: Json = {
            "extension": [{"url": ext.CONTENT_SHA256, "valueString": content.sha256}],
            "contentType": content.mime_type,
            "language": m.language,
            "url": f"{base}/Binary/{ids.binary_id(doc.dmp_id, doc.id, content.position)}",
            "size": content.size,
            "title": m.title,
            "creation": instant(m.creation_time),
        }
        entry: Json = {"attachment": attachment}
        if format_coding:
            entry["format"] = format_coding
        contents.append(entry)
    return contents


def _context(doc: Document, vs: ValueSets) -> Json | None:
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
    return context or None


def _identifiers(doc: Document) -> list[Json]:
    return [
        {"use": "official", "system": ext.DMP_ID_SYSTEM, "value": f"urn:uuid:{doc.id}"},
        {"use": "secondary", "system": ext.DMP_ID_SYSTEM, "value": f"urn:uuid:{doc.logical_id}"},
    ]


def document_reference(doc: Document, vs: ValueSets, base: str) -> Json:
    m = doc.metadata
    doc_type = vs.types.get(m.type_code)
    type_coding = (
        _coding(doc_type.coding.system, doc_type.coding.code, doc_type.coding.display)
        if doc_type
        else {"code": m.type_code}
    )
    resource: Json = {
        "resourceType": "DocumentReference",
        "id": ids.document_id(doc.dmp_id, doc.id),
        "extension": [
            {"url": ext.DOCUMENT_ARCHIVED, "valueBoolean": doc.status is DocStatus.ARCHIVED},
            {"url": ext.DOCUMENT_VERSION, "valueInteger": doc.version},
        ],
        "masterIdentifier": _master_identifier(m.master_identifier),
        "identifier": _identifiers(doc),
        "status": _FHIR_STATUS[doc.status],
        "type": {"coding": [type_coding]},
        "category": [_concept(vs.class_system, doc.class_code, vs.classes.get(doc.class_code))],
        "subject": {"reference": f"Patient/{ids.patient_id(doc.dmp_id)}"},
        "date": instant(doc.submitted_at),
        "securityLabel": _labels(doc, vs),
        "content": _contents(doc, vs, base),
    }
    authors = _authors(doc)
    if authors:
        resource["author"] = authors
    if m.comments:
        resource["description"] = m.comments
    context = _context(doc, vs)
    if context:
        resource["context"] = context
    if doc.replaces_id is not None:
        target = f"DocumentReference/{ids.document_id(doc.dmp_id, doc.replaces_id)}"
        resource["relatesTo"] = [{"code": "replaces", "target": {"reference": target}}]
    return resource


def _master_identifier(value: str) -> Json:
    if value.startswith(("urn:oid:", "urn:uuid:")):
        return {"system": "urn:ietf:rfc:3986", "value": value}
    return {"value": value}


def document_url(base: str, dmp_id: UUID, doc_id: UUID) -> str:
    return f"{base}/DocumentReference/{ids.document_id(dmp_id, doc_id)}"
