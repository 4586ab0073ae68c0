"""Logging in to the patient portal (SPEC §5), over HTTP against a served app, both backends:
identifier + password + a one-time code at every login, and the attacks on it."""

from __future__ import annotations

from sqlalchemy import select

from dmp.adapters.db.tables import web_sessions
from dmp.services import history
from dmp.services.sessions import hash_token
from tests.e2e.portal import STRONG, Browser, first_log_in, log_in

FAILED = "Identifiant, mot de passe ou code incorrect"


def sent_count(mailbox) -> int:
    return len(mailbox.received)


def test_first_login_with_the_temporary_password_then_a_new_one(browser, cast, last_code, ctx):
    password = first_log_in(browser, cast.alice_login, cast.alice_password, last_code)
    board = browser.get("/tableau-de-bord")
    assert board.status_code == 200
    assert "Le DMP de Alice Dupont" in board.text
    assert board.headers["cache-control"] == "no-store"
    # The temporary password no longer opens anything; the new one does, with a new code.
    again = Browser(browser.client.base_url.__str__())
    try:
        refused = log_in(again, cast.alice_login, cast.alice_password, last_code)
        assert refused.status_code == 401
        assert FAILED in refused.text
        done = log_in(again, cast.alice_login, password, last_code)
        assert done.headers["location"] == "/tableau-de-bord"
    finally:
        again.close()
    signed_in = list(history.read_history(ctx, cast.alice, cast.alice_dmp).entries)
    assert [e.action for e in signed_in if e.action == "portal.sign-in" and e.allowed]


def test_the_session_is_renewed_at_login(browser, cast, last_code):
    browser.get("/connexion")
    before = browser.client.cookies.get("dmp_session")
    first_log_in(browser, cast.alice_login, cast.alice_password, last_code)
    after = browser.client.cookies.get("dmp_session")
    assert before
    assert after
    assert before != after
    # The cookie of before the login opens nothing.
    stale = Browser(str(browser.client.base_url))
    try:
        stale.client.cookies.set("dmp_session", before)
        assert stale.get("/tableau-de-bord").status_code == 303
    finally:
        stale.close()


def test_a_wrong_password_and_an_unknown_identifier_read_the_same(
    browser, cast, last_code, mailbox
):
    sent = sent_count(mailbox)
    answers = []
    for login, password in (
        (cast.alice_login, "not her password"),
        ("NOSUCHLOGIN", "whatever it is"),
        (cast.alice_login, cast.alice_password),
    ):
        browser.get("/connexion")
        code_page = browser.follow(
            browser.post(
                "/connexion", {"identifiant": login, "mot_de_passe": password, "canal": "email"}
            )
        )
        answers.append(code_page.text.replace(browser.csrf(), ""))
    assert answers[0] == answers[1] == answers[2]  # nothing tells which was right
    assert sent_count(mailbox) == sent + 1  # only the right identifiers got a code


def test_a_code_is_single_use_and_expires(browser, cast, last_code, clock):
    browser.get("/connexion")
    browser.follow(
        browser.post(
            "/connexion",
            {
                "identifiant": cast.alice_login,
                "mot_de_passe": cast.alice_password,
                "canal": "email",
            },
        )
    )
    captured_cookie, code = browser.client.cookies.get("dmp_session"), last_code()
    assert browser.post("/connexion/code", {"code": code}).status_code == 303
    # Replayed with the cookie of the attempt it ended: the attempt is over, the code used.
    replay = Browser(str(browser.client.base_url))
    try:
        replay.client.cookies.set("dmp_session", captured_cookie)
        assert replay.get("/connexion/code").status_code == 303  # no attempt in progress
        replay.get("/connexion")
        refused = replay.post("/connexion/code", {"code": code})
        assert refused.status_code == 401
        # A code that waited more than 5 minutes fails, even right.
        replay.get("/connexion")
        replay.follow(
            replay.post(
                "/connexion",
                {
                    "identifiant": cast.alice_login,
                    "mot_de_passe": cast.alice_password,
                    "canal": "email",
                },
            )
        )
        late_code = last_code()
        clock.advance(minutes=5, seconds=1)
        late = replay.post("/connexion/code", {"code": late_code})
        assert late.status_code == 401
        assert FAILED in late.text
    finally:
        replay.close()


