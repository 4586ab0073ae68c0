"""The patient's account in the portal (SPEC §5: change contact channels and password), over
HTTP against a served app, on both backends: a fresh code first, a new address confirmed by a
code sent to it (and to it only), a channel removed while another remains, the password
changed with the current one; every change and every refusal in the history, the patient told.
"""

from __future__ import annotations

from html import unescape

from sqlalchemy import select

from dmp.adapters.db.tables import accounts, outbox
from dmp.domain.accounts import Account
from dmp.services.accounts import contacts_of
from dmp.services.context import Context
from tests.e2e.portal import STRONG, Browser, fresh_code, log_in
from tests.e2e.portal_documents import entries

NEW_EMAIL = "alice.nouvelle@example.org"
OTHER = "encore une phrase de passe"


def _contacts(ctx: Context, cast):
    with ctx.engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.id == cast.alice.account_id))
        return contacts_of(ctx, Account(**row.mappings().one()))


def _outbox(ctx: Context) -> list[tuple[str, str]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.template, outbox.c.recipient_kind)).all()
    return [(r.template, r.recipient_kind) for r in rows]


def _trail(ctx, cast, action: str) -> list[tuple[bool, str]]:
    return [
        (e.allowed, e.reason)
        for e in entries(ctx, cast.alice, cast.alice_dmp)
        if e.action == action
    ]


def _ask(browser: Browser, address: str = NEW_EMAIL, channel: str = "courriel", **kw):
    browser.get("/compte")
    return browser.post("/compte/coordonnees", {"canal": channel, "adresse": address}, **kw)


def test_the_page_shows_the_login_and_masked_channels(alice_browser, cast):
    page = alice_browser.get("/compte")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert cast.alice_login in page.text
    assert "a•••e@example.org" in page.text
    assert "+33 6 •• •• •• 78" in page.text
    assert "alice@example.org" not in page.text
    assert "612345678" not in page.text
    assert '<a href="/compte" aria-current="page">Mon compte</a>' in page.text


def test_a_new_email_is_confirmed_by_a_code_sent_to_it(
    alice_browser, ctx, cast, mailbox, last_code
):
    asked = _ask(alice_browser)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/compte/coordonnees/code"
    assert mailbox.received[-1].rcpt_tos == [NEW_EMAIL]  # the code went to the new address
    assert _contacts(ctx, cast).email == "alice@example.org"  # nothing changed yet
    alice_browser.follow(asked)
    done = alice_browser.post("/compte/coordonnees/code", {"code": last_code()})
    assert done.status_code == 303
    assert done.headers["location"] == "/compte?fait=email"
    assert "Votre nouvelle adresse électronique est enregistrée." in alice_browser.follow(done).text
    assert _contacts(ctx, cast).email == NEW_EMAIL
    assert _contacts(ctx, cast).phone == "+33612345678"
    assert _trail(ctx, cast, "contact.email-set") == [(True, "holder")]
    sentences = [e.sentence for e in entries(ctx, cast.alice, cast.alice_dmp)]
    assert any(
        s.startswith("Vous avez enregistré une nouvelle adresse électronique") for s in sentences
    )
    # Told: the account (its channels now), and the address replaced, in case it was not her.
    queued = _outbox(ctx)
    assert ("contact_changed", "account") in queued
    assert ("contact_changed", "contact") in queued


def test_the_code_sent_to_the_old_channel_does_not_confirm(
    alice_browser, ctx, cast, mailbox, last_code
):
    _ask(alice_browser)
    new_code = last_code()
    # A step-up code, sent to the registered (old) address: it is not the new address's code.
    alice_browser.get("/confirmer?suite=/compte")
    alice_browser.post("/confirmer/envoi", {"canal": "email", "suite": "/compte"})
    assert mailbox.received[-1].rcpt_tos == ["alice@example.org"]
    old_code = last_code()
    assert old_code != new_code
    alice_browser.get("/compte/coordonnees/code")
    refused = alice_browser.post("/compte/coordonnees/code", {"code": old_code})
    assert refused.status_code == 401
    assert "Code incorrect ou expiré" in refused.text
    assert _contacts(ctx, cast).email == "alice@example.org"
    assert _trail(ctx, cast, "contact.email-set") == [(False, "wrong-code")]


