"""Who may enter the DMP, decided by the patient in the portal (SPEC §3.1, §3.2, §5), over HTTP
against the served app, both backends: each page and each change, read back on the page, in
the services, in the patient's history, and in what the professionals' tokens then open."""

from __future__ import annotations

from dmp import policy
from dmp.services import authorizations as auth
from dmp.services import records
from dmp.services.directory import issue_token
from tests.e2e.authorizations import (
    LAW,
    alice_documents,
    choices,
    done,
    entries,
    forms,
    granted,
    press,
    read,
)
from tests.e2e.portal import first_log_in
from tests.personas import ALICE_INS, consent, fresh

LIST = "/autorisations"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def test_the_list_says_who_may_enter_how_and_since_when(alice_browser, ctx, cast):
    auth.declare_authorization(ctx, cast.damien, cast.alice_dmp)  # at the point of care
    page = alice_browser.get(LIST)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = read(page)
    assert "Titulaire du DMP : <strong>Alice Dupont</strong>" in text
    for name, how in (
        ("Bruno Martin", "A créé le DMP"),
        ("Chloé Bernard", "Autorisation donnée en ligne"),
        ("Pauline Leroy", "Autorisation donnée en ligne"),
        ("Damien Petit", "Déclarée par le professionnel lors d'une consultation"),
    ):
        row = text[text.index(f'<th scope="row">{name}') :].split("</tr>")[0]
        assert how in row, (name, row)
        assert "2 mars 2026" in row
    assert "Bruno Martin</strong> — Médecin, Médecine générale" in text  # the médecin traitant
    assert "Aucun professionnel n'est bloqué." in text
    assert text.count("<strong>Possible.</strong>") == 2  # both emergency accesses
    assert '<th scope="col">Comment</th>' in text
    # Each of them has their actions, as forms posted with the session's token.
    for action in ("/autorisations/retirer", "/autorisations/bloquer"):
        assert {f["csrf"] for f in forms(alice_browser, action)} == {alice_browser.csrf()}
    assert [f["id"] for f in forms(alice_browser, "/autorisations/medecin-traitant")] == [
        str(cast.damien.professional_id)  # the médecins only, not the médecin traitant
    ]
    # The list is read through the door: in Alice's history.
    assert [e.allowed for e in entries(ctx, cast.alice, cast.alice_dmp, "authorization.list")] == [
        True
    ]


def test_a_reactivation_shows_as_such(alice_browser, ctx, cast):
    records.close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Je réfléchis")
    records.reactivate_record(ctx, cast.samuel, ALICE_INS, consent(ctx))
    text = read(alice_browser.get(LIST))
    row = text[text.index('<th scope="row">Samuel Moreau') :].split("</tr>")[0]
    assert "A réactivé le DMP" in row


def test_authorize_a_professional_found_by_name(alice_browser, api, ctx, cast):
    assert alice_documents(api, "damien") == 404
    results = alice_browser.get("/autorisations/rechercher", params={"q": "DAMIEN petit"})
    assert results.status_code == 200
    assert results.headers["cache-control"] == "no-store"
    assert "Médecin" in read(results)
    assert cast.damien.rpps in read(results)
    damien = str(cast.damien.professional_id)
    text = done(alice_browser, press(alice_browser, "/autorisations/autoriser", id=damien))
    assert "Autorisation enregistrée." in text
    assert granted(ctx, cast.alice, cast.alice_dmp)["Damien Petit"] == "patient"
    assert alice_documents(api, "damien") == 200
    grant = entries(ctx, cast.alice, cast.alice_dmp, "authorization.grant")[0]  # the newest
    assert (grant.allowed, grant.target_id) == (True, damien)


