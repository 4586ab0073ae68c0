"""The notices the patient chooses (SPEC §5), over HTTP against a served app, both backends:
the choices made on the page, then what a real SMTP server receives when the outbox is
delivered — nothing of a kind turned off, the others as before, the required ones always."""

from __future__ import annotations

import json
from urllib.parse import quote

from sqlalchemy import select, update

from dmp.adapters.db.tables import accounts
from dmp.services.delivery import dispatch
from dmp.services.notices import notice_table
from tests.e2e.fhir import created_id, ins_token, provide_bundle
from tests.e2e.portal import Browser
from tests.factories import PDF
from tests.personas import ALICE_INS, LEA_INS

ADDED = "Un document a été ajouté à votre DMP"
EMERGENCY = "Accès en urgence à votre DMP"
FIRST = "Un nouveau professionnel a accédé à votre DMP"
EVERYTHING = {
    "first_access": ["email", "sms"],
    "new_document": ["email", "sms"],
    "emergency": ["email", "sms"],
    "declared_authorization": ["email", "sms"],
    "hidden_document": ["email", "sms"],
    "medecin_traitant": ["email", "sms"],
    "closure": ["email", "sms"],
    "destruction": ["email", "sms"],
    "login_factors": ["email", "sms"],
}


def choose(browser: Browser, **changes: list[str]):
    """Post the page's form: every notice by every channel, but ``changes``."""
    browser.get("/notifications")
    return browser.post("/notifications", {**EVERYTHING, **changes})  # type: ignore[dict-item]


def delivered(ctx, mailbox, to="alice@example.org") -> list[str]:
    """Deliver the outbox; the subjects the patient receives from then on."""
    before = len(mailbox.received)
    dispatch(ctx)
    return [m.email["Subject"] for m in mailbox.received[before:] if to in m.rcpt_tos]


def provide(api) -> str:
    response = api.post("/fhir", json=provide_bundle(ALICE_INS, PDF), as_="bruno")
    assert response.status_code == 200, response.text
    return created_id(response)


def emergency_search(api, who="damien"):
    headers = {"X-DMP-Access-Mode": "emergency", "X-DMP-Justification": quote("Coma")}
    params = {"patient.identifier": ins_token(ALICE_INS)}
    response = api.get("/fhir/DocumentReference", params=params, as_=who, headers=headers)
    assert response.status_code == 200, response.text


def stored(ctx, cast) -> str | None:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(accounts.c.notices).where(accounts.c.id == cast.alice.account_id))
        return row.scalar_one()  # type: ignore[no-any-return]


# --- the page -------------------------------------------------------------------------------------


def test_the_page_offers_every_notice_by_the_channels_registered(alice_browser):
    page = alice_browser.get("/notifications")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert '<th scope="col">Courriel</th>' in page.text
    assert '<th scope="col">SMS</th>' in page.text
    for key in EVERYTHING:
        assert f'name="{key}" value="email" checked' in page.text
    required = [kind for kind in notice_table().kinds.values() if kind.required]
    assert len(required) >= 3  # emergency, a declared authorization, the médecin traitant…
    assert page.text.count("<strong>Obligatoire</strong>") == len(required)


def test_a_notice_turned_off_is_sent_no_more_and_the_others_still_are(
    api, alice_browser, ctx, mailbox
):
    delivered(ctx, mailbox)  # what was queued before: sent as chosen then
    provide(api)  # queued while the patient still wanted it…
    saved = choose(alice_browser, new_document=[])
    assert saved.status_code == 303
    assert "Vos choix sont enregistrés" in alice_browser.follow(saved).text
    provide(api)
    emergency_search(api)
    subjects = delivered(ctx, mailbox)
    assert ADDED not in subjects  # … and not sent once turned off, nor the next one
    assert EMERGENCY in subjects
    assert FIRST in subjects
    # Turned on again, it comes back.
    choose(alice_browser)
    provide(api)
    assert delivered(ctx, mailbox) == [ADDED]
    # The change is in the patient's history.
    history = alice_browser.get("/historique").text
    assert "Vous avez changé les choix de notification le " in history


