"""A professional's software, end to end over real HTTP with fhirpy: create a DMP, feed it
(ITI-65), find (ITI-67) and retrieve (ITI-68) the document, mask it, and check who still sees it."""

from __future__ import annotations

import base64
import uuid

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from dmp.domain.identifiers import INS_NIR_SYSTEM
from tests.e2e.fhir import FLAGS, document_reference, transaction, validate
from tests.factories import PDF
from tests.personas import ins

ZOE = ins("2690575123457")


def client(server: str, token: str) -> SyncFHIRClient:
    return SyncFHIRClient(f"{server}/fhir", authorization=f"Bearer {token}")


def test_a_document_journey_with_fhirpy(server, tokens, ctx):
    bruno, chloe = client(server, tokens["bruno"]), client(server, tokens["chloe"])
    by_ins = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "ins", "valueIdentifier": {"system": INS_NIR_SYSTEM, "value": ZOE.value}}
        ],
    }

    created = bruno.execute(
        "Patient/$dmp-create",
        data={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "ins", "valueIdentifier": {"system": INS_NIR_SYSTEM, "value": ZOE.value}},
                {"name": "family", "valueString": "Garnier"},
                {"name": "given", "valueString": "Zoé"},
                {"name": "birthDate", "valueDate": "1969-05-20"},
                {"name": "gender", "valueCode": "female"},
                {"name": "phone", "valueString": "06 12 34 56 78"},
                {"name": "brochureVersion", "valueString": ctx.brochure.version},
                {"name": "informed", "valueBoolean": True},
                {"name": "consent", "valueBoolean": True},
            ],
        },
    )
    validate(created)
    assert bruno.execute("Patient/$become-medecin-traitant", data=by_ins)
    assert chloe.execute("Patient/$declare-authorization", data=by_ins)

    search = chloe.resources("Patient").search(identifier=f"{INS_NIR_SYSTEM}|{ZOE.value}")
    [patient] = search.fetch()
    assert patient["name"][0]["family"] == "Garnier"

    binary_url = f"urn:uuid:{uuid.uuid4()}"
    bundle = transaction(
        (f"urn:uuid:{uuid.uuid4()}", document_reference(ZOE, binary_url=binary_url)),
        (
            binary_url,
            {
                "resourceType": "Binary",
                "contentType": "application/pdf",
                "data": base64.b64encode(PDF).decode(),
            },
        ),
    )
    response = bruno.execute("", data=bundle)
    validate(response)
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 2

    query = {"patient.identifier": f"{INS_NIR_SYSTEM}|{ZOE.value}", "status": "current"}
    [found] = chloe.resources("DocumentReference").search(**query).fetch()
    validate(found.serialize())
    url = found["content"][0]["attachment"]["url"]
    raw = requests.get(url, headers={"Authorization": f"Bearer {tokens['chloe']}"}, timeout=30)
    assert raw.content == PDF
    assert raw.headers["Content-Type"] == "application/pdf"
    binary = chloe.get("Binary", url.rsplit("/", 1)[1])
    validate(binary)
    assert base64.b64decode(binary["data"]) == PDF

    masked = bruno.execute(
        f"DocumentReference/{found.id}",
        method="patch",
        data=[
            {
                "op": "add",
                "path": "/securityLabel/-",
                "value": {"system": FLAGS, "code": "MASQUE_PS"},
            }
        ],
    )
    validate(masked)
    assert chloe.resources("DocumentReference").search(**query).fetch() == []
    with pytest.raises(ResourceNotFound):
        chloe.get("DocumentReference", found.id)
    [still] = bruno.resources("DocumentReference").search(**query).fetch()
    assert still.id == found.id
