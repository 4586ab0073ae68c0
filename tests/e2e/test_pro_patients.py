"""The professional portal: finding a patient's DMP by INS (none, active, closed, destroyed),
and creating one at the patient's request, with the brochure, the consent and the contacts;
the hand-out's credentials open the patient's portal."""

from __future__ import annotations

from html import unescape

from dmp.domain.model import PatientActor
from dmp.services import records
from dmp.services.context import Context
from tests.e2e.portal import Browser, first_log_in
from tests.personas import ALICE_INS, Cast, fresh, ins

NEW_INS = ins("1920275123099")
IDENTITY = {"nom": "Garnier", "prenoms": "Paul", "naissance": "1992-02-14", "sexe": "male"}


def _create(browser: Browser, **changes: str) -> object:
    browser.get(f"/pro/patient/creer?ins={NEW_INS.value}")
    fields = {
        "ins": NEW_INS.value,
        "brochure": "2026-1",
        **IDENTITY,
        "courriel": "paul@example.org",
        "informe": "oui",
        "consentement": "oui",
        **changes,
    }
    return browser.post("/pro/patient/creer", {k: v for k, v in fields.items() if v is not None})


def test_an_ins_without_a_dmp_offers_to_create_it(pro_browser) -> None:
    browser = pro_browser("damien")
    found = browser.get(f"/pro/patient?ins={NEW_INS.value}")
    assert found.status_code == 200
    assert "pas de DMP" in found.text
    assert f"/pro/patient/creer?ins={NEW_INS.value}" in found.text


def test_an_active_dmp_shows_its_state_and_the_patient_to_who_may_open_it(
    pro_browser, cast: Cast
) -> None:
    bruno = pro_browser("bruno")
    found = bruno.get(f"/pro/patient?ins={ALICE_INS.value}")
    assert "DMP actif" in found.text
    assert "Alice Dupont" in found.text
    assert "médecin traitant" in unescape(found.text)
    damien = pro_browser("damien")
    other = damien.get(f"/pro/patient?ins={ALICE_INS.value}")
    assert "DMP actif" in other.text
    assert "Alice" not in other.text  # the identity only to who may open the DMP


def test_a_closed_dmp_shows_its_date_and_how_to_reactivate(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    records.close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Je ne souhaite plus de DMP")
    found = pro_browser("damien").get(f"/pro/patient?ins={ALICE_INS.value}")
    assert "fermé" in unescape(found.text)
    assert "2 mars 2026" in found.text
    assert "réactiver" in unescape(found.text)


def test_a_destroyed_dmp_says_so(ctx: Context, pro_browser, cast: Cast) -> None:
    holder = PatientActor(cast.alice.account_id, cast.alice_dmp, step_up_at=ctx.now())
    records.destroy_record(ctx, holder, cast.alice_dmp)
    found = pro_browser("damien").get(f"/pro/patient?ins={ALICE_INS.value}")
    assert "détruit" in unescape(found.text)


def test_a_wrong_ins_key_is_refused_in_french(pro_browser) -> None:
    wrong = NEW_INS.value[:13] + ("00" if NEW_INS.value[13:] != "00" else "01")
    refused = pro_browser("damien").get(f"/pro/patient?ins={wrong}")
    assert refused.status_code == 400
    assert "clé" in unescape(refused.text).lower()


def test_the_creation_shows_the_brochure_and_hands_out_the_credentials(
    pro_browser, server: str, last_code
) -> None:
    browser = pro_browser("damien")
    form = browser.get(f"/pro/patient/creer?ins={NEW_INS.value}")
    assert "Votre Dossier Médical Partagé" in unescape(form.text)  # the brochure, shown
    assert 'name="consentement"' in form.text
    handout = _create(browser)
    assert handout.status_code == 200
    text = unescape(handout.text)
    login = text.split('id="identifiant">')[1].split("<")[0]
    password = text.split('id="mot-de-passe">')[1].split("<")[0]
    assert "/connexion" in text
    found = browser.get(f"/pro/patient?ins={NEW_INS.value}")
    assert "DMP actif" in found.text
    patient = Browser(server)
    try:
        first_log_in(patient, login, password, last_code)
        assert patient.get("/tableau-de-bord").status_code == 200
    finally:
        patient.close()


def test_no_dmp_without_the_consent(pro_browser) -> None:
    browser = pro_browser("damien")
    refused = _create(browser, consentement=None)
    assert refused.status_code == 400
    assert "consentement" in unescape(refused.text)
    assert "pas de DMP" in browser.get(f"/pro/patient?ins={NEW_INS.value}").text


def test_no_dmp_without_a_contact(pro_browser) -> None:
    browser = pro_browser("damien")
    refused = _create(browser, courriel=None)
    assert refused.status_code == 400
    assert "pas de DMP" in browser.get(f"/pro/patient?ins={NEW_INS.value}").text


def test_no_second_dmp_for_an_ins(pro_browser) -> None:
    browser = pro_browser("damien")
    browser.get(f"/pro/patient/creer?ins={ALICE_INS.value}")
    refused = browser.post(
        "/pro/patient/creer",
        {
            "ins": ALICE_INS.value,
            "brochure": "2026-1",
            **IDENTITY,
            "courriel": "x@example.org",
            "informe": "oui",
            "consentement": "oui",
        },
    )
    assert refused.status_code == 409


def test_the_creation_needs_its_csrf_token(pro_browser) -> None:
    browser = pro_browser("damien")
    browser.get(f"/pro/patient/creer?ins={NEW_INS.value}")
    forged = browser.post(
        "/pro/patient/creer",
        {"ins": NEW_INS.value, "brochure": "2026-1", **IDENTITY, "consentement": "oui"},
        csrf="forged",
    )
    assert forged.status_code == 403
    assert "pas de DMP" in browser.get(f"/pro/patient?ins={NEW_INS.value}").text