def test_a_code_from_another_login_attempt_fails(browser, other_browser, cast, last_code):
    first_log_in(browser, cast.alice_login, cast.alice_password, last_code)
    browser.post("/deconnexion", {})
    for someone in (browser, other_browser):
        someone.get("/connexion")
        someone.follow(
            someone.post(
                "/connexion",
                {"identifiant": cast.alice_login, "mot_de_passe": STRONG, "canal": "email"},
            )
        )
    # The code last sent belongs to the other browser's attempt, not to this one.
    code_of_other = last_code()
    assert browser.post("/connexion/code", {"code": code_of_other}).status_code == 401
    assert other_browser.post("/connexion/code", {"code": code_of_other}).status_code == 303


def test_five_tries_then_the_code_is_dead(browser, cast, last_code):
    browser.get("/connexion")
    browser.follow(
        browser.post(
            "/connexion",
            {
                "identifiant": cast.alice_login,
                "mot_de_passe": cast.alice_password,
                "canal": "email",
            },
        )
    )
    right = last_code()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(5):
        assert browser.post("/connexion/code", {"code": wrong}).status_code == 401
        browser.get("/connexion/code")
    assert browser.post("/connexion/code", {"code": right}).status_code == 401


def test_failed_passwords_slow_down_then_lock(browser, cast, last_code, clock, ctx, mailbox):
    for _ in range(10):
        browser.get("/connexion")
        browser.post(
            "/connexion",
            {
                "identifiant": cast.alice_login,
                "mot_de_passe": "wrong-wrong-wrong",
                "canal": "email",
            },
        )
        clock.advance(seconds=200)  # past each slow-down, not past the lock
    sent = sent_count(mailbox)
    browser.get("/connexion")
    browser.post(
        "/connexion",
        {"identifiant": cast.alice_login, "mot_de_passe": cast.alice_password, "canal": "email"},
    )
    assert sent_count(mailbox) == sent  # locked: the right password sends no code
    clock.advance(minutes=31)
    assert log_in(browser, cast.alice_login, cast.alice_password, last_code).status_code == 303
    refusals = [
        e.reason
        for e in history.read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries
        if e.action == "portal.sign-in" and not e.allowed
    ]
    assert refusals.count("wrong-password") == 10


def test_a_form_without_its_csrf_token_is_refused(browser, cast):
    browser.get("/connexion")
    data = {"identifiant": cast.alice_login, "mot_de_passe": cast.alice_password, "canal": "sms"}
    for token in ("", "forged-token"):
        refused = browser.post("/connexion", data, csrf=token)
        assert refused.status_code == 403
        assert "formulaire a expiré" in refused.text


def test_a_session_after_logout_opens_nothing(browser, cast, last_code, ctx):
    first_log_in(browser, cast.alice_login, cast.alice_password, last_code)
    token = browser.client.cookies.get("dmp_session")
    browser.get("/tableau-de-bord")
    assert browser.post("/deconnexion", {}).status_code == 303
    with ctx.engine.connect() as conn:
        kept = conn.execute(select(web_sessions.c.id).where(web_sessions.c.id == hash_token(token)))
        assert kept.all() == []  # gone from the server, whatever the browser keeps
    replay = Browser(str(browser.client.base_url))
    try:
        replay.client.cookies.set("dmp_session", token)
        answer = replay.get("/tableau-de-bord")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/connexion")
    finally:
        replay.close()


def test_idle_and_absolute_timeouts(browser, cast, last_code, clock):
    first_log_in(browser, cast.alice_login, cast.alice_password, last_code)
    clock.advance(minutes=14)
    assert browser.get("/tableau-de-bord").status_code == 200
    clock.advance(minutes=16)
    assert browser.get("/tableau-de-bord").status_code == 303  # 16 minutes idle
    log_in(browser, cast.alice_login, STRONG, last_code)
    for _ in range(12 * 60 // 14 + 2):
        clock.advance(minutes=14)
        if browser.get("/tableau-de-bord").status_code != 200:
            break
    else:
        raise AssertionError("a session outlived 12 hours")


def test_the_pages_send_their_security_headers(browser):
    page = browser.get("/connexion")
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    api = browser.client.get("/fhir/metadata")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "set-cookie" not in api.headers
