"""An authenticator app (TOTP) as the second factor, over HTTP against a served app, both
backends: enrolled with a fresh code, a secret shown as a QR code drawn by the server and as
text, kept only once the app's first code proves it; then the login takes the app's codes, each
time step once; removal; and the attacks on each step."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import unquote

import pyotp
from sqlalchemy import select, update

from dmp.adapters.db.tables import accounts, outbox
from dmp.services import history
from tests.e2e.portal import STRONG, Browser, fresh_code, log_in

FAILED = "Identifiant, mot de passe ou code incorrect"
APP = "/compte/securite/application"
SECRET = re.compile(r'id="cle-secrete">([A-Z2-7 ]+)</code>')


def shown_secret(page_text: str) -> str:
    found = SECRET.search(page_text)
    assert found is not None, page_text
    return found.group(1).replace(" ", "")


def enrol(browser: Browser, clock) -> str:
    """Open the enrolment page, read the secret, confirm it with the app's current code."""
    secret = shown_secret(browser.get(APP).text)
    done = browser.post(APP, {"code": pyotp.TOTP(secret).at(clock.now)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/compte/securite?fait=application-ajoutee"
    return secret


def app_log_in(browser: Browser, login: str, password: str, code: str):
    browser.get("/connexion")
    fields = {"identifiant": login, "mot_de_passe": password, "canal": "totp"}
    sent = browser.post("/connexion", fields)
    browser.follow(sent)
    return browser.post("/connexion/code", {"code": code})


def stored_secret(ctx, account_id) -> bytes | None:
    with ctx.engine.connect() as conn:
        return conn.execute(
            select(accounts.c.totp_secret_enc).where(accounts.c.id == account_id)
        ).scalar()


def actions(ctx, actor, dmp_id) -> list[tuple[str, bool]]:
    entries = history.read_history(ctx, actor, dmp_id, limit=200).entries
    return [(e.action, e.allowed) for e in entries if e.action.startswith("factor.")]


def notices(ctx, account_id) -> list[str]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.template).where(outbox.c.recipient_id == account_id)
        ).scalars()
        return [r for r in rows if r.startswith("login_factor")]


def test_the_app_is_enrolled_with_its_first_code_then_logs_in(
    alice_browser, browser, cast, clock, ctx
):
    overview = alice_browser.get("/compte/securite")
    assert "Aucune application n'est associée" in unescape(overview.text)
    enrolling = alice_browser.get(APP)
    secret = shown_secret(enrolling.text)
    # The QR code is drawn by the server (an SVG in a data: address), nothing from elsewhere.
    qr = re.search(r'<img class="qr" src="([^"]+)"', enrolling.text)
    assert qr is not None
    assert qr.group(1).startswith("data:image/svg+xml")
    assert "<svg" in unquote(unescape(qr.group(1)))
    assert "http://" not in enrolling.text.replace("http://www.w3.org", "")
    assert stored_secret(ctx, cast.alice.account_id) is None  # not kept before a first code
    # Reloading shows the same secret: the app being set up keeps working.
    assert shown_secret(alice_browser.get(APP).text) == secret
    done = alice_browser.post(APP, {"code": pyotp.TOTP(secret).at(clock.now)})
    assert done.headers["location"] == "/compte/securite?fait=application-ajoutee"
    page = alice_browser.follow(done)
    assert "L'application d'authentification est associée" in unescape(page.text)
    sealed = stored_secret(ctx, cast.alice.account_id)
    assert sealed is not None
    assert secret.encode() not in sealed
    assert ("factor.app-add", True) in actions(ctx, cast.alice, cast.alice_dmp)
    assert notices(ctx, cast.alice.account_id) == ["login_factor_added"]
    # Enrolled: the login takes the app's code as the second factor.
    clock.advance(seconds=30)
    signed_in = app_log_in(browser, cast.alice_login, STRONG, pyotp.TOTP(secret).at(clock.now))
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/tableau-de-bord"
    assert browser.get("/tableau-de-bord").status_code == 200


