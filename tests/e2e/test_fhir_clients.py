"""Two FHIR clients nobody on this project wrote, used as integrators use them, unchanged, over
real HTTP: SMART on FHIR's ``fhirclient`` (whose models parse every answer strictly) and
``fhirpy``. Read the CapabilityStatement, search with every MHD parameter, follow ``subject``
to the Patient, read, fetch the content as a Binary resource and as bytes, page through the
``next`` links, PATCH with ``If-Match``, ``refresh()`` (both backends)."""

from __future__ import annotations

import base64

import pytest
import requests
from fhirclient import client as smart
from fhirclient.models.binary import Binary
from fhirclient.models.documentreference import DocumentReference
from fhirclient.models.list import List as SubmissionSet
from fhirclient.models.patient import Patient
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound

from dmp.domain.identifiers import INS_NIR_SYSTEM, RPPS_SYSTEM
from tests.e2e.fhir import FLAGS, provide_bundle
from tests.factories import PDF
from tests.personas import ALICE_INS

INS = f"{INS_NIR_SYSTEM}|{ALICE_INS.value}"
MASK = [{"op": "add", "path": "/securityLabel/-", "value": {"system": FLAGS, "code": "MASQUE_PS"}}]


def _smart(server: str, token: str) -> smart.FHIRClient:
    connection = smart.FHIRClient(settings={"app_id": "dmp-tests", "api_base": f"{server}/fhir"})
    connection.server.session.headers["Authorization"] = f"Bearer {token}"
    return connection


def _provide(server: str, token: str, count: int) -> list[str]:
    """Documents deposited by ITI-65, as any software would post a Bundle."""
    locations = []
    for n in range(count):
        bundle = provide_bundle(ALICE_INS, PDF, master=f"urn:oid:1.2.250.1.999.5.{n}")
        answer = requests.post(
            f"{server}/fhir",
            json=bundle,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        locations += [e["response"]["location"] for e in answer.json()["entry"]]
    return locations


def _mhd_searches(cast) -> list[dict[str, str]]:
    """One search per MHD ITI-67 parameter (each finds the three documents)."""
    return [
        {"patient.identifier": INS},
        {"patient.identifier": INS, "status": "current"},
        {"patient.identifier": INS, "type": "http://loinc.org|11488-4"},
        {"patient.identifier": INS, "category": "10"},
        {"patient.identifier": INS, "security-label": "N"},
        {"patient.identifier": INS, "creation": "ge2026-03-01"},
        {"patient.identifier": INS, "period": "le2026-12-31"},
        {"patient.identifier": INS, "date": "ge2026-01-01"},
        {"patient.identifier": INS, "facility": "SA52"},
        {"patient.identifier": INS, "setting": "AMBULATOIRE"},
        {"patient.identifier": INS, "format": "urn:ihe:iti:xds:2017:mimeTypeSufficient"},
        {"patient.identifier": INS, "author.identifier": f"{RPPS_SYSTEM}|{cast.bruno.rpps}"},
        {"patient.identifier": INS, "author.given": "Bruno"},
        {"patient.identifier": INS, "author.family": "Martin"},
    ]


def test_smart_on_fhir_client(server, tokens, cast):
    locations = _provide(server, tokens["bruno"], 3)
    fhir = _smart(server, tokens["chloe"])
    statement = fhir.server.capabilityStatement
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} >= {"DocumentReference", "Patient"}
    for query in _mhd_searches(cast):
        found = list(DocumentReference.where(struct=query).perform_resources_iter(fhir.server))
        assert len(found) == 3, query
    for query in (
        {"patient.identifier": INS, "event": "x"},
        {"patient.identifier": INS, "related": "x"},
    ):
        assert list(DocumentReference.where(struct=query).perform_resources_iter(fhir.server)) == []
    pages = list(
        DocumentReference.where(struct={"patient.identifier": INS, "_count": "2"}).perform_iter(
            fhir.server
        )
    )
    assert [len(page.entry) for page in pages] == [2, 1]
    [doc, *_] = [e.resource for e in pages[0].entry]
    patient = Patient.read(doc.subject.reference.split("/")[1], fhir.server)
    assert patient.name[0].family == "Dupont"
    read = DocumentReference.read(doc.id, fhir.server)
    assert read.masterIdentifier.value == doc.masterIdentifier.value
    binary_id = read.content[0].attachment.url.rsplit("/", 1)[1]
    binary = Binary.read(binary_id, fhir.server)
    assert base64.b64decode(binary.data) == PDF
    raw = fhir.server.request_data(f"Binary/{binary_id}", headers={"Accept": "*/*"})
    assert raw == PDF
    listed = next(loc for loc in locations if loc.startswith("List/"))
    assert SubmissionSet.read(listed.split("/", 1)[1], fhir.server).entry


def test_fhirpy(server, tokens, cast):
    _provide(server, tokens["bruno"], 3)
    url = f"{server}/fhir"
    chloe = SyncFHIRClient(url, authorization=f"Bearer {tokens['chloe']}")
    assert chloe.execute("metadata", method="get")["fhirVersion"] == "4.0.1"
    for query in _mhd_searches(cast):
        assert len(chloe.resources("DocumentReference").search(**query).fetch_all()) == 3, query
    search = chloe.resources("DocumentReference").search(**{"patient.identifier": INS}).limit(2)
    assert len(search.fetch()) == 2
    every = search.fetch_all()  # follows the next links
    assert len(every) == 3
    doc = every[0]
    patient = doc["subject"].to_resource()
    assert patient["name"][0]["family"] == "Dupont"
    binary = chloe.get("Binary", doc["content"][0]["attachment"]["url"].rsplit("/", 1)[1])
    assert base64.b64decode(binary["data"]) == PDF
    raw = requests.get(
        doc["content"][0]["attachment"]["url"],
        headers={"Authorization": f"Bearer {tokens['chloe']}", "Accept": "*/*"},
        timeout=30,
    )
    assert raw.content == PDF
    assert doc.refresh()["meta"]["versionId"] == "1"
    bruno = SyncFHIRClient(
        url, authorization=f"Bearer {tokens['bruno']}", extra_headers={"If-Match": 'W/"1"'}
    )
    masked = bruno.execute(f"DocumentReference/{doc.id}", method="patch", data=MASK)
    assert masked["meta"]["versionId"] == "2"
    with pytest.raises(MultipleResourcesFound):  # how fhirpy reports 412
        bruno.execute(f"DocumentReference/{doc.id}", method="patch", data=MASK)
    mine = SyncFHIRClient(url, authorization=f"Bearer {tokens['bruno']}")
    fresh = mine.reference("DocumentReference", doc.id).to_resource()
    assert fresh["meta"]["versionId"] == "2"
    assert fresh.refresh()["meta"]["versionId"] == "2"
