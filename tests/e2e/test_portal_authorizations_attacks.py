"""The attacks on the portal's authorizations, over HTTP against the served app, both backends:
forms without their CSRF token, a forged field naming another DMP or someone authorized on
another DMP, a session after logout, and input no form sends; each changes nothing."""

from __future__ import annotations

import uuid

import pytest

from dmp.services import authorizations as auth
from tests.e2e.authorizations import choices, entries, read
from tests.e2e.portal import Browser

CHANGES = ("authorization.", "oppositions.", "medecin-traitant.")


def _actions(cast) -> list[tuple[str, dict[str, str]]]:
    """Every change the pages offer, with fields that would change something."""
    chloe, damien = str(cast.chloe.professional_id), str(cast.damien.professional_id)
    return [
        ("/autorisations/autoriser", {"type": "professional", "id": damien}),
        ("/autorisations/retirer", {"type": "professional", "id": chloe}),
        ("/autorisations/bloquer", {"id": chloe}),
        ("/autorisations/medecin-traitant", {"id": damien}),
        ("/autorisations/acces-urgence", {"opposition": "oui"}),
        ("/autorisations/acces-samu", {"opposition": "oui"}),
    ]


def _changes(ctx, actor, dmp_id) -> list:
    """The changes in the DMP's history (not its reads)."""
    found = entries(ctx, actor, dmp_id)
    return [e for e in found if e.action.startswith(CHANGES) and e.action != "authorization.list"]


def test_a_form_without_its_csrf_token_or_with_a_wrong_one_changes_nothing(
    alice_browser, ctx, cast
):
    alice_browser.get("/autorisations")
    before = choices(ctx, cast.alice, cast.alice_dmp)
    changes = _changes(ctx, cast.alice, cast.alice_dmp)
    for url, fields in _actions(cast):
        for token in ("", "forged-token", alice_browser.csrf()[:-1]):
            refused = alice_browser.post(url, fields, csrf=token)
            assert refused.status_code == 403, url
            assert "Le formulaire a expiré" in read(refused)
        missing = alice_browser.client.post(url, data=fields)  # no csrf field at all
        assert missing.status_code == 403, url
    assert choices(ctx, cast.alice, cast.alice_dmp) == before
    assert _changes(ctx, cast.alice, cast.alice_dmp) == changes


def test_the_session_decides_the_dmp_not_a_forged_field(alice_browser, ctx, cast):
    auth.authorize(ctx, cast.marc, cast.lea_dmp, cast.professionals["damien"])
    lea_before = choices(ctx, cast.marc, cast.lea_dmp)
    lea_changes = _changes(ctx, cast.marc, cast.lea_dmp)
    alice_browser.get("/autorisations")
    damien, lea = str(cast.damien.professional_id), str(cast.lea_dmp)
    # Damien is authorized on Léa's DMP only: from Alice's session, there is nothing to revoke.
    for forged in ({"dmp": lea}, {"dmp_id": lea}, {"dossier": lea}):
        refused = alice_browser.post(
            "/autorisations/retirer", {"type": "professional", "id": damien, **forged}
        )
        assert refused.status_code == 404
        assert "Cette autorisation n'existe pas." in read(refused)
    # What a forged field names is ignored: the change is made on Alice's DMP, the session's.
    alice_browser.post("/autorisations/bloquer", {"id": damien, "dmp": lea})
    alice_browser.post("/autorisations/acces-urgence", {"opposition": "oui", "dmp": lea})
    alice = choices(ctx, cast.alice, cast.alice_dmp)
    assert [b.professional.name for b in alice.blocked] == ["Damien Petit"]
    assert alice.oppose_emergency
    assert choices(ctx, cast.marc, cast.lea_dmp) == lea_before
    assert _changes(ctx, cast.marc, cast.lea_dmp) == lea_changes


def test_a_session_after_logout_changes_nothing(alice_browser, server, ctx, cast):
    alice_browser.get("/autorisations")
    cookie, token = alice_browser.client.cookies.get("dmp_session"), alice_browser.csrf()
    before = choices(ctx, cast.alice, cast.alice_dmp)
    assert alice_browser.post("/deconnexion", {}).status_code == 303
    replay = Browser(server)
    try:
        replay.client.cookies.set("dmp_session", cookie)
        for url, fields in _actions(cast):
            refused = replay.post(url, fields, csrf=token)
            assert refused.status_code == 303, url
            assert refused.headers["location"].startswith("/connexion")
        for page in ("/autorisations", "/autorisations/rechercher?q=martin"):
            answer = replay.get(page)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/connexion")
    finally:
        replay.close()
    assert choices(ctx, cast.alice, cast.alice_dmp) == before


def test_an_anonymous_session_with_its_own_token_changes_nothing(browser, ctx, cast):
    browser.get("/connexion")  # a session, not signed in, and its CSRF token
    before = choices(ctx, cast.alice, cast.alice_dmp)
    for url, fields in _actions(cast):
        refused = browser.post(url, fields)
        assert refused.status_code == 303, url
        assert refused.headers["location"].startswith("/connexion")
    assert choices(ctx, cast.alice, cast.alice_dmp) == before


@pytest.mark.parametrize(
    ("url", "fields", "status", "message"),
    [
        ("/autorisations/bloquer", {"id": "pas-un-identifiant"}, 400, "inconnu de l'annuaire"),
        ("/autorisations/bloquer", {}, 400, "obligatoire"),
        ("/autorisations/bloquer", {"id": str(uuid.uuid4())}, 404, "Professionnel inconnu."),
        ("/autorisations/autoriser", {"type": "record", "id": "{chloe}"}, 400, "Choisissez"),
        ("/autorisations/autoriser", {"type": "professional", "id": "{chu}"}, 404, "inconnu"),
        ("/autorisations/retirer", {"type": "record", "id": "{chloe}"}, 404, "n'existe pas"),
        ("/autorisations/acces-urgence", {"opposition": "si"}, 400, "oui ou par non"),
        ("/autorisations/acces-urgence", {"opposition": "peut-être"}, 400, "trop long"),
        ("/autorisations/acces-samu", {"opposition": "OUI"}, 400, "oui ou par non"),
    ],
)
def test_input_no_form_sends_is_refused_in_french(
    alice_browser, ctx, cast, url, fields, status, message
):
    alice_browser.get("/autorisations")
    before = choices(ctx, cast.alice, cast.alice_dmp)
    ids = {"chloe": cast.chloe.professional_id, "chu": cast.chu.id}
    refused = alice_browser.post(url, {k: v.format(**ids) for k, v in fields.items()})
    assert refused.status_code == status
    assert message in read(refused)
    assert refused.headers["cache-control"] == "no-store"
    assert choices(ctx, cast.alice, cast.alice_dmp) == before


def test_the_confirmation_is_one_of_the_pages_own_sentences(alice_browser):
    shown = read(alice_browser.get("/autorisations", params={"fait": "blocage"}))
    assert "Professionnel bloqué" in shown
    forged = alice_browser.get("/autorisations", params={"fait": "<b>Votre DMP est détruit</b>"})
    assert forged.status_code == 200
    assert "détruit" not in read(forged)
    assert 'role="status"' not in forged.text
