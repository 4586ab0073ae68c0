"""Identifiers are ASCII, over HTTP (both backends): an INS, a date, a code or a content position
written with another script's digits names nothing and creates nothing. ``\\d``, ``isdigit()``
and ``int()`` take ``٢٨٥``: such an INS once found "no DMP" for a patient who has one, and
``$dmp-create`` gave the same person a second DMP."""

from __future__ import annotations

import pytest

from dmp.domain.identifiers import INS_NIR_SYSTEM
from dmp.entrypoints.fhir import ids
from dmp.services.submission import submit_documents
from tests.e2e.fhir import document_reference, ins_token, parameters, transaction
from tests.e2e.stored import stored
from tests.e2e.test_patient_api import create_parameters
from tests.factories import PDF, pdf_submission
from tests.personas import ALICE_INS, ins

ASCII = "0123456789"
SCRIPTS = {
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "devanagari": "०१२३४५६७८९",
    "fullwidth": "０１２３４５６７８９",
}


def written_in(text: str, script: str) -> str:
    return text.translate(str.maketrans(ASCII, SCRIPTS[script]))


def alices_ins_with_its_key_in(script: str) -> str:
    """Alice's NIR, its key in other digits: int() reads it as Alice's own key."""
    return ALICE_INS.value[:13] + written_in(ALICE_INS.value[13:], script)


def code_of(response) -> str:
    return response.json()["issue"][0]["details"]["coding"][0]["code"]


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_an_ins_key_in_other_digits_does_not_hide_the_patients_dmp(api, script):
    token = f"{INS_NIR_SYSTEM}|{alices_ins_with_its_key_in(script)}"
    response = api.get("/fhir/Patient", params={"identifier": token}, as_="bruno")
    assert response.status_code == 400  # not "Aucun DMP n'existe pour cet INS"
    assert code_of(response) == "ins"
    assert "ASCII" in response.json()["issue"][0]["details"]["text"]


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_an_ins_key_in_other_digits_creates_no_second_dmp(api, ctx, script):
    before = stored(ctx)
    body = create_parameters(ctx)
    body["parameter"][0]["valueIdentifier"]["value"] = alices_ins_with_its_key_in(script)
    response = api.post("/fhir/Patient/$dmp-create", json=body, as_="damien")
    assert response.status_code == 400
    assert code_of(response) == "ins"
    assert stored(ctx) == before


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_way_to_name_a_patient_refuses_other_digits(api, ctx, script):
    value = alices_ins_with_its_key_in(script)
    token = f"{INS_NIR_SYSTEM}|{value}"
    bundle = transaction(("urn:uuid:1", document_reference(None, data=PDF)))
    bundle["entry"][0]["resource"]["subject"] = {
        "identifier": {"system": INS_NIR_SYSTEM, "value": value}
    }
    before = stored(ctx)
    answers = [
        api.get("/fhir/DocumentReference", params={"patient.identifier": token}, as_="bruno"),
        api.post("/fhir/Patient/$declare-authorization", json=parameters(ins=value), as_="damien"),
        api.post("/fhir/Patient/$become-medecin-traitant", json=parameters(ins=value), as_="hugo"),
        api.post("/fhir/Patient/$dmp-close", json=parameters(ins=value, reason="x"), as_="bruno"),
        api.post("/fhir", json=bundle, as_="bruno"),
    ]
    assert [(r.status_code, code_of(r)) for r in answers] == [(400, "ins")] * len(answers)
    assert stored(ctx) == before


def test_a_new_patients_ins_in_other_digits_creates_no_dmp(api, ctx):
    """Every digit the old pattern read with ``\\d`` written in Arabic-Indic digits (the sex and
    the month's first digit were ASCII classes): a DMP was created under that text."""
    value = ins("1690512345678").value
    typed = value[0] + written_in(value[1:3], "arabic-indic") + value[3:5]
    typed += written_in(value[5:], "arabic-indic")
    body = create_parameters(ctx)
    body["parameter"][0]["valueIdentifier"]["value"] = typed
    before = stored(ctx)
    assert api.post("/fhir/Patient/$dmp-create", json=body, as_="bruno").status_code == 400
    assert stored(ctx) == before


@pytest.mark.parametrize("position", ["٠", "०", "０", "00", "+0", " 0"])
def test_a_content_position_not_in_ascii_names_no_content(api, ctx, cast, position):
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    binary = ids.document_id(doc.dmp_id, doc.id)
    before = stored(ctx)
    response = api.get(f"/fhir/Binary/{binary}.{position}", as_="bruno")
    assert response.status_code == 404
    assert stored(ctx) == before
    assert api.get(f"/fhir/Binary/{binary}.0", as_="bruno").status_code == 200


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_search_dates_and_codes_in_other_digits_are_refused(api, script):
    alice = {"patient.identifier": ins_token(ALICE_INS)}
    for params in (
        {"creation": "ge" + written_in("2026-03-01", script)},
        {"period": written_in("2026", script)},
        {"type": written_in("11488-4", script)},
        {"author.identifier": written_in("10000000017", script)},
    ):
        response = api.get("/fhir/DocumentReference", params={**alice, **params}, as_="bruno")
        assert response.status_code == 400, params
        assert code_of(response) == "search"
