"""Content negotiation (q-values, fhirVersion, _format), FHIR XML out and in (ITI-65 in XML, read
back in XML and JSON), and text contents served as such (both backends)."""

from __future__ import annotations

import base64
import hashlib
import uuid

from tests.e2e.fhir import (
    FHIR_JSON,
    FHIR_XML,
    created_id,
    document_reference,
    ins_token,
    provide_bundle,
    to_xml,
    transaction,
    validate_xml,
)
from tests.e2e.test_documents_api import provide
from tests.factories import PDF
from tests.personas import ALICE_INS

TEXT = "Compte rendu : tension 12/8, à revoir dans un mois.\n".encode()


def _binary(api, doc_id):
    return f"/fhir/Binary/{doc_id}.0"


def test_accept_with_q_values_chooses_the_binary_resource_or_the_bytes(api):
    url = _binary(api, provide(api))
    cases = {
        "application/fhir+json, */*;q=0.1": FHIR_JSON,
        "application/pdf;q=0.5, application/fhir+json;q=0.4": "application/pdf",
        "*/*": "application/pdf",
        "application/fhir+xml": FHIR_XML,
        "application/fhir+json;fhirVersion=4.0, */*;q=0.2": FHIR_JSON,
    }
    for accept, wanted in cases.items():
        answer = api.get(url, as_="chloe", headers={"Accept": accept})
        assert answer.status_code == 200, accept
        assert answer.headers["content-type"].startswith(wanted), accept
    resource = api.get(url, as_="chloe", headers={"Accept": "application/fhir+json, */*;q=0.1"})
    assert resource.json()["resourceType"] == "Binary"
    assert base64.b64decode(resource.json()["data"]) == PDF
    xml = validate_xml(api.get(url, as_="chloe", headers={"Accept": FHIR_XML}).content)
    assert xml.data == PDF  # the model decodes base64Binary


def test_another_fhir_version_or_an_unknown_format_is_406(api):
    doc_id = provide(api)
    for url in (f"/fhir/DocumentReference/{doc_id}", _binary(api, doc_id), "/fhir/metadata"):
        old = api.get(
            url, as_="chloe", headers={"Accept": "application/fhir+json; fhirVersion=3.0"}
        )
        assert old.status_code == 406, url
        assert "Accept" in old.json()["issue"][0]["details"]["text"]
    unknown = api.get(
        f"/fhir/DocumentReference/{doc_id}", params={"_format": "turtle"}, as_="chloe"
    )
    assert unknown.status_code == 406
    search = {"patient.identifier": ins_token(ALICE_INS)}
    refused = api.get(
        "/fhir/DocumentReference", params=search, as_="chloe", headers={"Accept": "text/html"}
    )
    assert refused.status_code == 406


def test_format_parameter_wins_over_accept(api):
    doc_id = provide(api)
    url = f"/fhir/DocumentReference/{doc_id}"
    as_xml = api.get(url, params={"_format": "xml"}, as_="chloe", headers={"Accept": FHIR_JSON})
    assert as_xml.headers["content-type"].startswith(FHIR_XML)
    as_json = api.get(url, params={"_format": "json"}, as_="chloe", headers={"Accept": FHIR_XML})
    assert as_json.json()["id"] == doc_id
    binary = api.get(_binary(api, doc_id), params={"_format": "json"}, as_="chloe")
    assert binary.json()["resourceType"] == "Binary"


def test_every_resource_is_served_in_xml_too(api):
    doc_id = provide(api)
    xml = {"Accept": FHIR_XML}
    urls = [
        "/fhir/metadata",
        f"/fhir/DocumentReference/{doc_id}",
        f"/fhir/Patient/{doc_id.split('.')[0]}",
        f"/fhir/DocumentReference?patient.identifier={ins_token(ALICE_INS)}",
        f"/fhir/Patient?identifier={ins_token(ALICE_INS)}",
    ]
    for url in urls:
        answer = api.get(url, as_="chloe", headers=xml)
        assert answer.headers["content-type"].startswith(FHIR_XML), url
        validate_xml(answer.content)


