"""Versions and concurrency: meta, ETag and Last-Modified, If-None-Match (304), If-Match on
PATCH (412, nothing changed, the refusal audited), Prefer: return on ITI-65 and PATCH (both
backends)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from tests.e2e.fhir import FLAGS, provide_bundle
from tests.e2e.test_attacks import alice_history
from tests.e2e.test_documents_api import provide
from tests.factories import PDF
from tests.personas import ALICE_INS

MASK = [{"op": "add", "path": "/securityLabel/-", "value": {"system": FLAGS, "code": "MASQUE_PS"}}]
ARCHIVE = [
    {
        "op": "add",
        "path": "/extension/-",
        "value": {
            "url": "https://dmp.example.org/fhir/StructureDefinition/dmp-document-archived",
            "valueBoolean": True,
        },
    }
]


def _labels(doc):
    return [c["coding"][0]["code"] for c in doc["securityLabel"]]


def test_a_read_carries_its_version(api, clock):
    doc_id = provide(api)
    read = api.get(f"/fhir/DocumentReference/{doc_id}", as_="bruno")
    meta = read.json()["meta"]
    assert meta["versionId"] == "1"
    assert read.headers["etag"] == 'W/"1"'
    assert parsedate_to_datetime(read.headers["last-modified"]) == clock.now
    assert meta["lastUpdated"].startswith(clock.now.isoformat()[:19])


def test_if_none_match_is_304_while_the_version_holds(api, clock):
    doc_id = provide(api)
    url = f"/fhir/DocumentReference/{doc_id}"
    same = api.get(url, as_="bruno", headers={"If-None-Match": 'W/"1"'})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", 'W/"1"')
    clock.advance(minutes=5)
    assert api.patch(url, json=MASK, as_="bruno").status_code == 200
    changed = api.get(url, as_="bruno", headers={"If-None-Match": 'W/"1"'})
    assert changed.status_code == 200
    assert changed.json()["meta"]["versionId"] == "2"
    assert parsedate_to_datetime(changed.headers["last-modified"]) == clock.now


def test_a_stale_if_match_is_412_and_changes_nothing(api, ctx, cast):
    doc_id = provide(api)
    url = f"/fhir/DocumentReference/{doc_id}"
    masked = api.patch(url, json=MASK, as_="bruno", headers={"If-Match": 'W/"1"'})
    assert (masked.status_code, masked.headers["etag"]) == (200, 'W/"2"')
    stale = api.patch(url, json=ARCHIVE, as_="bruno", headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert "relisez" in stale.json()["issue"][0]["details"]["text"]
    after = api.get(url, as_="bruno").json()
    assert after["meta"]["versionId"] == "2"
    assert after["extension"][0]["valueBoolean"] is False  # not archived
    refusal = next(e for e in alice_history(ctx, cast) if e.action == "document.archive")
    assert (refusal.allowed, refusal.reason) == (False, "stale-version")
    current = api.patch(url, json=ARCHIVE, as_="bruno", headers={"If-Match": 'W/"2"'})
    assert current.status_code == 200
    assert current.json()["meta"]["versionId"] == "3"


def test_an_if_match_that_names_no_version_of_ours_is_412(api):
    doc_id = provide(api)
    url = f"/fhir/DocumentReference/{doc_id}"
    for tag in ('"abc"', "W/1", 'W/"0"'):
        assert api.patch(url, json=MASK, as_="bruno", headers={"If-Match": tag}).status_code == 412
    assert api.patch(url, json=MASK, as_="bruno", headers={"If-Match": "*"}).status_code == 200


def test_a_replacement_is_a_new_version_of_the_old_resource(api):
    old = provide(api)
    relates = {
        "relatesTo": [{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}]
    }
    new = provide(api, **relates)
    superseded = api.get(f"/fhir/DocumentReference/{old}", as_="bruno").json()
    assert (superseded["status"], superseded["meta"]["versionId"]) == ("superseded", "2")
    assert api.get(f"/fhir/DocumentReference/{new}", as_="bruno").json()["meta"]["versionId"] == "1"


def test_prefer_return_on_patch(api):
    doc_id = provide(api)
    url = f"/fhir/DocumentReference/{doc_id}"
    minimal = api.patch(url, json=MASK, as_="bruno", headers={"Prefer": "return=minimal"})
    assert (minimal.status_code, minimal.content, minimal.headers["etag"]) == (200, b"", 'W/"2"')
    told = api.patch(url, json=ARCHIVE, as_="bruno", headers={"Prefer": "return=OperationOutcome"})
    assert told.json()["resourceType"] == "OperationOutcome"
    assert "version 3" in told.json()["issue"][0]["details"]["text"]
    shown = api.get(url, as_="bruno").json()
    assert "MASQUE_PS" in _labels(shown)


def test_prefer_return_on_iti65(api):
    bundle = provide_bundle(ALICE_INS, PDF)
    minimal = api.post("/fhir", json=bundle, as_="bruno").json()
    assert all("resource" not in e for e in minimal["entry"])
    represented = api.post(
        "/fhir",
        json=provide_bundle(ALICE_INS, PDF),
        as_="bruno",
        headers={"Prefer": "return=representation"},
    ).json()
    kinds = [e.get("resource", {}).get("resourceType") for e in represented["entry"]]
    assert kinds == ["List", "DocumentReference", None]  # a Binary is read by ITI-68
    assert represented["entry"][1]["response"]["etag"] == 'W/"1"'
    outcomes = api.post(
        "/fhir",
        json=provide_bundle(ALICE_INS, PDF),
        as_="bruno",
        headers={"Prefer": "return=OperationOutcome"},
    ).json()
    assert all(
        e["response"]["outcome"]["resourceType"] == "OperationOutcome" for e in outcomes["entry"]
    )