def test_search_by_rpps_and_finess_and_authorize_an_establishment(alice_browser, api, ctx, cast):
    chloe = cast.professionals["chloe"]
    by_rpps = read(alice_browser.get("/autorisations/rechercher", params={"q": chloe.rpps}))
    assert "Chloé Bernard" in by_rpps
    assert "Infirmier" in by_rpps
    assert "Damien" not in by_rpps
    by_name = read(alice_browser.get("/autorisations/rechercher", params={"q": "  chu de NANTES"}))
    assert "CHU de Nantes" in by_name
    by_finess = alice_browser.get("/autorisations/rechercher", params={"q": cast.chu.finess})
    assert "Centre hospitalier" in read(by_finess)
    hugo = issue_token(ctx, cast.hugo.rpps, finess=cast.chu.finess).token  # acting for the CHU
    assert alice_documents(api, hugo) == 404
    pressed = press(alice_browser, "/autorisations/autoriser", type="establishment", id=cast.chu.id)
    text = done(alice_browser, pressed)
    assert "toute son équipe de soins" in text
    assert granted(ctx, cast.alice, cast.alice_dmp)["CHU de Nantes"] == "patient"
    assert alice_documents(api, hugo) == 200


def test_a_number_in_other_digits_or_of_no_register_is_refused_in_french(alice_browser, cast):
    rpps = cast.professionals["chloe"].rpps
    for typed, message in (
        (rpps.translate(ARABIC_INDIC), "RPPS invalide"),
        (cast.chu.finess.translate(ARABIC_INDIC), "FINESS invalide"),
        ("12345", "Un numéro RPPS compte 11 chiffres"),
        ("é", "au moins deux lettres"),
    ):
        refused = alice_browser.get("/autorisations/rechercher", params={"q": typed})
        assert refused.status_code == 400
        assert message in read(refused)
        assert 'role="alert"' in read(refused)
        assert f'value="{typed}"' in read(refused)  # what was typed, to correct it
        assert "Chloé Bernard" not in read(refused)


def test_the_law_refuses_elise_and_the_mutuelle_and_the_history_says_so(alice_browser, ctx, cast):
    found = read(alice_browser.get("/autorisations/rechercher", params={"q": "élise"}))
    assert "Médecin (santé au travail)" in found  # she is in the directory: found, not hidden
    elise = str(cast.elise.professional_id)
    refused = press(alice_browser, "/autorisations/autoriser", type="professional", id=elise)
    assert refused.status_code == 403
    assert LAW in read(refused)
    assert refused.headers["cache-control"] == "no-store"
    alice_browser.get("/autorisations/rechercher", params={"q": "Mutuelle"})
    mutuelle = str(cast.mutuelle.id)
    refused = press(alice_browser, "/autorisations/autoriser", type="establishment", id=mutuelle)
    assert refused.status_code == 403
    assert LAW in read(refused)
    assert policy.REASONS["excluded-actor"].startswith(LAW)
    refusals = [
        (e.allowed, e.reason, e.target_kind, e.target_id)
        for e in entries(ctx, cast.alice, cast.alice_dmp, "authorization.grant")
        if not e.allowed
    ]
    assert refusals == [
        (False, "excluded-actor", "establishment", mutuelle),
        (False, "excluded-actor", "professional", elise),
    ]
    assert not {"Élise Durand", "Mutuelle Atlantique"} & set(
        granted(ctx, cast.alice, cast.alice_dmp)
    )


def test_revoke(alice_browser, api, ctx, cast):
    assert alice_documents(api, "chloe") == 200
    alice_browser.get(LIST)
    chloe = str(cast.chloe.professional_id)
    text = done(alice_browser, press(alice_browser, "/autorisations/retirer", id=chloe))
    assert "Autorisation retirée." in text
    assert "Chloé Bernard" not in text
    assert "Chloé Bernard" not in granted(ctx, cast.alice, cast.alice_dmp)
    assert alice_documents(api, "chloe") == 404
    [search] = entries(ctx, cast.alice, cast.alice_dmp, "document.search")[:1]
    assert (search.allowed, search.reason) == (False, "not-authorized")
    # The same form once more: nothing left to revoke, and said so.
    again = alice_browser.post("/autorisations/retirer", {"type": "professional", "id": chloe})
    assert again.status_code == 404
    assert "Cette autorisation n'existe pas." in read(again)


