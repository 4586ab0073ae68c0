"""Attacks on the patient's choices, over HTTP against a served app (both backends): each test
is named after what it attacks, and reads the trail back — a refusal that is not in the
patient's history did not happen."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from dmp.adapters.db.tables import outbox
from dmp.entrypoints.fhir import ids
from dmp.policy import DocumentChange
from dmp.services import authorizations, history, submission
from dmp.services.documents import DocumentQuery, find_documents
from dmp.services.gate import Reading
from tests.e2e.fhir import FLAGS, created_id, ins_token, parameters, provide_bundle
from tests.factories import PDF
from tests.personas import ALICE_INS, LEA_INS


def provide(api, who="bruno", ins=ALICE_INS, **kwargs) -> str:
    response = api.post("/fhir", json=provide_bundle(ins, PDF, **kwargs), as_=who)
    assert response.status_code == 200, response.text
    return created_id(response)


def search(api, who, ins=ALICE_INS, **params) -> list[str]:
    params["patient.identifier"] = ins_token(ins)
    response = api.get("/fhir/DocumentReference", params=params, as_=who)
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def trail(ctx, cast, dmp=None, who=None) -> list[history.HistoryEntry]:
    """The patient's history, newest first, as the patient reads it."""
    reader = who or cast.alice
    return history.read_history(ctx, reader, dmp or cast.alice_dmp, limit=200).entries


def notices(ctx, template: str) -> list[tuple[object, dict[str, str]]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.template == template)).mappings()
        return [(r["recipient_id"], json.loads(r["params"])) for r in rows]


def by_ins(ins) -> dict[str, object]:
    return parameters(ins={"valueIdentifier": {"system": ins.system, "value": ins.value}})


def internal_id(fhir_id: str):
    return ids.parse_document_id(fhir_id)[1]


# --- 1. the médecin traitant ---------------------------------------------------------------------