def test_a_channel_turned_off_is_not_used_for_that_notice(api, alice_browser, ctx, mailbox, cast):
    delivered(ctx, mailbox)
    choose(alice_browser, first_access=["sms"], new_document=["sms"])
    provide(api)
    emergency_search(api)
    subjects = delivered(ctx, mailbox)
    assert subjects == [EMERGENCY]  # the first access and the document: by SMS only
    assert json.loads(stored(ctx, cast) or "{}")["first_access"] == ["sms"]


def test_a_required_notice_cannot_be_turned_off_and_always_arrives(
    api, alice_browser, ctx, mailbox, cast
):
    delivered(ctx, mailbox)
    before = stored(ctx, cast)
    refused = choose(alice_browser, emergency=[])
    assert refused.status_code == 400
    assert "obligatoire" in refused.text
    assert stored(ctx, cast) == before  # nothing changed
    # By SMS only, as she may choose; then her phone number is gone: it comes by e-mail.
    assert choose(alice_browser, emergency=["sms"]).status_code == 303
    with ctx.engine.begin() as conn:
        conn.execute(
            update(accounts).where(accounts.c.id == cast.alice.account_id).values(phone_enc=None)
        )
    emergency_search(api)
    assert EMERGENCY in delivered(ctx, mailbox)


# --- attacks --------------------------------------------------------------------------------------


def test_a_form_without_or_with_a_wrong_csrf_token_changes_nothing(alice_browser, ctx, cast):
    alice_browser.get("/notifications")
    for token in ("", "forged-token"):
        data = {**EVERYTHING, "new_document": []}
        refused = alice_browser.post("/notifications", data, csrf=token)  # type: ignore[arg-type]
        assert refused.status_code == 403
        assert "formulaire a expiré" in refused.text
    assert stored(ctx, cast) is None  # still every notice by every channel


def test_a_session_after_logout_changes_nothing(alice_browser, server, ctx, cast):
    alice_browser.get("/notifications")
    token, csrf = alice_browser.client.cookies.get("dmp_session"), alice_browser.csrf()
    assert alice_browser.post("/deconnexion", {}).status_code == 303
    replay = Browser(server)
    try:
        replay.client.cookies.set("dmp_session", token)
        assert replay.get("/notifications").status_code == 303
        answer = replay.client.post("/notifications", data={"csrf": csrf, "closure": "email"})
        assert answer.status_code in (303, 403)
        assert answer.headers.get("location", "/connexion").startswith("/connexion")
    finally:
        replay.close()
    assert stored(ctx, cast) is None


def test_the_last_message_of_a_destroyed_dmp_goes_as_chosen(
    alice_browser, ctx, mailbox, cast, clock
):
    from dmp.domain.model import PatientActor
    from dmp.services.records import destroy_record

    delivered(ctx, mailbox)
    choose(alice_browser, destruction=[])
    alice = PatientActor(cast.alice.account_id, cast.alice_dmp, step_up_at=clock.now)
    destroy_record(ctx, alice, cast.alice_dmp)
    assert "Votre DMP a été détruit" not in delivered(ctx, mailbox)


def test_a_legal_representative_chooses_the_notices_of_the_minors_dmp(
    server, api, ctx, mailbox, cast, last_code
):
    """The minor's account receives the DMP's notices; the representative, acting for the
    minor, chooses them."""
    from tests.e2e.portal import first_log_in

    marc = Browser(server)
    try:
        first_log_in(marc, cast.marc_login, cast.marc_password, last_code)
        page = marc.get("/notifications")
        assert "du DMP de Léa Lefèvre" in page.text
        assert '<th scope="col">SMS</th>' not in page.text  # Léa registered no phone
        delivered(ctx, mailbox, to="lea@example.org")
        assert choose(marc, new_document=[]).status_code == 303
        response = api.post("/fhir", json=provide_bundle(LEA_INS, PDF), as_="bruno")
        assert response.status_code == 200
        assert ADDED not in delivered(ctx, mailbox, to="lea@example.org")
    finally:
        marc.close()
