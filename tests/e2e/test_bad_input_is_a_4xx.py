"""Inputs that once answered 500 now answer a 4xx OperationOutcome in French that says what to
fix, and nothing is stored (both backends): a superscript digit in an INS, half a UTF-16
surrogate pair or a control character in free text, a PATCH code that is not a string, a content
position in other digits, a search date past year 9999."""

from __future__ import annotations

import json

import pytest

from dmp.domain.identifiers import INS_NIR_SYSTEM
from dmp.entrypoints.fhir import ids
from dmp.services import history
from dmp.services.submission import submit_documents
from tests.e2e.fhir import (
    FLAGS,
    check_response,
    document_reference,
    ins_token,
    parameters,
    transaction,
)
from tests.e2e.stored import stored
from tests.e2e.test_patient_api import create_parameters
from tests.factories import PDF, pdf_submission
from tests.personas import ALICE_INS

FHIR_JSON = {"Content-Type": "application/fhir+json"}
SUPERSCRIPT_KEY = ALICE_INS.value[:14] + "²"  # isdigit() says yes, int() raises
MARK = "@@"


def issue(response) -> tuple[str, str]:
    details = response.json()["issue"][0]["details"]
    return details["coding"][0]["code"], details["text"]


def with_escape(document: dict, escape: str) -> bytes:
    """The JSON text of ``document`` where ``@@`` becomes a raw JSON escape (``\\ud800``)."""
    return json.dumps(document).replace(MARK, escape).encode()


def post_raw(api, url: str, document: dict, escape: str, as_: str = "bruno"):
    return api.post(url, content=with_escape(document, escape), headers=FHIR_JSON, as_=as_)


def test_a_superscript_digit_in_an_ins_is_a_400_everywhere(api, ctx):
    token = f"{INS_NIR_SYSTEM}|{SUPERSCRIPT_KEY}"
    bundle = transaction(("urn:uuid:1", document_reference(None, data=PDF)))
    bundle["entry"][0]["resource"]["subject"] = {
        "identifier": {"system": INS_NIR_SYSTEM, "value": SUPERSCRIPT_KEY}
    }
    before = stored(ctx)
    answers = [
        api.get("/fhir/Patient", params={"identifier": token}, as_="bruno"),
        api.get("/fhir/DocumentReference", params={"patient.identifier": token}, as_="bruno"),
        api.post(
            "/fhir/Patient/$declare-authorization",
            json=parameters(ins=SUPERSCRIPT_KEY),
            as_="damien",
        ),
        api.post("/fhir", json=bundle, as_="bruno"),
    ]
    for response in answers:
        assert response.status_code == 400
        code, text = issue(response)
        assert code == "ins"
        assert "INS invalide" in text
    assert stored(ctx) == before


def _bundle(**fields):
    return transaction(("urn:uuid:1", document_reference(ALICE_INS, data=PDF, **fields)))


FREE_TEXT = {
    "title": lambda: ("/fhir", _bundle(title=f"Compte rendu {MARK}")),
    "description": lambda: ("/fhir", _bundle(description=f"Suite {MARK}")),
    "masterIdentifier": lambda: ("/fhir", _bundle(master=f"urn:oid:1.2.3{MARK}")),
}


@pytest.mark.parametrize("field", sorted(FREE_TEXT))
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\u0000", "\\u001b", "\\u0085"])
def test_unmeant_characters_in_a_documents_text_are_refused(api, ctx, field, escape):
    url, document = FREE_TEXT[field]()
    before = stored(ctx)
    response = post_raw(api, url, document, escape)
    assert response.status_code == 400, response.text
    code, text = issue(response)
    assert code == "character"
    assert "Caractère non admis" in text
    assert stored(ctx) == before


@pytest.mark.parametrize("escape", ["\\ud800", "\\udc00", "\\u0000", "\\u0007"])
def test_unmeant_characters_in_a_family_name_create_no_dmp(api, ctx, escape):
    body = create_parameters(ctx, family=f"Gar{MARK}nier")
    before = stored(ctx)
    response = post_raw(api, "/fhir/Patient/$dmp-create", body, escape)
    assert response.status_code == 400
    assert issue(response)[0] == "character"
    assert stored(ctx) == before