def test_a_medecin_cannot_take_over_as_medecin_traitant_to_read_masked_documents(api, ctx, cast):
    masked = provide(api, "bruno", labels=("MASQUE_PS",))
    assert api.post("/fhir/Patient/$declare-authorization", json=by_ins(ALICE_INS), as_="damien")
    taken = api.post("/fhir/Patient/$become-medecin-traitant", json=by_ins(ALICE_INS), as_="damien")
    assert taken.status_code == 409, taken.text
    assert "seul le patient" in taken.json()["issue"][0]["details"]["text"]
    assert masked not in search(api, "damien")
    assert api.get(f"/fhir/DocumentReference/{masked}", as_="damien").status_code == 404
    assert api.get(f"/fhir/Binary/{masked}.0", as_="damien").status_code == 404
    entry = next(e for e in trail(ctx, cast) if e.action == "medecin-traitant.declare")
    assert (entry.allowed, entry.reason) == (False, "medecin-traitant-designated")
    patient = api.get("/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, as_="bruno")
    assert '"isRequester","valueBoolean":true' in patient.text  # Bruno stays


def test_a_medecin_declares_himself_only_where_there_is_none_and_everyone_is_told(api, ctx, cast):
    # Léa has no médecin traitant: Hugo, seeing her, declares her consent then himself.
    assert api.post("/fhir/Patient/$declare-authorization", json=by_ins(LEA_INS), as_="hugo")
    declared = api.post("/fhir/Patient/$become-medecin-traitant", json=by_ins(LEA_INS), as_="hugo")
    assert declared.status_code == 200, declared.text
    entry = next(e for e in trail(ctx, cast, cast.lea_dmp, cast.lea) if e.action != "history.read")
    assert (entry.action, entry.reason) == ("medecin-traitant.declare", "declared-medecin-traitant")
    [told] = [p for to, p in notices(ctx, "medecin_traitant_changed") if to == cast.lea.account_id]
    assert told["professional"].startswith("Hugo Roux")
    # Only the patient replaces him; the replaced médecin is told.
    authorizations.designate_medecin_traitant(
        ctx, cast.marc, cast.lea_dmp, cast.damien.professional_id
    )
    [(former, _)] = notices(ctx, "medecin_traitant_replaced")
    assert former == cast.hugo.professional_id
    to_lea = [p for to, p in notices(ctx, "medecin_traitant_changed") if to == cast.lea.account_id]
    assert sorted(p["professional"].split()[0] for p in to_lea) == ["Damien", "Hugo"]
    again = api.post("/fhir/Patient/$become-medecin-traitant", json=by_ins(LEA_INS), as_="hugo")
    assert again.status_code == 409


# --- 2. a new version of a masked document -------------------------------------------------------


def test_a_replacement_keeps_the_patients_mask(api, ctx, cast):
    old = provide(api, "bruno")
    submission.change_document(
        ctx, cast.alice, cast.alice_dmp, internal_id(old), DocumentChange.MASK
    )
    relates = {
        "relatesTo": [{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}]
    }
    new = provide(api, "bruno", **relates)  # declared without MASQUE_PS
    labels = api.get(f"/fhir/DocumentReference/{new}", as_="bruno").json()["securityLabel"]
    assert {"system": FLAGS, "code": "MASQUE_PS"} in [
        {k: c["coding"][0][k] for k in ("system", "code")} for c in labels
    ]
    assert new not in search(api, "chloe", status="current,superseded")
    assert api.get(f"/fhir/DocumentReference/{new}", as_="chloe").status_code == 404
    assert api.get(f"/fhir/Binary/{new}.0", as_="chloe").status_code == 404


def test_a_visible_version_never_points_at_a_masked_one(api, ctx, cast):
    old = provide(api, "bruno")
    submission.change_document(
        ctx, cast.alice, cast.alice_dmp, internal_id(old), DocumentChange.MASK
    )
    relates = {
        "relatesTo": [{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}]
    }
    new = provide(api, "bruno", **relates)
    submission.change_document(
        ctx, cast.alice, cast.alice_dmp, internal_id(new), DocumentChange.UNMASK
    )
    seen = api.get(f"/fhir/DocumentReference/{new}", as_="chloe")
    assert seen.status_code == 200
    assert "relatesTo" not in seen.json()
    assert old not in seen.text
    [found] = [
        e["resource"]
        for e in api.get(
            "/fhir/DocumentReference",
            params={"patient.identifier": ins_token(ALICE_INS)},
            as_="chloe",
        ).json()["entry"]
    ]
    assert "relatesTo" not in found
    # The author, who reads both versions, still sees the link.
    mine = api.get(f"/fhir/DocumentReference/{new}", as_="bruno").json()
    assert mine["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{old}"


# --- 5. the closure reason ----------------------------------------------------------------------


def test_the_closure_reason_reaches_no_professional(api, ctx, cast):
    reason = "Je déménage à l'étranger, ne plus partager"
    closing = parameters(
        ins={"valueIdentifier": {"system": ALICE_INS.system, "value": ALICE_INS.value}},
        reason=reason,
    )
    assert api.post("/fhir/Patient/$dmp-close", json=closing, as_="bruno").status_code == 200
    for who in ("bruno", "chloe", "damien", "samuel"):
        found = api.get("/fhir/Patient", params={"identifier": ins_token(ALICE_INS)}, as_=who)
        assert found.status_code == 200
        assert '"closed"' in found.text
        assert reason not in found.text
        assert "closureReason" not in found.text


# --- 6. the exact reason of every refusal --------------------------------------------------------


def test_every_refused_read_is_in_the_history_with_its_own_reason(api, ctx, cast):
    masked = provide(api, "bruno", labels=("MASQUE_PS",))
    imaging = provide(api, "bruno", type_code="18748-4")  # an imaging report: not for pharmacists
    deleted = provide(api, "bruno")
    entered_in_error = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]
    assert api.patch(f"/fhir/DocumentReference/{deleted}", json=entered_in_error, as_="bruno")
    missing = ids.document_id(cast.alice_dmp, cast.alice.account_id)  # no such document
    attempts = [
        ("chloe", masked, "masked"),
        ("pauline", imaging, "profession-matrix"),
        ("chloe", deleted, "document-deleted"),
        ("chloe", missing, "no-document"),
    ]
    for who, doc, _ in attempts:
        assert api.get(f"/fhir/DocumentReference/{doc}", as_=who).status_code == 404
        assert api.get(f"/fhir/Binary/{doc}.0", as_=who).status_code == 404
    refusals = [
        (e.action, e.actor_label.split()[0], e.target_id, e.reason)
        for e in trail(ctx, cast)
        if not e.allowed
    ]
    for who, doc, reason in attempts:
        document = str(internal_id(doc))
        given = cast.professionals[who].given_name
        for action in ("document.read", "document.retrieve"):
            assert (action, given, document, reason) in refusals, (who, reason)


# --- 9. the existence oracle of a master identifier ----------------------------------------------


def test_a_taken_master_identifier_answers_alike_whoever_may_see_it_and_is_audited(api, ctx, cast):
    visible = "urn:oid:1.2.250.1.999.1.1"
    masked = "urn:oid:1.2.250.1.999.1.2"
    provide(api, "bruno", master=visible)
    provide(api, "bruno", master=masked, labels=("MASQUE_PS",))
    answers = []
    for master in (visible, masked):
        response = api.post(
            "/fhir", json=provide_bundle(ALICE_INS, PDF, master=master), as_="chloe"
        )
        assert response.status_code == 409
        answers.append(response.json()["issue"][0]["details"]["text"].replace(master, "…"))
    assert answers[0] == answers[1]
    refused = [
        e.target_id
        for e in trail(ctx, cast)
        if (e.action, e.allowed, e.reason) == ("document.add", False, "duplicate-identifier")
    ]
    assert sorted(refused) == [visible, masked]


# --- 10. declared size and hash -----------------------------------------------------------------


def _blob_files(ctx) -> set[Path]:
    return {p for p in Path(ctx.settings.blob_dir).rglob("*") if p.is_file()}


def _stored(ctx, cast) -> int:
    query = DocumentQuery(statuses=frozenset())
    return len(find_documents(ctx, Reading(cast.bruno), cast.alice_dmp, query))


def _declaring(**declared: object) -> dict[str, object]:
    bundle = provide_bundle(ALICE_INS, PDF)
    [doc] = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    doc["resource"]["content"][0]["attachment"].update(declared)
    return bundle


def test_a_declared_size_or_hash_that_contradicts_the_content_is_refused(api, ctx, cast):
    sha1 = base64.b64encode(hashlib.sha1(PDF).digest()).decode()  # noqa: S324 (FHIR's hash)
    other = base64.b64encode(hashlib.sha1(PDF + b"x").digest()).decode()  # noqa: S324
    before = _blob_files(ctx)
    for declared in ({"size": len(PDF) + 1}, {"size": len(PDF) - 1}, {"hash": other}):
        response = api.post("/fhir", json=_declaring(**declared), as_="bruno")
        assert response.status_code == 422, (declared, response.text)
        assert _stored(ctx, cast) == 0
        assert _blob_files(ctx) == before
    refusals = [e.reason for e in trail(ctx, cast) if e.action == "document.add" and not e.allowed]
    assert refusals == ["content-mismatch"] * 3
    for declared in (
        {"size": "12"},
        {"hash": "not base64!"},
        {"hash": base64.b64encode(b"short").decode()},
    ):
        assert api.post("/fhir", json=_declaring(**declared), as_="bruno").status_code == 400
    right = api.post("/fhir", json=_declaring(size=len(PDF), hash=sha1), as_="bruno")
    assert right.status_code == 200, right.text
    assert _stored(ctx, cast) == 1
