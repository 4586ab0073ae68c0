"""Closing and destroying the whole DMP from the portal (SPEC §2), over HTTP against a served
app, on both backends: the page says what it means, a fresh one-time code first (the policy's
rule, written to the history when missing), a code used once and for a few minutes only; then
the DMP closed (the dashboard says until when and how to have it reactivated) or destroyed (the
session ends, a French page confirms it)."""

from __future__ import annotations

from html import unescape

from dmp.services import history
from tests.e2e.fhir import refused_search
from tests.e2e.portal import STRONG, fresh_code, log_in
from tests.e2e.portal_documents import add, entries, held, sign_in_representative
from tests.personas import ALICE_INS

CLOSING = {"motif": "Je ne souhaite plus l'utiliser", "compris": "oui"}
DESTROYING = {"definitif": "oui", "mot": "détruire"}


def _closes(ctx, cast) -> list[tuple[bool, str]]:
    trail = entries(ctx, cast.alice, cast.alice_dmp)
    return [(e.allowed, e.reason) for e in trail if e.action == "record.close"]


def test_the_closing_page_explains(alice_browser):
    page = alice_browser.get("/fermeture")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = unescape(page.text)
    assert "conservées pendant dix ans" in text
    assert "réactiver" in text
    assert '<a href="/export">' in text
    assert '<textarea id="motif" name="motif"' in text


def test_a_fresh_code_then_closed(alice_browser, api, ctx, cast, clock, last_code):
    clock.advance(minutes=11)  # the code entered at login is no longer fresh
    alice_browser.get("/fermeture")
    asked = alice_browser.post("/fermeture", CLOSING)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/confirmer?suite=/fermeture"
    assert _closes(ctx, cast) == [(False, "step-up-required")]
    dashboard = alice_browser.get("/tableau-de-bord").text
    assert "<strong>Actif</strong>" in dashboard
    # The code, once: a second use of it does not confirm again.
    alice_browser.follow(asked)
    alice_browser.post("/confirmer/envoi", {"canal": "email", "suite": "/fermeture"})
    alice_browser.get("/confirmer?suite=/fermeture")
    code = last_code()
    back = alice_browser.post("/confirmer", {"code": code, "suite": "/fermeture"})
    assert back.headers["location"] == "/fermeture"
    assert (
        alice_browser.post("/confirmer", {"code": code, "suite": "/fermeture"}).status_code == 401
    )
    alice_browser.get("/fermeture")
    done = alice_browser.post("/fermeture", CLOSING)
    assert done.headers["location"] == "/tableau-de-bord?fait=ferme"
    page = unescape(alice_browser.follow(done).text)
    assert "Votre DMP est fermé." in page
    assert "<strong>Fermé</strong> le 2 mars 2026" in page
    assert "Ses données seront détruites le\n  2 mars 2036" in page
    assert "pour le réactiver, demandez-le à un\n  professionnel de santé" in page
    assert _closes(ctx, cast) == [(True, "holder"), (False, "step-up-required")]
    # Bruno, her médecin traitant, reads it no more.
    search = {"patient.identifier": f"{ALICE_INS.system}|{ALICE_INS.value}"}
    found = api.get("/fhir/DocumentReference", params=search, as_="bruno")
    assert refused_search(found)


def test_an_expired_step_up_code_confirms_nothing(alice_browser, ctx, cast, clock, last_code):
    clock.advance(minutes=11)
    alice_browser.get("/confirmer?suite=/fermeture")
    alice_browser.post("/confirmer/envoi", {"canal": "email", "suite": "/fermeture"})
    alice_browser.get("/confirmer?suite=/fermeture")
    clock.advance(minutes=5, seconds=1)
    refused = alice_browser.post("/confirmer", {"code": last_code(), "suite": "/fermeture"})
    assert refused.status_code == 401
    alice_browser.get("/fermeture")
    assert alice_browser.post("/fermeture", CLOSING).headers["location"].startswith("/confirmer")
    assert _closes(ctx, cast) == [(False, "step-up-required")]