def test_blocking_chloe_keeps_her_out_by_every_path(alice_browser, api, ctx, cast):
    alice_browser.get(LIST)
    chloe = str(cast.chloe.professional_id)
    text = done(alice_browser, press(alice_browser, "/autorisations/bloquer", id=chloe))
    assert "Professionnel bloqué" in text
    assert forms(alice_browser, "/autorisations/debloquer") == [
        {"csrf": alice_browser.csrf(), "id": chloe}
    ]
    assert [b.professional.name for b in choices(ctx, cast.alice, cast.alice_dmp).blocked] == [
        "Chloé Bernard"
    ]
    assert "Chloé Bernard" not in granted(ctx, cast.alice, cast.alice_dmp)
    assert alice_documents(api, "chloe") == 404
    assert alice_documents(api, "chloe", mode="emergency") == 404
    declared = api.post(
        "/fhir/Patient/$declare-authorization",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "ins", "valueString": ALICE_INS.value}],
        },
        as_="chloe",
    )
    assert declared.status_code == 403
    refusals = [
        (e.action, e.reason)
        for e in entries(ctx, cast.alice, cast.alice_dmp)
        if e.action in ("document.search", "authorization.declare")
    ]
    assert refusals == [
        ("authorization.declare", "blocked"),
        ("document.search", "blocked"),
        ("document.search", "blocked"),
    ]
    # Unblocked, she is not authorized for all that.
    text = done(alice_browser, press(alice_browser, "/autorisations/debloquer", id=chloe))
    assert "Professionnel débloqué" in text
    assert "Aucun professionnel n'est bloqué." in text
    assert choices(ctx, cast.alice, cast.alice_dmp).blocked == []
    assert alice_documents(api, "chloe") == 404
    assert entries(ctx, cast.alice, cast.alice_dmp, "document.search")[0].reason == "not-authorized"


def test_blocking_the_medecin_traitant_removes_the_designation(alice_browser, api, ctx, cast):
    alice_browser.get(LIST)
    bruno = str(cast.bruno.professional_id)
    pressed = [f for f in forms(alice_browser, "/autorisations/bloquer") if f["id"] == bruno]
    assert len(pressed) == 2  # in the médecin traitant's section, and in the list
    text = done(alice_browser, alice_browser.post("/autorisations/bloquer", {"id": bruno}))
    assert "Aucun médecin traitant désigné." in text
    assert choices(ctx, cast.alice, cast.alice_dmp).medecin_traitant is None
    assert alice_documents(api, "bruno") == 404
    assert entries(ctx, cast.alice, cast.alice_dmp, "document.search")[0].reason == "blocked"


def test_designate_or_change_the_medecin_traitant_a_medecin_only(alice_browser, api, ctx, cast):
    alice_browser.get("/autorisations/rechercher", params={"q": "petit"})
    damien = str(cast.damien.professional_id)
    text = done(alice_browser, press(alice_browser, "/autorisations/medecin-traitant", id=damien))
    assert "Médecin traitant enregistré." in text
    assert "Damien Petit</strong> — Médecin" in text
    assert choices(ctx, cast.alice, cast.alice_dmp).medecin_traitant.name == "Damien Petit"
    assert alice_documents(api, "damien") == 200  # the médecin traitant is always authorized
    change = entries(ctx, cast.alice, cast.alice_dmp, "medecin-traitant.designate")[0]
    assert (change.allowed, change.target_id) == (True, damien)
    # A nurse is refused, with the policy's reason; so is the occupational physician.
    for who, reason in ((cast.chloe, "not-a-medecin"), (cast.elise, "excluded-actor")):
        refused = alice_browser.post(
            "/autorisations/medecin-traitant", {"id": str(who.professional_id)}
        )
        assert refused.status_code == 403
        assert policy.REASONS[reason] in read(refused)
    assert [
        (e.allowed, e.reason)
        for e in entries(ctx, cast.alice, cast.alice_dmp, "medecin-traitant.designate")
    ][:3] == [(False, "excluded-actor"), (False, "not-a-medecin"), (True, "designated")]
    assert choices(ctx, cast.alice, cast.alice_dmp).medecin_traitant.name == "Damien Petit"


