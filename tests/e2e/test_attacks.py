"""What an attacker tries through the API is refused with the right status, writes nothing but
the audit entry, and tells nothing: 401, 404 (exactly like a missing document), 400, 413, 415."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, update

from dmp.adapters.db.tables import establishments, professional_establishments
from dmp.domain.model import AccessMode
from dmp.entrypoints.app import create_app
from dmp.entrypoints.fhir import ids
from dmp.errors import Forbidden
from dmp.services import authorizations, history
from dmp.services.directory import NewProfessional, add_professional, find_professional, issue_token
from dmp.services.documents import DocumentQuery, Reading, find_documents
from dmp.services.submission import submit_documents
from tests.e2e.fhir import (
    check_response,
    document_reference,
    ins_token,
    live_server,
    parameters,
    refused_search,
    streamed_bundle,
)
from tests.factories import CDA, PDF, pdf_submission
from tests.personas import ALICE_INS, rpps

MIB = 1024 * 1024
EMERGENCY = {"X-DMP-Access-Mode": "emergency"}


def blob_files(ctx) -> set[Path]:
    return {p for p in Path(ctx.settings.blob_dir).rglob("*") if p.is_file()}


def documents_seen_by_bruno(ctx, cast) -> int:
    query = DocumentQuery(statuses=frozenset())
    return len(find_documents(ctx, Reading(cast.bruno), cast.alice_dmp, query))


def alice_history(ctx, cast) -> list:
    return history.read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries


def not_found_text(response: httpx.Response) -> str:
    assert response.status_code == 404
    return response.json()["issue"][0]["details"]["text"]


def test_another_patients_document_answers_404_like_a_missing_one(api, ctx, cast):
    [leas] = submit_documents(ctx, cast.bruno, cast.lea_dmp, [pdf_submission()])
    forged = ids.document_id(cast.alice_dmp, leas.id)  # Léa's document under Alice's DMP
    missing = ids.document_id(cast.alice_dmp, uuid.uuid4())
    texts = {
        not_found_text(api.get(f"/fhir/DocumentReference/{i}", as_="chloe"))
        for i in (forged, missing)
    }
    assert len(texts) == 1
    own = ids.document_id(cast.lea_dmp, leas.id)
    assert api.get(f"/fhir/DocumentReference/{own}", as_="chloe").status_code == 404
    assert api.get(f"/fhir/Binary/{own}.0", as_="chloe").status_code == 404
    assert api.get(f"/fhir/Binary/{forged}.0", as_="bruno").status_code == 404
    assert api.get("/fhir/DocumentReference/not-an-id", as_="chloe").status_code == 404
    assert api.get(f"/fhir/DocumentReference/{own}", as_="bruno").status_code == 200


@pytest.mark.parametrize("token", ["dmp_forged", "not-even-a-dmp-token", ""])
def test_forged_or_missing_token_is_401_with_a_bearer_challenge(api, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = api.get(
        "/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_token_is_401(api, clock):
    assert (
        api.get(
            "/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, as_="bruno"
        ).status_code
        == 200
    )
    clock.advance(days=91)
    response = api.get("/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, as_="bruno")
    assert response.status_code == 401


def test_an_excluded_actor_gets_no_token(ctx, cast):
    with pytest.raises(Forbidden) as refused:
        issue_token(ctx, cast.professionals["elise"].rpps)
    assert "médecins du travail" in refused.value.message


def _left_with_only_the_mutuelle(ctx, cast, professional_id, how):
    """The CHU leaves the professional's attachments, or becomes an excluded organization."""
    link = professional_establishments.c
    with ctx.engine.begin() as conn:
        if how == "leaves the CHU":
            conn.execute(
                delete(professional_establishments).where(
                    link.professional_id == professional_id, link.establishment_id == cast.chu.id
                )
            )
        else:
            where = establishments.c.id == cast.chu.id
            conn.execute(update(establishments).where(where).values(excluded=True))