def test_a_step_up_code_of_another_session_confirms_nothing(
    alice_browser, other_browser, ctx, cast, clock, last_code
):
    log_in(other_browser, cast.alice_login, STRONG, last_code)
    clock.advance(minutes=11)
    # The code is asked in Alice's first session, and entered in the other one.
    alice_browser.get("/confirmer?suite=/fermeture")
    alice_browser.post("/confirmer/envoi", {"canal": "email", "suite": "/fermeture"})
    other_browser.get("/confirmer?suite=/fermeture")
    refused = other_browser.post("/confirmer", {"code": last_code(), "suite": "/fermeture"})
    assert refused.status_code == 401
    other_browser.get("/fermeture")
    assert other_browser.post("/fermeture", CLOSING).headers["location"].startswith("/confirmer")
    assert _closes(ctx, cast) == [(False, "step-up-required")]


def test_a_reason_a_confirmation_and_a_token(alice_browser, ctx, cast):
    alice_browser.get("/fermeture")
    assert alice_browser.post("/fermeture", {"motif": " ", "compris": "oui"}).status_code == 400
    assert alice_browser.post("/fermeture", {"motif": "Choix"}).status_code == 400
    for token in ("", "not-the-token"):
        assert alice_browser.post("/fermeture", CLOSING, csrf=token).status_code == 403
    assert _closes(ctx, cast) == []
    assert "<strong>Actif</strong>" in alice_browser.get("/tableau-de-bord").text


def test_a_representative_closes_the_minors_dmp_only(browser, ctx, cast, last_code):
    sign_in_representative(browser, ctx, cast.marc.account_id, last_code)
    fresh_code(browser, last_code, "/fermeture")
    browser.get("/fermeture")
    assert browser.post("/fermeture", CLOSING).headers["location"] == "/tableau-de-bord?fait=ferme"
    lea = history.read_history(ctx, cast.lea, cast.lea_dmp, limit=50).entries
    assert [(e.allowed, e.reason) for e in lea if e.action == "record.close"] == [
        (True, "legal-representative")
    ]
    assert _closes(ctx, cast) == []  # Alice's DMP: untouched


def test_the_destruction_page_warns_and_offers_the_export_first(alice_browser):
    page = alice_browser.get("/destruction")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = unescape(page.text)
    assert "est définitive et irréversible" in text
    assert '<a href="/export">téléchargez-en une\ncopie</a>' in text


def test_a_fresh_code_then_destroyed_and_signed_out(alice_browser, ctx, cast, clock, last_code):
    add(ctx, cast.bruno, cast.alice_dmp)
    clock.advance(minutes=11)
    alice_browser.get("/destruction")
    before = held(ctx)
    asked = alice_browser.post("/destruction", DESTROYING)
    assert asked.headers["location"] == "/confirmer?suite=/destruction"
    assert held(ctx).changes(before) == {}
    trail = entries(ctx, cast.alice, cast.alice_dmp)
    assert [(e.allowed, e.reason) for e in trail if e.action == "record.destroy"] == [
        (False, "step-up-required")
    ]
    alice_browser.follow(asked)
    alice_browser.post("/confirmer/envoi", {"canal": "email", "suite": "/destruction"})
    alice_browser.get("/confirmer?suite=/destruction")
    alice_browser.post("/confirmer", {"code": last_code(), "suite": "/destruction"})
    alice_browser.get("/destruction")
    done = alice_browser.post("/destruction", DESTROYING)
    assert done.headers["location"] == "/destruction/effectuee"
    assert "dmp_session=;" in done.headers["set-cookie"]
    assert "Votre DMP a été détruit" in alice_browser.follow(done).text
    assert alice_browser.get("/tableau-de-bord").headers["location"].startswith("/connexion")
    after = held(ctx)
    assert str(cast.alice_dmp) not in after.keys
    assert not [f for f in after.files if str(cast.alice_dmp) in f]
    assert log_in(alice_browser, cast.alice_login, STRONG, last_code).status_code == 401


def test_nothing_destroyed_without_the_confirmations_or_the_token(alice_browser, ctx, cast):
    alice_browser.get("/destruction")
    before = held(ctx)
    for data in ({"definitif": "oui"}, {"mot": "DÉTRUIRE"}, {"definitif": "oui", "mot": "oui"}):
        assert alice_browser.post("/destruction", data).status_code == 400, data
    for token in ("", "not-the-token"):
        assert alice_browser.post("/destruction", DESTROYING, csrf=token).status_code == 403
    assert held(ctx).changes(before) == {}