def test_an_expired_code_and_a_used_one_are_refused(alice_browser, ctx, cast, clock, last_code):
    _ask(alice_browser)
    alice_browser.get("/compte/coordonnees/code")
    clock.advance(minutes=5, seconds=1)
    refused = alice_browser.post("/compte/coordonnees/code", {"code": last_code()})
    assert refused.status_code == 401
    assert _contacts(ctx, cast).email == "alice@example.org"
    fresh_code(alice_browser, last_code, "/compte")
    _ask(alice_browser)
    code = last_code()
    alice_browser.get("/compte/coordonnees/code")
    assert alice_browser.post("/compte/coordonnees/code", {"code": code}).status_code == 303
    again = alice_browser.post("/compte/coordonnees/code", {"code": code})
    assert again.status_code == 401  # used once
    newest_first = [(False, "wrong-code"), (True, "holder"), (False, "wrong-code")]
    assert _trail(ctx, cast, "contact.email-set") == newest_first


def test_five_wrong_tries_spend_the_code(alice_browser, ctx, cast, last_code):
    _ask(alice_browser)
    right = last_code()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    alice_browser.get("/compte/coordonnees/code")
    for _ in range(5):
        assert alice_browser.post("/compte/coordonnees/code", {"code": wrong}).status_code == 401
    assert alice_browser.post("/compte/coordonnees/code", {"code": right}).status_code == 401
    assert _contacts(ctx, cast).email == "alice@example.org"


def test_a_code_asked_in_another_session_confirms_nothing(
    alice_browser, other_browser, ctx, cast, last_code
):
    _ask(alice_browser)
    code = last_code()
    log_in(other_browser, cast.alice_login, STRONG, last_code)
    fresh_code(other_browser, last_code, "/compte")
    other_browser.get("/compte")
    refused = other_browser.post("/compte/coordonnees/code", {"code": code})
    assert refused.status_code == 401
    assert _contacts(ctx, cast).email == "alice@example.org"


def test_a_fresh_code_first(alice_browser, ctx, cast, clock, mailbox):
    clock.advance(minutes=11)  # the code entered at login is no longer fresh
    sent = len(mailbox.received)
    asked = _ask(alice_browser)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/confirmer?suite=%2Fcompte"
    assert len(mailbox.received) == sent  # no code sent to the new address
    alice_browser.get("/compte")
    removed = alice_browser.post("/compte/coordonnees/retrait", {"canal": "telephone"})
    assert removed.headers["location"] == "/confirmer?suite=%2Fcompte"
    alice_browser.get("/compte")
    password = {"actuel": STRONG, "mot_de_passe": OTHER, "confirmation": OTHER}
    changed = alice_browser.post("/compte/mot-de-passe", password)
    assert changed.headers["location"] == "/confirmer?suite=%2Fcompte"
    assert _contacts(ctx, cast).phone == "+33612345678"
    for action in ("contact.email-set", "contact.phone-remove", "account.password"):
        assert _trail(ctx, cast, action) == [(False, "step-up-required")], action


def test_forms_without_their_token_are_refused(alice_browser, ctx, cast):
    alice_browser.get("/compte")
    for url, data in (
        ("/compte/coordonnees", {"canal": "courriel", "adresse": NEW_EMAIL}),
        ("/compte/coordonnees/retrait", {"canal": "telephone"}),
        ("/compte/mot-de-passe", {"actuel": STRONG, "mot_de_passe": OTHER, "confirmation": OTHER}),
    ):
        for token in ("", "not-the-token"):
            refused = alice_browser.post(url, data, csrf=token)
            assert refused.status_code == 403, url
    assert _contacts(ctx, cast).phone == "+33612345678"
    assert _contacts(ctx, cast).email == "alice@example.org"