def test_emergency_and_samu_oppositions_are_separate(alice_browser, api, ctx, cast):
    alice_browser.get(LIST)
    text = done(
        alice_browser, press(alice_browser, "/autorisations/acces-urgence", opposition="oui")
    )
    assert "aucun professionnel ne pourra consulter le DMP en urgence" in text
    urgence, samu = text.split('id="samu"')
    assert "Refusé : vous vous y opposez." in urgence
    assert "<strong>Possible.</strong>" in samu
    seen = choices(ctx, cast.alice, cast.alice_dmp)
    assert (seen.oppose_emergency, seen.oppose_samu) == (True, False)
    assert alice_documents(api, "damien", mode="emergency") == 404
    assert entries(ctx, cast.alice, cast.alice_dmp, "document.search")[0].reason == (
        "emergency-opposed"
    )
    assert alice_documents(api, "samuel", mode="samu") == 200
    text = done(alice_browser, press(alice_browser, "/autorisations/acces-samu", opposition="oui"))
    assert "les médecins régulateurs du SAMU" in text
    assert alice_documents(api, "samuel", mode="samu") == 404
    assert entries(ctx, cast.alice, cast.alice_dmp, "document.search")[0].reason == "samu-opposed"
    text = done(
        alice_browser, press(alice_browser, "/autorisations/acces-urgence", opposition="non")
    )
    assert "L'accès en urgence (bris de glace) est de nouveau possible." in text
    seen = choices(ctx, cast.alice, cast.alice_dmp)
    assert (seen.oppose_emergency, seen.oppose_samu) == (False, True)
    assert alice_documents(api, "damien", mode="emergency") == 200


def test_a_legal_representative_uses_the_same_pages(browser, api, ctx, cast, last_code):
    first_log_in(browser, cast.marc_login, cast.marc_password, last_code)
    page = browser.get(LIST)
    assert "Titulaire du DMP : <strong>Léa Lefèvre</strong>" in read(page)
    alice_before = choices(ctx, cast.alice, cast.alice_dmp)
    browser.get("/autorisations/rechercher", params={"q": "damien"})
    damien = str(cast.damien.professional_id)
    done(browser, press(browser, "/autorisations/autoriser", id=damien))
    browser.get("/autorisations/rechercher", params={"q": "chloe"})
    chloe = str(cast.chloe.professional_id)
    done(browser, press(browser, "/autorisations/bloquer", id=chloe))
    text = done(browser, press(browser, "/autorisations/acces-samu", opposition="oui"))
    assert "Damien Petit" in text
    lea = choices(ctx, cast.marc, cast.lea_dmp)
    assert {g.subject.name for g in lea.authorizations} == {"Bruno Martin", "Damien Petit"}
    assert [b.professional.name for b in lea.blocked] == ["Chloé Bernard"]
    assert (lea.oppose_emergency, lea.oppose_samu) == (False, True)
    browser.get("/autorisations/rechercher", params={"q": "mutuelle"})
    refused = press(browser, "/autorisations/autoriser", type="establishment", id=cast.mutuelle.id)
    assert refused.status_code == 403
    assert LAW in read(refused)
    assert choices(ctx, cast.alice, cast.alice_dmp) == alice_before  # nothing of Alice's


def test_a_closed_dmp_shows_its_choices_and_changes_none(alice_browser, ctx, cast):
    records.close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Je n'en veux plus")
    page = alice_browser.get(LIST)
    assert "Ce DMP est fermé" in read(page)
    assert "Chloé Bernard" in read(page)
    assert "/autorisations/bloquer" not in read(page)
    refused = alice_browser.post("/autorisations/bloquer", {"id": str(cast.chloe.professional_id)})
    assert refused.status_code == 409
    assert "Ce DMP est fermé." in read(refused)
    assert choices(ctx, cast.alice, cast.alice_dmp).blocked == []
