"""Patient lookup by INS and the operations on a DMP, through the API (both backends)."""

from __future__ import annotations

from dmp.domain.identifiers import INS_NIR_SYSTEM
from tests.e2e.fhir import ins_token, parameters
from tests.personas import ALICE_INS, ins

STATE = "https://dmp.example.org/fhir/StructureDefinition/dmp-record-state"
NEW_INS = ins("1690512345678")


def _patient(bundle: dict) -> dict:
    [entry] = bundle["entry"]
    return entry["resource"]


def _state(patient: dict) -> dict:
    [state] = [e for e in patient["extension"] if e["url"] == STATE]
    return {
        s["url"]: next(v for k, v in s.items() if k.startswith("value")) for s in state["extension"]
    }


def create_parameters(ctx, ins_value=NEW_INS, **overrides):
    values = {
        "ins": {"valueIdentifier": {"system": INS_NIR_SYSTEM, "value": ins_value.value}},
        "family": "Garnier",
        "given": ["Zoé", "Marie"],
        "birthDate": {"valueDate": "1969-05-20"},
        "gender": {"valueCode": "female"},
        "email": "zoe@example.org",
        "brochureVersion": ctx.brochure.version,
        "informed": True,
        "consent": True,
    }
    values.update(overrides)
    return parameters(**values)


def test_lookup_shows_the_identity_only_to_authorized_professionals(api):
    seen = api.get("/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, as_="chloe").json()
    assert seen["total"] == 1
    patient = _patient(seen)
    assert patient["active"] is True
    assert patient["name"][0]["family"] == "Dupont"
    assert patient["birthDate"] == "1985-03-12"
    assert patient["gender"] == "female"
    assert _state(patient)["state"] == "active"
    stranger = _patient(
        api.get("/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, as_="damien").json()
    )
    assert "name" not in stranger
    assert "birthDate" not in stranger
    assert "gender" not in stranger
    assert stranger["identifier"][0]["value"] == ALICE_INS.value


def test_lookup_of_an_ins_without_dmp_is_an_empty_searchset(api):
    bundle = api.get("/fhir/Patient", params={"identifier": ins_token(NEW_INS)}, as_="bruno").json()
    assert bundle["total"] == 0
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["outcome"]


def test_bad_ins_is_a_400(api):
    response = api.get("/fhir/Patient", params={"identifier": f"{INS_NIR_SYSTEM}|123"}, as_="bruno")
    assert response.status_code == 400
    assert "INS invalide" in response.json()["issue"][0]["details"]["text"]


def test_create_close_reactivate(api, ctx):
    created = api.post("/fhir/Patient/$dmp-create", json=create_parameters(ctx), as_="damien")
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    values = {p["name"]: p for p in created.json()["parameter"]}
    login = {p["name"]: p["valueString"] for p in values["credentials"]["part"]}
    assert login["login"]
    assert login["temporaryPassword"]
    again = api.post("/fhir/Patient/$dmp-create", json=create_parameters(ctx), as_="damien")
    assert again.status_code == 409
    closed = api.post(
        "/fhir/Patient/$dmp-close",
        as_="damien",
        json=parameters(
            ins={"valueIdentifier": {"system": INS_NIR_SYSTEM, "value": NEW_INS.value}},
            reason="Demande du patient",
        ),
    )
    assert closed.status_code == 200, closed.text
    patient = _patient(
        api.get("/fhir/Patient", params={"identifier": ins_token(NEW_INS)}, as_="damien").json()
    )
    assert patient["active"] is False
    assert _state(patient)["state"] == "closed"
    assert "closureReason" not in _state(patient)  # Damien may not open a closed DMP
    patient_id = patient["id"]
    reactivated = api.post(
        "/fhir/Patient/$dmp-reactivate",
        as_="damien",
        json=parameters(
            ins=NEW_INS.value, brochureVersion=ctx.brochure.version, informed=True, consent=True
        ),
    )
    assert reactivated.status_code == 200, reactivated.text
    patient = _patient(
        api.get("/fhir/Patient", params={"identifier": ins_token(NEW_INS)}, as_="damien").json()
    )
    assert patient["active"] is True
    by_id = parameters(
        patient={"valueReference": {"reference": f"Patient/{patient_id}"}}, reason="Déménagement"
    )
    assert api.post("/fhir/Patient/$dmp-close", json=by_id, as_="damien").status_code == 200


def test_create_refuses_without_consent_or_with_an_unknown_parameter(api, ctx):
    refused = api.post(
        "/fhir/Patient/$dmp-create", json=create_parameters(ctx, consent=False), as_="bruno"
    )
    assert refused.status_code == 400
    typo = create_parameters(ctx)
    typo["parameter"].append({"name": "consentement", "valueBoolean": True})
    assert api.post("/fhir/Patient/$dmp-create", json=typo, as_="bruno").status_code == 400


def test_create_a_minor_with_a_legal_representative(api, ctx):
    minor = ins("2120675123456")
    representative = {
        "part": [
            {"name": "family", "valueString": "Garnier"},
            {"name": "given", "valueString": "Paul"},
            {"name": "birthDate", "valueDate": "1980-02-02"},
            {"name": "gender", "valueCode": "male"},
            {"name": "email", "valueString": "paul@example.org"},
        ]
    }
    created = api.post(
        "/fhir/Patient/$dmp-create",
        as_="bruno",
        json=create_parameters(
            ctx,
            ins_value=minor,
            birthDate={"valueDate": "2012-06-01"},
            representative=representative,
        ),
    )
    assert created.status_code == 200, created.text
    names = [p["name"] for p in created.json()["parameter"]]
    assert names.count("representativeCredentials") == 1


def test_declare_authorization_then_become_medecin_traitant(api, ctx):
    assert (
        api.post("/fhir/Patient/$dmp-create", json=create_parameters(ctx), as_="bruno").status_code
        == 200
    )
    by_ins = parameters(ins=NEW_INS.value)
    lookup = {"identifier": ins_token(NEW_INS)}
    assert "name" not in _patient(api.get("/fhir/Patient", params=lookup, as_="damien").json())
    assert (
        api.post("/fhir/Patient/$declare-authorization", json=by_ins, as_="damien").status_code
        == 200
    )
    assert "name" in _patient(api.get("/fhir/Patient", params=lookup, as_="damien").json())
    assert (
        api.post("/fhir/Patient/$become-medecin-traitant", json=by_ins, as_="damien").status_code
        == 200
    )
    patient = _patient(api.get("/fhir/Patient", params=lookup, as_="damien").json())
    [mt] = [e for e in patient["extension"] if e["url"].endswith("dmp-medecin-traitant")]
    assert {s["url"]: s["valueBoolean"] for s in mt["extension"]} == {
        "designated": True,
        "isRequester": True,
    }
    nurse = api.post("/fhir/Patient/$become-medecin-traitant", json=by_ins, as_="chloe")
    assert nurse.status_code in (403, 404)