def test_an_app_code_counts_once_and_a_wrong_one_fails_like_any(alice_browser, server, cast, clock):
    secret = enrol(alice_browser, clock)
    enrolment_code = pyotp.TOTP(secret).at(clock.now)
    attempts = [Browser(server) for _ in range(4)]
    try:
        # The code that confirmed the app is spent: its time step is used.
        spent = app_log_in(attempts[0], cast.alice_login, STRONG, enrolment_code)
        assert spent.status_code == 401
        assert FAILED in spent.text
        clock.advance(seconds=30)
        code = pyotp.TOTP(secret).at(clock.now)
        assert app_log_in(attempts[1], cast.alice_login, STRONG, code).status_code == 303
        # The same code again, in the same time step: refused, generically.
        again = app_log_in(attempts[2], cast.alice_login, STRONG, code)
        assert again.status_code == 401
        assert FAILED in again.text
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        clock.advance(seconds=30)
        refused = app_log_in(attempts[3], cast.alice_login, STRONG, wrong)
        assert refused.status_code == 401
        assert refused.text.replace(attempts[3].csrf(), "") == again.text.replace(
            attempts[2].csrf(), ""
        )
    finally:
        for attempt in attempts:
            attempt.close()


def test_the_app_choice_reads_the_same_for_everyone(server, cast, ctx):
    """Without an app, with a wrong password, or with an unknown identifier, the code page is
    the same; and no code works."""
    answers = []
    for login, password in (
        (cast.alice_login, cast.alice_password),  # right, and no app enrolled
        (cast.alice_login, "not her password at all"),
        ("NOSUCHLOGIN", "whatever it is"),
    ):
        someone = Browser(server)
        try:
            someone.get("/connexion")
            code_page = someone.follow(
                someone.post(
                    "/connexion", {"identifiant": login, "mot_de_passe": password, "canal": "totp"}
                )
            )
            answers.append(code_page.text.replace(someone.csrf(), ""))
            refused = someone.post("/connexion/code", {"code": "123456"})
            assert refused.status_code == 401
        finally:
            someone.close()
    assert answers[0] == answers[1] == answers[2]
    assert "que votre application" in answers[0]


def test_a_wrong_first_code_keeps_nothing_and_five_end_the_enrolment(
    alice_browser, cast, clock, ctx
):
    secret = shown_secret(alice_browser.get(APP).text)
    right = pyotp.TOTP(secret).at(clock.now)
    wrong = f"{(int(right) + 500_000) % 10**6:06d}"
    refused = alice_browser.post(APP, {"code": wrong})
    assert refused.status_code == 400
    assert "Ce code ne correspond pas" in refused.text
    assert shown_secret(refused.text) == secret  # the same secret, to try again
    assert stored_secret(ctx, cast.alice.account_id) is None
    for _ in range(4):
        alice_browser.post(APP, {"code": wrong})
    # Five wrong codes: that secret is dead, even with its right code; a new one is shown.
    late = alice_browser.post(APP, {"code": right})
    assert late.status_code == 400
    assert stored_secret(ctx, cast.alice.account_id) is None
    assert shown_secret(late.text) != secret
    assert actions(ctx, cast.alice, cast.alice_dmp) == []


def test_enrolling_or_removing_needs_a_fresh_code(alice_browser, cast, clock, ctx, last_code):
    clock.advance(minutes=11)  # the code of the login is no longer fresh
    to_step_up = "/confirmer?suite=%2Fcompte%2Fsecurite%2Fapplication"
    answer = alice_browser.get(APP)
    assert answer.status_code == 303
    assert answer.headers["location"] == to_step_up
    alice_browser.get("/compte/securite")
    posted = alice_browser.post(APP, {"code": "123456"})
    assert posted.headers["location"] == to_step_up
    removal = alice_browser.post(f"{APP}/retrait", {})
    assert removal.headers["location"] == "/confirmer?suite=%2Fcompte%2Fsecurite"
    # A fresh code, and the way back to the enrolment.
    alice_browser.get(to_step_up)
    alice_browser.post("/confirmer/envoi", {"canal": "email", "suite": APP})
    alice_browser.get(to_step_up)
    confirmed = alice_browser.post("/confirmer", {"code": last_code(), "suite": APP})
    assert confirmed.headers["location"] == APP
    enrol(alice_browser, clock)
    assert stored_secret(ctx, cast.alice.account_id) is not None