@pytest.mark.parametrize("how", ["leaves the CHU", "CHU reclassified"])
def test_a_token_held_by_a_medecin_left_with_only_a_mutuelle_is_401_on_every_path(
    api, ctx, cast, how
):
    """The attack: Yves, of the CHU and of the Mutuelle Atlantique, holds a token acting for no
    establishment. Once the mutuelle is all he acts for, the token he already holds is refused at
    the door, on $declare-authorization, ITI-67 and ITI-68 alike, although it worked a moment
    before and Alice's authorization is still on record."""
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    add_professional(
        ctx,
        NewProfessional(
            rpps(40),
            "Conseil",
            "Yves",
            "10",
            establishment_finess=(cast.chu.finess, cast.mutuelle.finess),
        ),
    )
    yves = find_professional(ctx, rpps(40))
    api.tokens["yves"] = issue_token(ctx, yves.rpps).token

    def attempts() -> list[httpx.Response]:
        by_ins = parameters(ins=ALICE_INS.value)
        search = {"patient.identifier": ins_token(ALICE_INS)}
        binary = f"/fhir/Binary/{ids.document_id(cast.alice_dmp, doc.id)}.0"
        return [
            api.post("/fhir/Patient/$declare-authorization", json=by_ins, as_="yves"),
            api.get("/fhir/DocumentReference", params=search, as_="yves"),
            api.get(binary, as_="yves"),
        ]

    assert [r.status_code for r in attempts()] == [200, 200, 200]
    _left_with_only_the_mutuelle(ctx, cast, yves.id, how)
    refused = attempts()
    assert [r.status_code for r in refused] == [401, 401, 401]
    assert all(r.headers["www-authenticate"].startswith("Bearer") for r in refused)


def test_emergency_without_justification_is_400_and_audited(api, ctx, cast):
    params = {"patient.identifier": ins_token(ALICE_INS)}
    response = api.get("/fhir/DocumentReference", params=params, as_="damien", headers=EMERGENCY)
    assert response.status_code == 400
    assert "justification" in response.json()["issue"][0]["details"]["text"]
    [refusal] = [e for e in alice_history(ctx, cast) if e.action == "document.search"]
    assert (refusal.allowed, refusal.reason, refusal.mode) == (
        False,
        "justification-required",
        AccessMode.EMERGENCY.value,
    )
    justified = {**EMERGENCY, "X-DMP-Justification": "Patiente%20inconsciente%20aux%20urgences"}
    allowed = api.get("/fhir/DocumentReference", params=params, as_="damien", headers=justified)
    assert allowed.status_code == 200
    entry = next(e for e in alice_history(ctx, cast) if e.action == "document.search" and e.allowed)
    assert entry.justification == "Patiente inconsciente aux urgences"


def test_emergency_against_the_patients_opposition_is_refused_and_audited(api, ctx, cast):
    authorizations.set_oppositions(ctx, cast.alice, cast.alice_dmp, emergency=True)
    params = {
        "patient.identifier": ins_token(ALICE_INS),
        "_dmp-access-mode": "emergency",
        "_dmp-justification": "Urgence vitale",
    }
    assert refused_search(api.get("/fhir/DocumentReference", params=params, as_="damien"))
    entry = next(e for e in alice_history(ctx, cast) if e.action == "document.search")
    assert (entry.allowed, entry.reason) == (False, "emergency-opposed")


def test_emergency_mode_only_reads(api, ctx, cast):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:1", "resource": document_reference(ALICE_INS, data=PDF)}],
    }
    unjustified = api.post("/fhir", json=bundle, as_="damien", headers=EMERGENCY)
    assert unjustified.status_code == 400
    justified = {**EMERGENCY, "X-DMP-Justification": "Patiente%20inconsciente"}
    refused = api.post("/fhir", json=bundle, as_="damien", headers=justified)
    assert refused.status_code == 403  # the emergency opens the DMP, to read only
    assert "consultation" in refused.json()["issue"][0]["details"]["text"]
    assert documents_seen_by_bruno(ctx, cast) == 0
    adds = [(e.reason, e.mode) for e in alice_history(ctx, cast) if e.action == "document.add"]
    assert adds == [("read-only-mode", "emergency"), ("justification-required", "emergency")]


def test_a_cda_declared_as_pdf_is_415_and_nothing_is_written(api, ctx, cast):
    before = blob_files(ctx)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:1", "resource": document_reference(ALICE_INS, data=CDA)}],
    }
    response = api.post("/fhir", json=bundle, as_="bruno")
    assert response.status_code == 415
    assert documents_seen_by_bruno(ctx, cast) == 0
    assert blob_files(ctx) == before


def test_a_60_mib_upload_is_413_and_nothing_is_written(ctx, cast, tokens):
    ctx.settings = ctx.settings.with_(max_content_bytes=50 * MIB)
    before = blob_files(ctx)
    with live_server(create_app(ctx)) as base, httpx.Client(base_url=base, timeout=120) as client:
        response = check_response(
            client.post(
                "/fhir",
                content=streamed_bundle(ALICE_INS, 60 * MIB),
                headers={
                    "Authorization": f"Bearer {tokens['bruno']}",
                    "Content-Type": "application/fhir+json",
                },
            )
        )
    assert response.status_code == 413
    assert documents_seen_by_bruno(ctx, cast) == 0
    assert blob_files(ctx) == before
