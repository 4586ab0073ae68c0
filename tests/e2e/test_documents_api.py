"""ITI-65, ITI-67, ITI-68 and PATCH through the API (both backends)."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

from tests.e2e.fhir import (
    ARCHIVED,
    FHIR_JSON,
    FLAGS,
    RPPS,
    created_id,
    document_reference,
    ins_token,
    provide_bundle,
    transaction,
)
from tests.factories import CDA, PDF
from tests.personas import ALICE_INS


def provide(api, who="bruno", content=PDF, **kwargs):
    response = api.post("/fhir", json=provide_bundle(ALICE_INS, content, **kwargs), as_=who)
    assert response.status_code == 200, response.text
    return created_id(response)


def find(api, who="bruno", headers=None, **params):
    if "patient" not in params:
        params.setdefault("patient.identifier", ins_token(ALICE_INS))
    response = api.get("/fhir/DocumentReference", params=params, as_=who, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def ids_of(bundle):
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_provide_then_find_read_and_retrieve(api, cast):
    doc_id = provide(api, master="urn:oid:1.2.250.1.999.1.1")
    bundle = find(api, who="chloe")
    assert bundle["total"] == 1
    assert ids_of(bundle) == [doc_id]
    doc = api.get(f"/fhir/DocumentReference/{doc_id}", as_="chloe").json()
    assert doc["masterIdentifier"]["value"] == "urn:oid:1.2.250.1.999.1.1"
    assert doc["status"] == "current"
    assert doc["type"]["coding"][0]["code"] == "11488-4"
    assert doc["category"][0]["coding"][0]["code"] == "10"
    assert doc["author"] == [{"reference": "#author"}]
    contained = {r["id"]: r for r in doc["contained"]}
    assert contained["author"]["practitioner"]["reference"] == "#practitioner"
    assert contained["practitioner"]["identifier"] == [{"system": RPPS, "value": cast.bruno.rpps}]
    assert doc["context"]["period"]["start"].startswith("2026-03-01T08:30:00")
    [content] = doc["content"]
    assert content["attachment"]["size"] == len(PDF)
    sha = hashlib.sha256(PDF).hexdigest()
    assert content["attachment"]["extension"][0]["valueString"] == sha
    url = content["attachment"]["url"]
    raw = api.get(url, as_="chloe", headers={"Accept": "*/*"})
    assert raw.status_code == 200
    assert raw.content == PDF
    assert raw.headers["content-type"] == "application/pdf"
    assert raw.headers["etag"] == f'"{sha}"'
    digest = base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    assert raw.headers["repr-digest"] == f"sha-256=:{digest}:"
    resource = api.get(url, as_="chloe", headers={"Accept": FHIR_JSON})
    assert resource.headers["content-type"].startswith(FHIR_JSON)
    assert base64.b64decode(resource.json()["data"]) == PDF


def test_inline_data_and_a_cda(api):
    bundle = transaction(
        (
            f"urn:uuid:{uuid.uuid4()}",
            document_reference(
                ALICE_INS,
                data=CDA,
                content_type="text/xml",
                type_code="11490-0",
                title="Lettre de liaison",
            ),
        )
    )
    response = api.post("/fhir", json=bundle, as_="bruno")
    assert response.status_code == 200, response.text
    doc_id = created_id(response)
    binary = api.get(f"/fhir/Binary/{doc_id}.0", as_="bruno", headers={"Accept": "text/xml"})
    assert binary.content == CDA
    assert binary.headers["content-type"] == "text/xml"


def test_search_filters_and_paging(api, cast):
    consultation = provide(api, type_code="11488-4")
    summary = provide(api, type_code="60591-5", title="Synthèse")
    prescription = provide(api, type_code="57833-6", title="Ordonnance")
    assert set(ids_of(find(api))) == {consultation, summary, prescription}
    assert ids_of(find(api, type="http://loinc.org|60591-5")) == [summary]
    assert ids_of(find(api, category="42")) == [prescription]
    assert set(ids_of(find(api, **{"author.identifier": f"{RPPS}|{cast.bruno.rpps}"}))) == {
        consultation,
        summary,
        prescription,
    }
    assert find(api, **{"author.identifier": cast.chloe.rpps})["total"] == 0
    assert find(api, creation="ge2026-03-01")["total"] == 3
    assert find(api, creation="lt2026-03-01")["total"] == 0
    assert find(api, period=["ge2026-01-01", "le2026-12-31"])["total"] == 3
    assert find(api, **{"security-label": "N"})["total"] == 3
    first = find(api, _count=2)
    assert first["total"] == 3
    assert len(first["entry"]) == 2
    [next_link] = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = api.get(next_link, as_="bruno").json()
    assert len(second["entry"]) == 1
    assert set(ids_of(first) + ids_of(second)) == {consultation, summary, prescription}
    patient_id = consultation.split(".")[0]
    assert find(api, patient=f"Patient/{patient_id}")["total"] == 3


def test_the_profession_matrix_applies_to_the_nurse(api):
    provide(api, type_code="18748-4", title="Imagerie")  # class 31: not for nurses
    provide(api, type_code="11488-4")
    assert find(api, who="chloe")["total"] == 1
    assert find(api, who="bruno")["total"] == 2


def test_samu_regulation_reads_with_a_justification(api):
    provide(api)
    samu = {"X-DMP-Access-Mode": "samu", "X-DMP-Justification": "Appel%20au%2015"}
    assert find(api, who="samuel", headers=samu)["total"] == 1
    params = {"patient.identifier": ins_token(ALICE_INS)}
    refused = api.get("/fhir/DocumentReference", params=params, as_="damien", headers=samu)
    # Not a regulator: answered as for a DMP that does not exist, an empty searchset.
    assert (refused.status_code, refused.json()["total"]) == (200, 0)
    assert refused.json()["entry"][0]["search"]["mode"] == "outcome"


def test_mask_with_json_patch_then_unmask_is_the_patients_right(api):
    doc_id = provide(api)
    masked = api.patch(
        f"/fhir/DocumentReference/{doc_id}",
        as_="bruno",
        headers={"Content-Type": "application/json-patch+json"},
        json=[
            {
                "op": "add",
                "path": "/securityLabel/-",
                "value": {"system": FLAGS, "code": "MASQUE_PS"},
            }
        ],
    )
    assert masked.status_code == 200, masked.text
    codes = [c["coding"][0]["code"] for c in masked.json()["securityLabel"]]
    assert "MASQUE_PS" in codes
    assert find(api, who="chloe")["total"] == 0
    assert api.get(f"/fhir/DocumentReference/{doc_id}", as_="chloe").status_code == 404
    unmask = [
        {"op": "test", "path": "/securityLabel/1", "value": {"system": FLAGS, "code": "MASQUE_PS"}},
        {"op": "remove", "path": "/securityLabel/1"},
    ]
    refused = api.patch(f"/fhir/DocumentReference/{doc_id}", as_="bruno", json=unmask)
    assert refused.status_code == 403, refused.text


def test_hide_from_patient_reveal_archive_and_delete_with_fhirpath_patch(api):
    doc_id = provide(api)
    url = f"/fhir/DocumentReference/{doc_id}"

    def fhirpath(**parts):
        return {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "operation",
                    "part": [{"name": name, **value} for name, value in parts.items()],
                }
            ],
        }

    hide = fhirpath(
        type={"valueCode": "add"},
        path={"valueString": "DocumentReference"},
        name={"valueString": "securityLabel"},
        value={"valueCoding": {"system": FLAGS, "code": "INVISIBLE_PATIENT"}},
    )
    assert api.patch(url, json=hide, as_="bruno").status_code == 200
    reveal = fhirpath(
        type={"valueCode": "delete"},
        path={"valueString": "DocumentReference.securityLabel.where(code='INVISIBLE_PATIENT')"},
    )
    revealed = api.patch(url, json=reveal, as_="bruno").json()
    assert "INVISIBLE_PATIENT" not in [c["coding"][0]["code"] for c in revealed["securityLabel"]]
    archive = [
        {"op": "add", "path": "/extension/-", "value": {"url": ARCHIVED, "valueBoolean": True}}
    ]
    archived = api.patch(url, json=archive, as_="bruno").json()
    assert archived["status"] == "current"
    assert archived["extension"][0] == {"url": ARCHIVED, "valueBoolean": True}
    assert find(api)["total"] == 0
    assert ids_of(find(api, archived="true")) == [doc_id]
    assert find(api, archived="true,false")["total"] == 1
    delete = fhirpath(
        type={"valueCode": "replace"},
        path={"valueString": "DocumentReference.status"},
        value={"valueCode": "entered-in-error"},
    )
    assert api.patch(url, json=delete, as_="bruno").status_code == 200
    assert find(api, archived="true,false")["total"] == 0
    assert find(api, status="entered-in-error")["total"] == 0
    assert api.get(url, as_="bruno").status_code == 404


def test_replace_supersedes_the_old_version(api):
    old = provide(api)
    reference = {
        "relatesTo": [{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}]
    }
    new = provide(api, **reference)
    assert ids_of(find(api)) == [new] or set(ids_of(find(api))) == {old, new}
    assert ids_of(find(api, status="current")) == [new]
    assert ids_of(find(api, status="superseded")) == [old]
    doc = api.get(f"/fhir/DocumentReference/{new}", as_="bruno").json()
    assert doc["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{old}"
    assert (
        doc["identifier"][1]["value"]
        == api.get(f"/fhir/DocumentReference/{old}", as_="bruno").json()["identifier"][1]["value"]
    )


UNSUPPORTED_PATCHES = (
    ([{"op": "replace", "path": "/description", "value": "x"}], 422),
    ([{"op": "add", "path": "/securityLabel/-", "value": {"code": "V"}}], 422),
    ([], 422),
    ({"resourceType": "Patient"}, 400),
    ("not a patch", 400),
)


def test_unsupported_patches(api):
    doc_id = provide(api)
    for patch, status in UNSUPPORTED_PATCHES:
        response = api.patch(f"/fhir/DocumentReference/{doc_id}", json=patch, as_="bruno")
        assert response.status_code == status, patch


def test_capability_statement_and_openapi(api):
    capability = api.get("/fhir/metadata").json()
    assert capability["fhirVersion"] == "4.0.1"
    [rest] = capability["rest"]
    types = {r["type"] for r in rest["resource"]}
    assert types == {"Patient", "DocumentReference", "Binary", "List"}
    assert "dmp-document-archived" in rest["documentation"]
    # French prose for integrators: no module of ours, and the MHD context's decision told.
    assert not re.search(r"\b[a-z_]+\.py\b|dmp\.(entrypoints|services|domain)|``", str(capability))
    assert (
        "context.facilityType et context.practiceSetting sont toujours rendus"
        in (rest["documentation"])
    )
    openapi = api.client.get("/openapi.json").json()
    assert "/fhir/DocumentReference/{id}" in openapi["paths"]
