"""The IHE MHD Comprehensive profile: every DocumentReference the server emits, in JSON and in
XML, carries the elements the profile requires (written below as data, from the profile); the
MHD context is always there (given, or that of who produced the document); the author is
contained; the SubmissionSet is answered 201 with a location that reads back, and its patient
is the documents' (both backends)."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from dmp.domain.identifiers import INS_NIR_SYSTEM
from dmp.services import authorizations
from dmp.services.directory import issue_token
from dmp.services.submission import submit_documents
from tests.e2e.fhir import FHIR_XML, document_reference, ins_token, provide_bundle, transaction
from tests.e2e.test_documents_api import provide
from tests.factories import CDA, PDF, pdf_submission
from tests.personas import ALICE_INS, LEA_INS

# IHE ITI MHD 4.2, StructureDefinition IHE.MHD.Comprehensive.DocumentReference (with what it
# takes from IHE.MHD.Minimal.DocumentReference and from R4 itself): the elements whose minimum
# cardinality is 1, each with the XDS DocumentEntry attribute it carries.
REQUIRED = {
    "masterIdentifier": "uniqueId",
    "status": "availabilityStatus",
    "type": "typeCode",
    "category": "classCode",
    "subject": "patientId",
    "securityLabel": "confidentialityCode",
    "content": "(the document)",
    "content.attachment": "(the document)",
    "content.attachment.contentType": "mimeType",
    "content.attachment.language": "languageCode",
    "content.attachment.url": "repository location (ITI-68)",
    "content.attachment.creation": "creationTime",
    "content.format": "formatCode",
    "context": "(the clinical context)",
    "context.facilityType": "healthcareFacilityTypeCode",
    "context.practiceSetting": "practiceSettingCode",
}
PROFILE = (
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.DocumentReference"
)


def missing(resource: dict[str, Any]) -> list[str]:
    """The required elements absent from a DocumentReference (in every repetition)."""
    absent = []
    for path in REQUIRED:
        values: list[Any] = [resource]
        for name in path.split("."):
            found = [v.get(name) if isinstance(v, dict) else None for v in values]
            values = [item for v in found for item in (v if isinstance(v, list) else [v])]
        if not values or any(v in (None, "", [], {}) for v in values):
            absent.append(path)
    return absent


def authors_contained(resource: dict[str, Any]) -> bool:
    """Every author is a contained resource (``#id``), or the patient of the document."""
    contained = {r["id"] for r in resource.get("contained", [])}
    subject = resource["subject"]["reference"]
    return all(
        a["reference"] == subject or a["reference"].removeprefix("#") in contained
        for a in resource.get("author", [])
    )


def test_the_check_sees_a_missing_element():
    assert missing({"content": [{"attachment": {}}]}) == [p for p in REQUIRED if p != "content"]
    assert not authors_contained(
        {"subject": {"reference": "Patient/x"}, "author": [{"reference": "#a"}]}
    )


def _all_documents(api, ctx, cast) -> list[dict[str, Any]]:
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    api.tokens["hugo"] = issue_token(ctx, cast.hugo.rpps, finess=cast.chu.finess).token
    provide(api)  # Bruno, who acts for no establishment
    provide(api, "hugo", type_code="18748-4", title="Imagerie")  # Hugo, for the CHU
    cda = document_reference(ALICE_INS, data=CDA, content_type="text/xml", type_code="11490-0")
    assert api.post("/fhir", json=transaction(("urn:uuid:1", cda)), as_="bruno").status_code == 200
    own = pdf_submission(type_code="DOCPAT01", title="Directives anticipées")
    submit_documents(ctx, cast.alice, cast.alice_dmp, [own])  # the patient's own
    params = {"patient.identifier": ins_token(ALICE_INS)}
    bundle = api.get("/fhir/DocumentReference", params=params, as_="bruno").json()
    return [e["resource"] for e in bundle["entry"]]


def test_every_document_reference_has_what_the_profile_requires(api, ctx, cast):
    found = _all_documents(api, ctx, cast)
    assert len(found) == 4
    for resource in found:
        assert missing(resource) == [], resource["id"]
        assert authors_contained(resource), resource["id"]
        assert resource["meta"]["profile"] == [PROFILE]
        read = api.get(f"/fhir/DocumentReference/{resource['id']}", as_="bruno").json()
        assert missing(read) == []
        xml = api.get(
            f"/fhir/DocumentReference/{resource['id']}", as_="bruno", headers={"Accept": FHIR_XML}
        ).content
        model = get_fhir_model_class("DocumentReference").model_validate_xml(xml)
        assert missing(model.model_dump(mode="json", by_alias=True, exclude_none=True)) == []


def test_the_context_defaults_to_who_produced_the_document(api, ctx, cast):
    found = {r["type"]["coding"][0]["code"]: r for r in _all_documents(api, ctx, cast)}

    def context(type_code):
        c = found[type_code]["context"]
        return c["facilityType"]["coding"][0]["code"], c["practiceSetting"]["coding"][0]["code"]

    assert context("11490-0") == ("SA52", "AMBULATOIRE")  # a liberal médecin
    assert context("18748-4") == ("SA01", "ETABLISSEMENT")  # for the CHU, a hospital
    patients = [r for r in found.values() if r["author"][0]["reference"].startswith("Patient/")]
    [own] = patients
    assert own["context"]["facilityType"]["coding"][0]["code"] == "DOMICILE"


def test_a_context_given_is_kept_and_checked(api):
    given = {
        "facilityType": {"coding": [{"code": "SA07"}]},
        "practiceSetting": {"coding": [{"code": "SAMU"}]},
    }
    doc_id = provide(api, context=given)
    context = api.get(f"/fhir/DocumentReference/{doc_id}", as_="bruno").json()["context"]
    assert context["facilityType"]["coding"][0]["code"] == "SA07"
    assert context["practiceSetting"]["coding"][0]["code"] == "SAMU"
    wrong = {"facilityType": {"coding": [{"code": "XX99"}]}}
    bundle = provide_bundle(ALICE_INS, PDF, context=wrong)
    refused = api.post("/fhir", json=bundle, as_="bruno")
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "facility-type"


def test_the_submission_set_is_created_and_reads_back(api):
    response = api.post("/fhir", json=provide_bundle(ALICE_INS, PDF), as_="bruno").json()
    [listed, doc, binary] = [e["response"] for e in response["entry"]]
    assert [r["status"] for r in (listed, doc, binary)] == ["201 Created"] * 3
    assert listed["location"].startswith("List/")
    read = api.get(f"/fhir/{listed['location']}", as_="bruno").json()
    assert read["resourceType"] == "List"
    assert read["code"]["coding"][0]["code"] == "submissionset"
    assert [e["item"]["reference"] for e in read["entry"]] == [doc["location"]]
    assert api.get(f"/fhir/{listed['location']}", as_="damien").status_code == 404
    assert (
        api.get(
            "/fhir/List/aaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaa", as_="bruno"
        ).status_code
        == 404
    )


def _with_list_subject(subject: dict[str, Any]) -> dict[str, Any]:
    bundle = provide_bundle(ALICE_INS, PDF)
    bundle["entry"][0]["resource"]["subject"] = subject
    return bundle


def test_the_submission_set_names_the_documents_patient(api, ctx):
    bogus = {"identifier": {"system": INS_NIR_SYSTEM, "value": "285037512345600"}}
    refused = api.post("/fhir", json=_with_list_subject(bogus), as_="bruno")
    assert refused.status_code == 400
    assert "INS invalide" in refused.json()["issue"][0]["details"]["text"]
    other = {"identifier": {"system": INS_NIR_SYSTEM, "value": LEA_INS.value}}
    refused = api.post("/fhir", json=_with_list_subject(other), as_="bruno")
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "subject"
    same = {"identifier": {"system": INS_NIR_SYSTEM, "value": ALICE_INS.value}}
    assert api.post("/fhir", json=_with_list_subject(same), as_="bruno").status_code == 200
    two = provide_bundle(ALICE_INS, PDF)
    two["entry"].append(
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": two["entry"][0]["resource"]}
    )
    assert api.post("/fhir", json=two, as_="bruno").status_code == 400