def test_a_channel_is_removed_while_another_remains(alice_browser, ctx, cast):
    alice_browser.get("/compte")
    done = alice_browser.post("/compte/coordonnees/retrait", {"canal": "telephone"})
    assert done.headers["location"] == "/compte?fait=retrait"
    assert _contacts(ctx, cast).phone is None
    alice_browser.get("/compte")
    refused = alice_browser.post("/compte/coordonnees/retrait", {"canal": "courriel"})
    assert refused.status_code == 400
    assert "Gardez au moins une coordonnée" in unescape(refused.text)
    assert _contacts(ctx, cast).email == "alice@example.org"
    assert _trail(ctx, cast, "contact.phone-remove") == [(True, "holder")]
    assert ("contact_changed", "contact") in _outbox(ctx)  # the number removed is told


def test_bad_addresses_are_a_clear_400(alice_browser, ctx, cast):
    for channel, address in (
        ("courriel", "pas-une-adresse"),
        ("telephone", "12"),
        ("fax", "x@y.fr"),
    ):
        refused = _ask(alice_browser, address, channel)
        assert refused.status_code == 400, (channel, address)
    same = _ask(alice_browser, "alice@example.org")
    assert same.status_code == 400
    # SMS is not offered by this deployment (e-mail only): said before anything is sent.
    sms = _ask(alice_browser, "06 11 22 33 44", "telephone")
    assert sms.status_code == 400
    assert "n'envoie pas de SMS" in unescape(sms.text)


def test_the_password_changes_with_the_current_one(
    alice_browser, other_browser, ctx, cast, last_code
):
    log_in(other_browser, cast.alice_login, STRONG, last_code)
    assert other_browser.get("/compte").status_code == 200
    alice_browser.get("/compte")
    wrong = {"actuel": "pas le bon mot de passe", "mot_de_passe": OTHER, "confirmation": OTHER}
    refused = alice_browser.post("/compte/mot-de-passe", wrong)
    assert refused.status_code == 400
    assert "Le mot de passe actuel n'est pas le bon." in unescape(refused.text)
    short = {"actuel": STRONG, "mot_de_passe": "court", "confirmation": "court"}
    assert alice_browser.post("/compte/mot-de-passe", short).status_code == 400
    good = {"actuel": STRONG, "mot_de_passe": OTHER, "confirmation": OTHER}
    done = alice_browser.post("/compte/mot-de-passe", good)
    assert done.headers["location"] == "/compte?fait=mot-de-passe"
    assert "dmp_session=" in done.headers["set-cookie"]  # a new session, a new token
    assert alice_browser.follow(done).status_code == 200
    # The other session is over; the new password logs in, the old one no more.
    assert other_browser.get("/compte").headers["location"].startswith("/connexion")
    assert log_in(other_browser, cast.alice_login, STRONG, last_code).status_code == 401
    assert log_in(other_browser, cast.alice_login, OTHER, last_code).status_code == 303
    assert _trail(ctx, cast, "account.password") == [(True, "holder"), (False, "wrong-password")]
    assert ("password_changed", "account") in _outbox(ctx)


def test_after_logout_the_account_is_out_of_reach(alice_browser, ctx, cast):
    page = alice_browser.get("/compte")
    token = alice_browser.csrf()
    cookie = alice_browser.client.cookies.get("dmp_session")
    alice_browser.post("/deconnexion", {})
    alice_browser.client.cookies.set("dmp_session", cookie)  # the old cookie, kept by an attacker
    assert page.status_code == 200
    assert alice_browser.get("/compte").headers["location"].startswith("/connexion")
    posted = alice_browser.client.post(
        "/compte/coordonnees/retrait", data={"csrf": token, "canal": "telephone"}
    )
    assert posted.status_code in (303, 403)
    assert _contacts(ctx, cast).phone == "+33612345678"
