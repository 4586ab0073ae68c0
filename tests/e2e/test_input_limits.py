"""Each input limit is the domain's (``dmp.domain.inputs``), the same over HTTP and through the
services (both backends): at the limit accepted, one past refused with a French message, nothing
stored. The API and the services once disagreed (masterIdentifier 64 or 128, years 1000–9998 or
1900–2999, two language patterns), and names, reasons and one-line texts had no limit at all."""

from __future__ import annotations

import pytest

from dmp.domain import inputs
from dmp.errors import InvalidInput
from dmp.services import records
from dmp.services.submission import submit_documents
from tests.e2e.fhir import document_reference, parameters, transaction
from tests.e2e.stored import stored
from tests.e2e.test_patient_api import create_parameters
from tests.factories import PDF, pdf_submission
from tests.personas import ALICE_INS


def _bundle(**fields):
    return transaction(("urn:uuid:1", document_reference(ALICE_INS, data=PDF, **fields)))


def _with_attachment(**fields):
    bundle = _bundle()
    bundle["entry"][0]["resource"]["content"][0]["attachment"].update(fields)
    return bundle


def code_of(response) -> str:
    return response.json()["issue"][0]["details"]["coding"][0]["code"]


ACCEPTED = {
    "master identifier of 64": _bundle(master="m" * inputs.MAX_MASTER_IDENTIFIER),
    "title of 500": _bundle(title="t" * inputs.MAX_TITLE),
    "comments of 4000, on lines": _bundle(description=("c" * 99 + "\n") * 40),
    "created in 1900": _with_attachment(creation="1900-01-01"),
    "created in 2999": _with_attachment(creation="2999-12-31T23:00:00+01:00"),
    "language oc-FR": _with_attachment(language="oc-FR"),
    "language zh-Hant-TW": _with_attachment(language="zh-Hant-TW"),
    "language es-419": _with_attachment(language="es-419"),
}
REFUSED = {
    "master identifier of 65": (_bundle(master="m" * 65), "master-identifier"),
    "master identifier of blanks": (_bundle(master="   "), "master-identifier"),
    "title of 501": (_bundle(title="t" * 501), "title"),
    "title on two lines": (_bundle(title="Compte rendu\nde consultation"), "title"),
    "title with a tab": (_bundle(title="Compte\trendu"), "title"),
    "comments of 4001": (_bundle(description="c" * 4001), "comments"),
    "created in 1899": (_with_attachment(creation="1899-12-31"), "date"),
    "created in 3000": (_with_attachment(creation="3000-01-01"), "date"),
    "created in year 1": (_with_attachment(creation="0001-01-01T00:00:00+01:00"), "date"),
    "created without a time zone": (_with_attachment(creation="2026-03-01T10:00:00"), "date"),
    "language fr_FR": (_with_attachment(language="fr_FR"), "language"),
    "language français": (_with_attachment(language="français"), "language"),
    "language longer than its column": (_with_attachment(language="de-Latn-CH-1996"), "language"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_document_metadata_at_the_limits_is_stored(api, name):
    response = api.post("/fhir", json=ACCEPTED[name], as_="bruno")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_document_metadata_past_the_limits_is_refused(api, ctx, name):
    bundle, code = REFUSED[name]
    before = stored(ctx)
    response = api.post("/fhir", json=bundle, as_="bruno")
    assert response.status_code == 400, response.text
    assert code_of(response) == code
    assert stored(ctx) == before


def test_the_services_apply_the_same_limits(ctx, cast):
    """A 100-character master identifier passed the services (128) though not the API (64)."""
    before = stored(ctx)
    for fields in ({"master_identifier": "m" * 65}, {"title": "a\nb"}, {"language": "fr_FR"}):
        with pytest.raises(InvalidInput):
            submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission(**fields)])
    assert stored(ctx) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("family", "G" * (inputs.MAX_NAME + 1)),
        ("given", "Z" * (inputs.MAX_NAME + 1)),
        ("birthName", "B" * (inputs.MAX_NAME + 1)),
        ("family", "Garnier\nDupont"),
        ("given", "Zoé\tMarie"),
    ],
)
def test_a_name_too_long_or_on_two_lines_creates_no_dmp(api, ctx, field, value):
    before = stored(ctx)
    response = api.post(
        "/fhir/Patient/$dmp-create", json=create_parameters(ctx, **{field: value}), as_="bruno"
    )
    assert response.status_code == 400
    assert code_of(response) == "identity"
    assert stored(ctx) == before


def test_a_name_at_the_limit_creates_the_dmp(api, ctx):
    body = create_parameters(ctx, family="G" * inputs.MAX_NAME)
    assert api.post("/fhir/Patient/$dmp-create", json=body, as_="bruno").status_code == 200


def test_a_closure_reason_past_the_limit_leaves_the_dmp_open(api, ctx):
    before = stored(ctx)
    body = parameters(ins=ALICE_INS.value, reason="r" * (inputs.MAX_REASON + 1))
    response = api.post("/fhir/Patient/$dmp-close", json=body, as_="bruno")
    assert response.status_code == 400
    assert code_of(response) == "reason"
    assert stored(ctx) == before
    body = parameters(ins=ALICE_INS.value, reason="Demande du patient,\nremise en main propre.")
    assert api.post("/fhir/Patient/$dmp-close", json=body, as_="bruno").status_code == 200


def test_the_services_check_names_and_reasons_too(ctx, cast):
    with pytest.raises(InvalidInput):
        records.close_record(ctx, cast.bruno, cast.alice_dmp, "x\x00y")
    with pytest.raises(InvalidInput):
        records.close_record(ctx, cast.bruno, cast.alice_dmp, "r" * (inputs.MAX_REASON + 1))