@pytest.mark.parametrize("escape", ["\\ud800", "\\u0000"])
def test_unmeant_characters_in_a_closure_reason_leave_the_dmp_open(api, ctx, escape):
    body = parameters(ins=ALICE_INS.value, reason=f"Demande {MARK} du patient")
    before = stored(ctx)
    response = post_raw(api, "/fhir/Patient/$dmp-close", body, escape)
    assert response.status_code == 400
    assert issue(response)[0] == "character"
    assert stored(ctx) == before
    patient = api.get("/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, as_="bruno")
    assert patient.json()["entry"][0]["resource"]["active"] is True


def test_a_lone_surrogate_in_a_json_name_is_refused(api, ctx):
    body = parameters(ins=ALICE_INS.value, reason="Demande du patient")
    body[MARK] = 1
    response = post_raw(api, "/fhir/Patient/$dmp-close", body, "\\ud800")
    assert response.status_code == 400
    assert issue(response)[0] == "character"


@pytest.mark.parametrize(
    "value",
    [
        {"code": ["MASQUE_PS"]},
        {"code": {"a": 1}},
        {"system": FLAGS, "code": 7},
        {"coding": [{"code": ["MASQUE_PS"]}]},
    ],
)
def test_a_patch_code_that_is_not_a_string_is_refused(api, ctx, cast, value):
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    before = stored(ctx)
    response = api.patch(
        f"/fhir/DocumentReference/{ids.document_id(doc.dmp_id, doc.id)}",
        json=[{"op": "add", "path": "/securityLabel/-", "value": value}],
        headers={"Content-Type": "application/json-patch+json"},
        as_="bruno",
    )
    assert response.status_code == 400
    code, text = issue(response)
    assert code == "patch"
    assert "doit être une chaîne" in text
    assert stored(ctx) == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": ["add"], "path": "/securityLabel/-", "value": {"code": "MASQUE_PS"}},
        {"op": "add", "path": {"p": 1}, "value": {"code": "MASQUE_PS"}},
    ],
)
def test_a_patch_op_or_path_that_is_not_a_string_is_refused(api, ctx, cast, operation):
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    response = api.patch(
        f"/fhir/DocumentReference/{ids.document_id(doc.dmp_id, doc.id)}",
        json=[operation],
        headers={"Content-Type": "application/json-patch+json"},
        as_="bruno",
    )
    assert response.status_code == 400
    assert issue(response)[0] == "patch"


def test_fhirpath_patch_parts_are_type_checked(api, ctx, cast):
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    url = f"/fhir/DocumentReference/{ids.document_id(doc.dmp_id, doc.id)}"
    for parts in (
        [{"name": "type", "valueCode": ["add"]}, {"name": "path", "valueString": "x"}],
        [{"name": "type", "valueCode": "add"}, {"name": ["path"], "valueString": "x"}],
        ["not a part"],
    ):
        body = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]}
        response = api.patch(url, json=body, as_="bruno")
        assert response.status_code == 400, parts
        assert issue(response)[0] == "patch"


@pytest.mark.parametrize("position", ["²", "٠", "¹"])
def test_a_binary_position_in_other_digits_reads_nothing(api, ctx, cast, position):
    """``٠`` once opened the content (an "allowed" retrieve audited and committed) before the
    Content-Disposition header, which echoed it, failed to encode: a 500 after the fact."""
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    history_before = _retrieves(ctx, cast)
    before = stored(ctx)
    response = api.get(
        f"/fhir/Binary/{ids.document_id(doc.dmp_id, doc.id)}.{position}", as_="bruno"
    )
    assert response.status_code == 404
    assert issue(response) == ("not-found", "Contenu introuvable ou accès non autorisé.")
    assert _retrieves(ctx, cast) == history_before
    assert stored(ctx) == before


def _retrieves(ctx, cast) -> int:
    entries = history.read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries
    return sum(1 for e in entries if e.action == "document.retrieve" and e.allowed)


def test_the_canonical_binary_id_is_what_the_headers_echo(api, ctx, cast):
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    binary = ids.binary_id(doc.dmp_id, doc.id, 0)
    upper = f"{doc.dmp_id}.{doc.id}.0".upper()  # canonical UUIDs, another spelling of the id
    response = check_response(api.client.get(f"/fhir/Binary/{upper}", headers=_bearer(api)))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{binary}.pdf"'


def _bearer(api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens['bruno']}", "Accept": "*/*"}


@pytest.mark.parametrize("value", ["9999-12", "9999-12-31", "ge9999-12-31", "lt9999-12"])
def test_a_search_date_at_the_very_end_of_year_9999_is_a_400(api, value):
    params = {"patient.identifier": ins_token(ALICE_INS), "creation": value}
    response = api.get("/fhir/DocumentReference", params=params, as_="bruno")
    assert response.status_code == 400
    assert issue(response)[0] == "search"


def test_control_characters_in_a_justification_are_refused(api, ctx):
    params = {
        "patient.identifier": ins_token(ALICE_INS),
        "_dmp-access-mode": "emergency",
        "_dmp-justification": "Patiente\x00inconsciente",
    }
    before = stored(ctx)
    response = api.get("/fhir/DocumentReference", params=params, as_="damien")
    assert response.status_code == 400
    assert issue(response)[0] == "justification"
    assert stored(ctx) == before