def test_an_xml_bundle_round_trip(api, cast):
    bundle = provide_bundle(ALICE_INS, PDF, master="urn:oid:1.2.250.1.999.3.3")
    answer = api.post(
        "/fhir",
        content=to_xml(bundle),
        headers={"Content-Type": FHIR_XML, "Accept": FHIR_XML},
        as_="bruno",
    )
    assert answer.status_code == 200, answer.text
    response = validate_xml(answer.content)
    assert [e.response.status for e in response.entry] == ["201 Created"] * 3
    doc_id = response.entry[1].response.location.split("/", 1)[1]
    as_json = api.get(f"/fhir/DocumentReference/{doc_id}", as_="bruno").json()
    as_xml = validate_xml(
        api.get(
            f"/fhir/DocumentReference/{doc_id}", as_="bruno", headers={"Accept": FHIR_XML}
        ).content
    )
    assert as_json["masterIdentifier"]["value"] == as_xml.masterIdentifier.value
    assert as_json["masterIdentifier"]["value"] == "urn:oid:1.2.250.1.999.3.3"
    assert as_xml.content[0].attachment.size == len(PDF)
    assert api.get(_binary(api, doc_id), as_="bruno", headers={"Accept": "*/*"}).content == PDF


def test_a_long_content_in_xml_goes_through_the_spool(api):
    content = PDF + bytes(range(256)) * 400  # past 16 KiB in base64: kept on disk
    inline = document_reference(ALICE_INS, data=content, content_type="application/pdf")
    body = to_xml(transaction((f"urn:uuid:{uuid.uuid4()}", inline)))
    answer = api.post("/fhir", content=body, headers={"Content-Type": FHIR_XML}, as_="bruno")
    assert answer.status_code == 200, answer.text
    doc_id = created_id(answer)
    assert api.get(_binary(api, doc_id), as_="bruno", headers={"Accept": "*/*"}).content == content
    long_title = document_reference(ALICE_INS, data=PDF, title="t" * 20_000)
    refused = api.post(
        "/fhir",
        content=to_xml(transaction(("urn:uuid:1", long_title))),
        headers={"Content-Type": FHIR_XML},
        as_="bruno",
    )
    assert refused.status_code == 400


def test_an_invalid_xml_bundle_is_refused_in_french(api):
    bundle = provide_bundle(ALICE_INS, PDF)
    xml = to_xml(bundle).replace(
        b'<status value="current"/>', b'<status value="current"/><nope/>', 1
    )
    refused = api.post("/fhir", content=xml, headers={"Content-Type": FHIR_XML}, as_="bruno")
    assert refused.status_code == 400
    assert "Bundle XML invalide" in refused.json()["issue"][0]["details"]["text"]


def test_text_is_served_as_utf8_text_with_its_extension(api):
    bundle = transaction(
        (
            "urn:uuid:1",
            document_reference(ALICE_INS, data=TEXT, content_type="text/plain"),
        )
    )
    doc_id = created_id(api.post("/fhir", json=bundle, as_="bruno"))
    answer = api.get(_binary(api, doc_id), as_="bruno", headers={"Accept": "*/*"})
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["content-disposition"] == f'attachment; filename="{doc_id}.0.txt"'
    assert answer.text == TEXT.decode()
    pdf = api.get(_binary(api, provide(api)), as_="bruno", headers={"Accept": "*/*"})
    assert pdf.headers["content-disposition"].endswith('.0.pdf"')


def test_attachment_hash_is_the_sha1_beside_the_sha256(api):
    doc_id = provide(api)
    [content] = api.get(f"/fhir/DocumentReference/{doc_id}", as_="bruno").json()["content"]
    attachment = content["attachment"]
    assert (
        attachment["hash"]
        == base64.b64encode(hashlib.sha1(PDF, usedforsecurity=False).digest()).decode()
    )
    assert attachment["extension"][0]["valueString"] == hashlib.sha256(PDF).hexdigest()
