"""Bad input of any kind is a 4xx OperationOutcome, never a 500 (both backends)."""

from __future__ import annotations

import base64
import json
from html import unescape

from dmp.domain.identifiers import INS_NIR_SYSTEM
from tests.e2e.fhir import document_reference, ins_token, parameters, provide_bundle, transaction
from tests.factories import PDF
from tests.personas import ALICE_INS, ins

FHIR_JSON = "application/fhir+json"
JSON = {"Content-Type": FHIR_JSON}


def _bundle(**overrides):
    return transaction(("urn:uuid:1", document_reference(ALICE_INS, data=PDF, **overrides)))


MALFORMED = (
    (b"{not json", 400, "JSON mal formé"),
    (b"", 400, "vide"),
    (b"[" * 100_000, 400, "JSON"),
    (b'{"resourceType": "Patient"}', 400, "Bundle"),
    (b'{"resourceType": "Bundle", "type": "batch"}', 400, "transaction"),
    (b'{"resourceType": "Bundle", "type": "transaction", "entry": []}', 400, "DocumentReference"),
    (b'"\xff\xfe"', 400, "JSON"),
)


def test_malformed_transactions(api):
    for body, status, words in MALFORMED:
        response = api.post("/fhir", content=body, headers=JSON, as_="bruno")
        assert response.status_code == status, body[:40]
        assert words in response.json()["issue"][0]["details"]["text"], body[:40]


BAD_METADATA = (
    (_bundle(type_code="99999-9"), "type"),
    (
        _bundle(category=[{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "31"}]}]),
        "category",
    ),
    (_bundle(labels=("SECRET",)), "security"),
    (_bundle(master="x" * 65), "master-identifier"),
    (_bundle(status="superseded"), "status"),
    (_bundle(content_type="application/msword"), "format"),
    (_bundle(title="t" * 20_000), "json"),
    (transaction(("urn:uuid:1", document_reference(None, data=PDF))), "document"),
    (
        transaction(("urn:uuid:1", document_reference(ALICE_INS, binary_url="urn:uuid:2"))),
        "content",
    ),
)


def test_bad_document_metadata(api):
    for bundle, code in BAD_METADATA:
        response = api.post("/fhir", json=bundle, as_="bruno")
        assert response.status_code == 400, (code, response.text)
        assert response.json()["issue"][0]["details"]["coding"][0]["code"] == code


def test_bad_base64(api):
    for data in ("not base64!", "QQ==QUJD", "QUJDRA", "QUJD\\u0041"):
        bundle = _bundle()
        bundle["entry"][0]["resource"]["content"][0]["attachment"]["data"] = data
        response = api.post("/fhir", json=bundle, as_="bruno")
        assert response.status_code == 400, (data, response.text)


def test_long_base64_with_escaped_slashes_and_line_breaks_is_accepted(api):
    content = PDF + bytes(range(256)) * 200  # long enough to stay on disk, with '/' in base64
    encoded = base64.encodebytes(content).decode()  # line breaks every 76 characters
    bundle = provide_bundle(ALICE_INS, content)
    bundle["entry"][2]["resource"]["data"] = "@@"
    escaped = encoded.replace("\n", "\\n").replace("/", "\\/")  # as some JSON writers do
    text = json.dumps(bundle).replace('"@@"', f'"{escaped}"')
    response = api.post("/fhir", content=text.encode(), headers=JSON, as_="bruno")
    assert response.status_code == 200, response.text
    location = response.json()["entry"][2]["response"]["location"]
    assert api.get(f"/fhir/{location}", as_="bruno", headers={"Accept": "*/*"}).content == content
    resource = api.get(f"/fhir/{location}", as_="bruno", headers={"Accept": FHIR_JSON})
    assert base64.b64decode(resource.json()["data"]) == content


def test_wrong_media_type_is_415(api):
    response = api.post(
        "/fhir", content=b"<Bundle/>", headers={"Content-Type": "application/msword"}, as_="bruno"
    )
    assert response.status_code == 415


def test_xml_that_is_not_a_fhir_bundle_is_a_400_in_french(api):
    for body, words in (
        (b"<Bundle/>", "espace de noms http://hl7.org/fhir"),
        (b"<Bundle xmlns='http://hl7.org/fhir'><type value='transaction'/>", "ligne 1"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><Bundle xmlns="http://hl7.org/fhir"/>', "DTD"),
    ):
        headers = {"Content-Type": "application/fhir+xml"}
        response = api.post("/fhir", content=body, headers=headers, as_="bruno")
        assert response.status_code == 400, body
        assert words in response.json()["issue"][0]["details"]["text"], body


def test_unknown_route_and_method(api):
    assert api.get("/fhir/Observation", as_="bruno").status_code == 404
    page = api.client.get("/nowhere")  # outside the API: the portal's French page
    assert (page.status_code, page.headers["content-type"]) == (404, "text/html; charset=utf-8")
    assert "Cette page n'existe pas" in unescape(page.text)
    response = api.request("DELETE", "/fhir/Patient", as_="bruno")
    assert response.status_code == 405


def test_bad_patient_searches(api):
    for params in ({}, {"identifier": "123"}, {"identifier": "urn:oid:1.2.3|2850375123456"}):
        assert api.get("/fhir/Patient", params=params, as_="bruno").status_code == 400, params


BAD_SEARCHES = (
    {},
    {"patient": "Patient/nope"},
    {"patient.identifier": ins_token(ALICE_INS), "patient": "Patient/x"},
    {"patient.identifier": ins_token(ALICE_INS), "status": "deleted"},
    {"patient.identifier": ins_token(ALICE_INS), "archived": "maybe"},
    {"patient.identifier": ins_token(ALICE_INS), "creation": "ne2026-01-01"},
    {"patient.identifier": ins_token(ALICE_INS), "creation": "lt0001-01-01"},
    {"patient.identifier": ins_token(ALICE_INS), "_count": "-1"},
    {"patient.identifier": ins_token(ALICE_INS), "_count": "many"},
    {"patient.identifier": ins_token(ALICE_INS), "_dmp-access-mode": "panic"},
)


def test_bad_document_searches(api):
    for params in BAD_SEARCHES:
        response = api.get("/fhir/DocumentReference", params=params, as_="bruno")
        assert response.status_code == 400, (params, response.text)


BAD_PARAMETERS = (
    {"resourceType": "Bundle"},
    {"resourceType": "Parameters", "parameter": "x"},
    parameters(ins="123"),
    parameters(ins={"valueIdentifier": {"system": INS_NIR_SYSTEM}}),
    parameters(ins=ALICE_INS.value, reason=["a", "b"]),
    parameters(ins=ALICE_INS.value),
)


def test_bad_operation_parameters(api):
    for body in BAD_PARAMETERS:
        response = api.post("/fhir/Patient/$dmp-close", json=body, as_="bruno")
        assert response.status_code == 400, body


def test_an_oversized_operation_body_is_413(api):
    body = parameters(ins=ALICE_INS.value, reason="x" * (2 * 1024 * 1024))
    assert api.post("/fhir/Patient/$dmp-close", json=body, as_="bruno").status_code == 413


def test_a_too_long_email_is_refused_not_crashing(api, ctx):
    body = parameters(
        ins=ins("1690512345678").value,
        family="A",
        given="B",
        birthDate={"valueDate": "1969-05-20"},
        gender={"valueCode": "male"},
        email="a@" + "b" * 300 + ".fr",
        brochureVersion=ctx.brochure.version,
        informed=True,
        consent=True,
    )
    response = api.post("/fhir/Patient/$dmp-create", json=body, as_="bruno")
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "contact"
