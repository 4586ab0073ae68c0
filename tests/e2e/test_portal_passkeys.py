"""Passkeys (WebAuthn) as the second factor, over HTTP against a served app, both backends. The
test plays the device itself (tests/e2e/authenticator.py: a key pair made with ``cryptography``,
the "none" attestation): registration with a fresh code, login after the identifier and the
password, removal, and the attacks — another key's signature, a replayed answer, a challenge of
another session, a counter going back, a passkey of someone else, a forged form."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from dmp.adapters.db.tables import accounts, outbox, passkeys
from dmp.services import history
from tests.e2e.authenticator import SoftAuthenticator
from tests.e2e.portal import STRONG, Browser

FAILED = "Identifiant, mot de passe ou code incorrect"
HOME = "/compte/securite"


@pytest.fixture
def device(ctx) -> SoftAuthenticator:
    return SoftAuthenticator(ctx.settings.webauthn_origin, ctx.settings.webauthn_rp_id)


def options(browser: Browser, url: str, **fields: str) -> Any:
    """What the page's script fetches: JSON, with the form's CSRF token (the page stays)."""
    answer = browser.client.post(url, data={"csrf": browser.csrf(), **fields})
    assert answer.status_code == 200, answer.text
    return answer.json()


def register(browser: Browser, device: SoftAuthenticator, name: str = "Téléphone"):
    browser.get(HOME)
    made = device.create(options(browser, f"{HOME}/cles/options", nom=name))
    return browser.post(f"{HOME}/cles", {"nom": name, "credential": made})


def at_second_step(browser: Browser, login: str, password: str) -> None:
    browser.get("/connexion")
    sent = browser.post(
        "/connexion", {"identifiant": login, "mot_de_passe": password, "canal": "passkey"}
    )
    assert browser.follow(sent).status_code == 200


def login_challenge(browser: Browser) -> str:
    challenge: str = options(browser, "/connexion/cle/options")["challenge"]
    return challenge


def answer(browser: Browser, credential: str):
    return browser.post("/connexion/cle", {"credential": credential})


def passkey_log_in(browser: Browser, login: str, device: SoftAuthenticator, **how: Any):
    at_second_step(browser, login, STRONG)
    return answer(browser, device.get(login_challenge(browser), **how))


def stored(ctx) -> list[Any]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(select(passkeys)).mappings())


def refused(response) -> bool:
    return response.status_code == 401 and FAILED in response.text


def factor_actions(ctx, cast) -> list[tuple[str, bool]]:
    entries = history.read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries
    return [(e.action, e.allowed) for e in entries if e.action.startswith("factor.")]


def test_a_passkey_is_registered_then_logs_in(alice_browser, browser, cast, ctx, device):
    done = register(alice_browser, device, "Mon téléphone")
    assert done.headers["location"] == f"{HOME}?fait=cle-ajoutee"
    listed = alice_browser.follow(done)
    assert "La clé d'accès est enregistrée" in unescape(listed.text)
    assert "Mon téléphone" in listed.text
    [row] = stored(ctx)
    assert row["account_id"] == cast.alice.account_id
    assert row["credential_id"] == device.credential_id
    assert "Mon téléphone".encode() not in row["name_enc"]  # sealed
    assert factor_actions(ctx, cast) == [("factor.passkey-add", True)]
    with ctx.engine.connect() as conn:
        sent = conn.execute(
            select(outbox.c.template, outbox.c.params).where(
                outbox.c.recipient_id == cast.alice.account_id
            )
        ).all()
    notices = [json.loads(params)["factor"] for t, params in sent if t == "login_factor_added"]
    assert notices == ["Une clé d'accès"]
    signed_in = passkey_log_in(browser, cast.alice_login, device)
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/tableau-de-bord"
    assert browser.get("/tableau-de-bord").status_code == 200
    [row] = stored(ctx)
    assert row["sign_count"] == 1
    assert row["last_used_at"] is not None


def test_a_signature_by_another_key_is_refused(alice_browser, browser, cast, device):
    register(alice_browser, device)
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert refused(passkey_log_in(browser, cast.alice_login, device, signer=stranger))
    assert passkey_log_in(browser, cast.alice_login, device).status_code == 303


def test_a_replayed_answer_is_refused(alice_browser, server, cast, device):
    register(alice_browser, device)
    first, second = Browser(server), Browser(server)
    try:
        at_second_step(first, cast.alice_login, STRONG)
        old_challenge = login_challenge(first)
        captured = device.get(old_challenge)
        assert answer(first, captured).status_code == 303
        at_second_step(second, cast.alice_login, STRONG)
        login_challenge(second)
        assert refused(answer(second, captured))  # the very same answer
        login_challenge(second)
        # Signed anew, its counter ahead: still the old challenge, spent.
        assert refused(answer(second, device.get(old_challenge)))
        assert answer(second, device.get(login_challenge(second))).status_code == 303
    finally:
        first.close()
        second.close()


def test_a_challenge_is_spent_by_a_failed_answer(alice_browser, browser, cast, device):
    register(alice_browser, device)
    at_second_step(browser, cast.alice_login, STRONG)
    challenge = login_challenge(browser)
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert refused(answer(browser, device.get(challenge, signer=stranger)))
    assert refused(answer(browser, device.get(challenge)))  # right, but its challenge is spent
    assert refused(answer(browser, device.get(challenge)))


def test_a_counter_going_back_is_refused(alice_browser, browser, cast, ctx, device):
    register(alice_browser, device)
    assert passkey_log_in(browser, cast.alice_login, device, count=5).status_code == 303
    assert refused(passkey_log_in(browser, cast.alice_login, device, count=3))
    assert refused(passkey_log_in(browser, cast.alice_login, device, count=5))  # not ahead
    assert stored(ctx)[0]["sign_count"] == 5
    assert passkey_log_in(browser, cast.alice_login, device, count=6).status_code == 303
    assert stored(ctx)[0]["sign_count"] == 6


def test_a_challenge_of_another_session_is_refused(alice_browser, server, cast, device):
    register(alice_browser, device)
    mine, theirs = Browser(server), Browser(server)
    try:
        at_second_step(mine, cast.alice_login, STRONG)
        at_second_step(theirs, cast.alice_login, STRONG)
        my_challenge = login_challenge(mine)
        login_challenge(theirs)
        assert refused(answer(theirs, device.get(my_challenge)))
        # Still mine to use.
        assert answer(mine, device.get(my_challenge)).status_code == 303
    finally:
        mine.close()
        theirs.close()


def test_the_passkey_step_tells_nothing(alice_browser, server, cast, device):
    """Before Alice has a passkey and after, with a wrong password, with an unknown identifier:
    the same page, the same question for the device (no credential named), and the same
    failure of an answer signed by a key that is not hers."""
    stranger = ec.generate_private_key(ec.SECP256R1())

    def ask(login: str, password: str) -> tuple[str, dict[str, Any], str]:
        someone = Browser(server)
        try:
            at_second_step(someone, login, password)
            page = someone.page.text.replace(someone.csrf(), "")  # type: ignore[union-attr]
            question = options(someone, "/connexion/cle/options")
            challenge = question.pop("challenge")
            failed = answer(someone, device.get(challenge, signer=stranger))
            return page, question, unescape(failed.text.replace(someone.csrf(), ""))
        finally:
            someone.close()

    before = ask(cast.alice_login, STRONG)  # no passkey yet
    register(alice_browser, device)
    after = ask(cast.alice_login, STRONG)
    wrong_password = ask(cast.alice_login, "not her password at all")
    unknown = ask("NOSUCHLOGIN", "whatever it is")
    assert before == after == wrong_password == unknown
    assert before[1]["allowCredentials"] == []
    assert FAILED in before[2]


def test_someone_elses_passkey_does_not_log_in(alice_browser, server, cast, ctx, device):
    register(alice_browser, device)  # Alice's
    with ctx.engine.begin() as conn:
        lea_login = conn.execute(
            select(accounts.c.login).where(accounts.c.id == cast.lea.account_id)
        ).scalar_one()
        conn.execute(
            update(accounts)
            .where(accounts.c.id == cast.lea.account_id)
            .values(password_hash=ctx.password_hasher.hash(STRONG), must_change_password=False)
        )
    lea = Browser(server)
    try:
        assert refused(passkey_log_in(lea, lea_login, device))
    finally:
        lea.close()


def test_a_removed_passkey_logs_in_no_more(alice_browser, browser, cast, ctx, device):
    register(alice_browser, device)
    [row] = stored(ctx)
    alice_browser.get(HOME)
    removed = alice_browser.post(f"{HOME}/cles/{row['id']}/retrait", {})
    assert removed.headers["location"] == f"{HOME}?fait=cle-retiree"
    assert "Aucune clé d'accès n'est enregistrée" in unescape(alice_browser.follow(removed).text)
    assert stored(ctx) == []
    assert factor_actions(ctx, cast)[:2] == [
        ("factor.passkey-remove", True),
        ("factor.passkey-add", True),
    ]
    assert refused(passkey_log_in(browser, cast.alice_login, device))
    again = alice_browser.post(f"{HOME}/cles/{row['id']}/retrait", {})
    assert again.status_code == 404


def test_registering_or_removing_needs_a_fresh_code(alice_browser, cast, clock, ctx, device):
    register(alice_browser, device, "Première")
    clock.advance(minutes=11)
    page = alice_browser.get(HOME)
    assert "vous confirmerez d'abord avec" in unescape(page.text)
    asked = alice_browser.client.post(
        f"{HOME}/cles/options", data={"csrf": alice_browser.csrf(), "nom": "Seconde"}
    )
    assert asked.status_code == 403
    assert asked.json() == {"location": "/confirmer?suite=%2Fcompte%2Fsecurite"}
    other = SoftAuthenticator(device.origin, device.rp_id)
    made = other.create({"user": {"id": "AA"}, "rp": {"id": device.rp_id}, "challenge": "AA"})
    posted = alice_browser.post(f"{HOME}/cles", {"nom": "Seconde", "credential": made})
    assert posted.headers["location"] == "/confirmer?suite=%2Fcompte%2Fsecurite"
    [row] = stored(ctx)
    alice_browser.get(HOME)
    removal = alice_browser.post(f"{HOME}/cles/{row['id']}/retrait", {})
    assert removal.headers["location"] == "/confirmer?suite=%2Fcompte%2Fsecurite"
    assert len(stored(ctx)) == 1


def test_the_passkey_forms_want_their_csrf_token(alice_browser, browser, cast, ctx, device):
    alice_browser.get(HOME)
    for token in ("", "forged-token"):
        asked = alice_browser.client.post(f"{HOME}/cles/options", data={"csrf": token, "nom": "X"})
        assert asked.status_code == 403
    made = device.create(options(alice_browser, f"{HOME}/cles/options", nom="X"))
    forged = alice_browser.post(f"{HOME}/cles", {"nom": "X", "credential": made}, csrf="forged")
    assert forged.status_code == 403
    assert stored(ctx) == []
    at_second_step(browser, cast.alice_login, STRONG)
    asked = browser.client.post("/connexion/cle/options", data={"csrf": "forged"})
    assert asked.status_code == 403


def test_a_passkey_made_for_another_site_is_not_kept(alice_browser, cast, ctx, device):
    alice_browser.get(HOME)
    question = options(alice_browser, f"{HOME}/cles/options", nom="Copie")
    made = device.create(question, origin="https://dmp-connexion.example")
    refusal = alice_browser.post(f"{HOME}/cles", {"nom": "Copie", "credential": made})
    assert refusal.status_code == 400
    assert "n'a pas pu être enregistrée" in unescape(refusal.text)
    # The challenge went with the failure: the right answer to it is refused too.
    right = device.create(question)
    late = alice_browser.post(f"{HOME}/cles", {"nom": "Copie", "credential": right})
    assert late.status_code == 400
    assert stored(ctx) == []
    assert factor_actions(ctx, cast) == []
    assert register(alice_browser, device, "Copie").status_code == 303