def test_a_removed_app_logs_in_no_more(alice_browser, browser, cast, clock, ctx):
    secret = enrol(alice_browser, clock)
    alice_browser.get("/compte/securite")
    removed = alice_browser.post(f"{APP}/retrait", {})
    assert removed.headers["location"] == "/compte/securite?fait=application-retiree"
    assert "Aucune application n'est associée" in unescape(alice_browser.follow(removed).text)
    assert stored_secret(ctx, cast.alice.account_id) is None
    assert actions(ctx, cast.alice, cast.alice_dmp)[:2] == [
        ("factor.app-remove", True),
        ("factor.app-add", True),
    ]
    assert notices(ctx, cast.alice.account_id) == ["login_factor_added", "login_factor_removed"]
    clock.advance(seconds=30)
    refused = app_log_in(browser, cast.alice_login, STRONG, pyotp.TOTP(secret).at(clock.now))
    assert refused.status_code == 401
    assert FAILED in refused.text


def test_the_app_forms_want_their_csrf_token(alice_browser, cast, clock, ctx):
    secret = shown_secret(alice_browser.get(APP).text)
    code = pyotp.TOTP(secret).at(clock.now)
    for token in ("", "forged-token"):
        refused = alice_browser.post(APP, {"code": code}, csrf=token)
        assert refused.status_code == 403
    assert stored_secret(ctx, cast.alice.account_id) is None
    enrol(alice_browser, clock)
    alice_browser.get("/compte/securite")
    assert alice_browser.post(f"{APP}/retrait", {}, csrf="forged-token").status_code == 403
    assert stored_secret(ctx, cast.alice.account_id) is not None


def test_a_minors_own_app_is_kept_from_the_parents_history(server, cast, clock, ctx, last_code):
    """Léa, a minor, enrols an app: her history says so, her father's view of it does not
    (her own connections are hers alone)."""
    with ctx.engine.begin() as conn:
        login = conn.execute(
            select(accounts.c.login).where(accounts.c.id == cast.lea.account_id)
        ).scalar_one()
        conn.execute(
            update(accounts)
            .where(accounts.c.id == cast.lea.account_id)
            .values(password_hash=ctx.password_hasher.hash(STRONG), must_change_password=False)
        )
    lea = Browser(server)
    try:
        assert log_in(lea, login, STRONG, last_code).status_code == 303
        fresh_code(lea, last_code, APP)
        enrol(lea, clock)
    finally:
        lea.close()
    assert ("factor.app-add", True) in actions(ctx, cast.lea, cast.lea_dmp)
    assert actions(ctx, cast.marc, cast.lea_dmp) == []


def test_the_app_also_gives_the_fresh_code(alice_browser, cast, clock):
    """Once enrolled, the app's code confirms what needs a fresh code (the step-up page's
    « avec mon application d'authentification »)."""
    secret = enrol(alice_browser, clock)
    clock.advance(minutes=11)
    asked = alice_browser.get(APP.replace("/application", ""))
    assert "vous confirmerez d'abord avec" in unescape(asked.text)
    alice_browser.get("/confirmer?suite=%2Fcompte%2Fsecurite")
    alice_browser.post("/confirmer/envoi", {"canal": "totp", "suite": "/compte/securite"})
    alice_browser.get("/confirmer?suite=%2Fcompte%2Fsecurite")
    confirmed = alice_browser.post(
        "/confirmer", {"code": pyotp.TOTP(secret).at(clock.now), "suite": "/compte/securite"}
    )
    assert confirmed.headers["location"] == "/compte/securite"
    assert "vous confirmerez d'abord avec" not in unescape(
        alice_browser.get("/compte/securite").text
    )
