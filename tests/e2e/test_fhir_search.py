"""References resolve (Patient/<id>), strict ITI-67 search with the MHD parameters, POST
_search, and a searchset for a DMP one may not open that looks like one for a DMP that does not
exist (both backends)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from dmp.services import authorizations
from dmp.services.directory import issue_token
from tests.e2e.fhir import LOINC, RPPS, document_reference, ins_token, refused_search, transaction
from tests.e2e.test_attacks import alice_history
from tests.e2e.test_documents_api import find, ids_of, provide
from tests.factories import PDF
from tests.personas import ALICE_INS, ins

NO_DMP = ins("1690512345678")
STRICT = {"Prefer": "handling=strict"}
SUBSETTED = "SUBSETTED"


def _self(bundle):
    return next(link["url"] for link in bundle["link"] if link["relation"] == "self")


# --- 1. references resolve ------------------------------------------------------------------------


def test_the_subject_of_a_document_resolves_to_its_patient(api, ctx, cast):
    doc_id = provide(api)
    doc = api.get(f"/fhir/DocumentReference/{doc_id}", as_="chloe").json()
    reference = doc["subject"]["reference"]
    patient = api.get(f"/fhir/{reference}", as_="chloe")
    assert patient.status_code == 200
    body = patient.json()
    assert (body["resourceType"], body["id"]) == ("Patient", reference.split("/")[1])
    assert body["name"][0]["family"] == "Dupont"
    assert body["identifier"][0]["value"] == ALICE_INS.value
    entry = next(e for e in alice_history(ctx, cast) if e.action == "record.lookup")
    assert (entry.allowed, entry.actor_label) == (True, "Chloé Bernard")


def test_a_patient_one_may_not_open_is_a_404_like_an_unknown_one(api, ctx, cast):
    patient_id = provide(api).split(".")[0]
    refused = api.get(f"/fhir/Patient/{patient_id}", as_="damien")
    unknown = api.get("/fhir/Patient/aaaaaaaaaaaaaaaaaaaaaaaaaa", as_="damien")
    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == unknown.json()
    entry = next(e for e in alice_history(ctx, cast) if e.action == "record.lookup")
    assert (entry.allowed, entry.reason) == (False, "not-authorized")


def test_a_patient_search_by_id_answers_as_the_read(api):
    patient_id = provide(api).split(".")[0]
    found = api.get("/fhir/Patient", params={"_id": patient_id}, as_="chloe").json()
    assert found["total"] == 1
    assert found["entry"][0]["fullUrl"].endswith(f"/fhir/Patient/{patient_id}")
    assert refused_search(api.get("/fhir/Patient", params={"_id": patient_id}, as_="damien"))


# --- 9. no DMP and not allowed answer alike -------------------------------------------------------


def test_a_search_of_a_dmp_one_may_not_open_answers_as_one_without_dmp(api):
    provide(api)
    refused = api.get("/fhir/DocumentReference", params=_by(ALICE_INS), as_="damien")
    absent = api.get("/fhir/DocumentReference", params=_by(NO_DMP), as_="damien")
    assert refused_search(refused)
    assert refused_search(absent)
    assert _without_self(refused.json()) == _without_self(absent.json())


def _by(patient) -> dict[str, str]:
    return {"patient.identifier": ins_token(patient)}


def _without_self(bundle):
    return {k: v for k, v in bundle.items() if k != "link"}


# --- 2. strict search -----------------------------------------------------------------------------


def test_an_unknown_parameter_is_ignored_or_refused_by_name(api):
    provide(api)
    params = {**_by(ALICE_INS), "foo": "bar", "type": "11488-4"}
    lenient = api.get("/fhir/DocumentReference", params=params, as_="bruno")
    assert lenient.status_code == 200
    query = parse_qs(urlsplit(_self(lenient.json())).query)
    assert "foo" not in query
    assert query["type"] == ["11488-4"]
    strict = api.get("/fhir/DocumentReference", params=params, as_="bruno", headers=STRICT)
    assert strict.status_code == 400
    text = strict.json()["issue"][0]["details"]["text"]
    assert "foo" in text
    assert "type" not in text.split("Paramètres pris en charge")[0]


def test_identifier_and_id(api):
    doc_id = provide(api, master="urn:oid:1.2.250.1.999.7.7")
    other = provide(api)
    assert find(api, identifier="urn:oid:1.2.250.1.999.7.7")["total"] == 1
    assert find(api, identifier="urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.7.7")["total"] == 1
    assert find(api, identifier="urn:oid:1.2.250.1.999.0.0")["total"] == 0
    doc = api.get(f"/fhir/DocumentReference/{doc_id}", as_="bruno").json()
    own = doc["identifier"][0]["value"]
    assert ids_of(find(api, identifier=own)) == [doc_id]
    by_id = api.get("/fhir/DocumentReference", params={"_id": other}, as_="bruno").json()
    assert ids_of(by_id) == [other]
    both = {"_id": f"{doc_id},{other}", "status": "current"}
    assert set(ids_of(api.get("/fhir/DocumentReference", params=both, as_="bruno").json())) == {
        doc_id,
        other,
    }


def test_summary_count_elements_and_sort(api, clock):
    first = provide(api, type_code="11488-4")
    clock.advance(minutes=1)  # the second is the newer
    second = provide(api, type_code="60591-5", title="Synthèse")
    counted = find(api, _summary="count")
    assert (counted["total"], "entry" in counted) == (2, False)
    assert ids_of(find(api, _sort="date")) == [first, second]
    assert ids_of(find(api, _sort="-date")) == [second, first]
    assert ids_of(find(api)) == [second, first]  # -date by default
    [entry, _] = find(api, _elements="type")["entry"]
    resource = entry["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "status", "content", "type"}
    assert resource["meta"]["tag"][0]["code"] == SUBSETTED
    by_title = {**_by(ALICE_INS), "_sort": "title"}
    assert api.get("/fhir/DocumentReference", params=by_title, as_="bruno").status_code == 400


def test_the_mhd_parameters(api, ctx, cast):
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    api.tokens["hugo"] = issue_token(ctx, cast.hugo.rpps, finess=cast.chu.finess).token
    provide(api, type_code="11488-4")
    given = {"context": {"facilityType": {"coding": [{"code": "SA07"}]}}}
    clinic = provide(api, "hugo", type_code="60591-5", title="Synthèse", **given)
    assert ids_of(find(api, facility="SA07")) == [clinic]
    assert find(api, facility="urn:oid:1.2.250.1.71.4.2.4|SA52")["total"] == 1
    assert ids_of(find(api, setting="ETABLISSEMENT")) == [clinic]
    assert find(api, setting="AMBULATOIRE")["total"] == 1
    assert find(api, format="urn:ihe:iti:xds:2017:mimeTypeSufficient")["total"] == 2
    assert find(api, format="urn:ihe:iti:xds-sd:pdf:2008")["total"] == 0
    assert find(api, event="http://snomed.info/sct|1234")["total"] == 0
    assert find(api, related="DocumentReference/x")["total"] == 0
    assert ids_of(find(api, **{"author.family": "roux"})) == [clinic]
    assert ids_of(find(api, **{"author.given": "HUG"})) == [clinic]
    assert find(api, **{"author.family": "mart"})["total"] == 1
    assert find(api, **{"author.given": "zoé"})["total"] == 0
    assert find(api, **{"author.identifier": f"{RPPS}|{cast.hugo.rpps}"})["total"] == 1
    assert find(api, date="ge2026-03-02")["total"] == 2
    assert find(api, date="lt2026-03-02")["total"] == 0
    assert find(api, type=f"{LOINC}|11488-4", category="10")["total"] == 1


def test_tokens_repeated_are_an_and(api):
    provide(api, type_code="11488-4")
    assert find(api, type=["11488-4,60591-5", "11488-4"])["total"] == 1
    assert find(api, type=["11488-4", "60591-5"])["total"] == 0


def test_post_search_works_like_get(api):
    provide(api, type_code="11488-4")
    provide(api, type_code="60591-5", title="Synthèse")
    form = {**_by(ALICE_INS), "type": "60591-5"}
    posted = api.post("/fhir/DocumentReference/_search", data=form, as_="bruno")
    assert posted.status_code == 200, posted.text
    got = find(api, type="60591-5")
    assert ids_of(posted.json()) == ids_of(got)
    assert parse_qs(urlsplit(_self(posted.json())).query) == parse_qs(urlsplit(_self(got)).query)
    strict = api.post(
        "/fhir/DocumentReference/_search", data={**form, "bar": "1"}, as_="bruno", headers=STRICT
    )
    assert strict.status_code == 400
    assert "bar" in strict.json()["issue"][0]["details"]["text"]


def test_paging_links_keep_only_known_parameters(api):
    for _ in range(3):
        provide(api)
    first = find(api, _count=2, foo="x")
    [next_link] = [link["url"] for link in first["link"] if link["relation"] == "next"]
    assert "foo" not in next_link
    second = api.get(next_link, as_="bruno").json()
    assert len(second["entry"]) == 1


def test_a_bundle_for_two_patients_is_refused(api):
    bundle = transaction(
        ("urn:uuid:1", document_reference(ALICE_INS, data=PDF)),
        ("urn:uuid:2", document_reference(NO_DMP, data=PDF)),
    )
    assert api.post("/fhir", json=bundle, as_="bruno").status_code == 400
