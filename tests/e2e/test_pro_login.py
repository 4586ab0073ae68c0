"""Logging in to the professional portal: through a real OpenID provider (oidc-provider on the
loopback interface: authorization code with PKCE), or with RPPS, password and an authenticator
app enrolled at the first login; the law's exclusions refused at login, with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest

from dmp.adapters.oidc import OidcClient
from dmp.services.context import Context
from tests.conftest import FakeClock
from tests.e2e.portal import Browser
from tests.e2e.pro import (
    PASSWORD,
    accounts_for,
    at_provider,
    code_at,
    enrol_and_log_in,
    log_in_again,
    openid_provider,
    provider_settings,
)
from tests.personas import Cast

LAW = "La loi interdit tout accès au DMP aux médecins du travail"


@pytest.fixture
def provider(ctx: Context, server: str, cast: Cast) -> Iterator[str]:
    """The provider, knowing Bruno, Hugo, Élise (an occupational physician), someone our
    directory does not know, and Damien with another profession than the directory's."""
    pros = cast.professionals
    accounts = accounts_for(
        ("bruno", pros["bruno"].rpps, "10"),
        ("hugo", pros["hugo"].rpps, "10"),
        ("elise", pros["elise"].rpps, "10"),
        ("inconnu", "10000099994", "10"),
        ("damien", pros["damien"].rpps, "60"),
    )
    with openid_provider(f"{server}/pro/connexion/psc/retour", accounts) as issuer:
        ctx.settings = ctx.settings.with_(public_url=server)
        ctx.oidc = OidcClient(provider_settings(issuer))
        yield issuer


def test_a_professional_logs_in_through_the_provider(browser: Browser, provider: str) -> None:
    browser.get("/pro/connexion")
    assert "Pro Santé Connect" in browser.page.text  # type: ignore[union-attr]
    back = at_provider(browser, "bruno")
    assert back.status_code == 303
    assert back.headers["location"] == "/pro"
    home = browser.follow(back)
    assert home.status_code == 200
    assert "Bruno Martin" in home.text


def test_the_provider_asks_for_pkce_and_a_nonce(browser: Browser, provider: str) -> None:
    browser.get("/pro/connexion")
    leaving = browser.post("/pro/connexion/psc", {})
    location = leaving.headers["location"]
    assert location.startswith(provider)
    for wanted in ("code_challenge_method=S256", "code_challenge=", "nonce=", "state="):
        assert wanted in location


def test_a_return_with_another_state_is_refused(browser: Browser, provider: str) -> None:
    browser.get("/pro/connexion")
    leaving = browser.post("/pro/connexion/psc", {})
    back = at_provider_location(leaving.headers["location"], "bruno")
    forged = re.sub("state=[^&]+", "state=forged", back)
    refused = browser.get(forged)
    assert refused.status_code == 401
    assert "n'a pas abouti" in unescape(refused.text)
    assert browser.client.get("/pro").status_code == 303  # not signed in


def test_a_return_is_used_once(browser: Browser, provider: str) -> None:
    browser.get("/pro/connexion")
    leaving = browser.post("/pro/connexion/psc", {})
    back = at_provider_location(leaving.headers["location"], "bruno")
    assert browser.get(back).status_code == 303
    other = Browser(browser.client.base_url.__str__())
    try:  # the same return address, replayed by someone else: no session of theirs waits
        assert other.get(back).status_code == 401
    finally:
        other.close()


def test_an_excluded_professional_is_refused_with_the_reason(
    browser: Browser, provider: str
) -> None:
    browser.get("/pro/connexion")
    refused = at_provider(browser, "elise")
    assert refused.status_code == 403
    assert LAW in unescape(refused.text)
    assert browser.client.get("/pro").status_code == 303


def test_someone_the_directory_does_not_know_is_refused(browser: Browser, provider: str) -> None:
    browser.get("/pro/connexion")
    refused = at_provider(browser, "inconnu")
    assert refused.status_code == 403
    assert "annuaire" in refused.text


def test_a_profession_the_directory_disagrees_with_is_refused(
    browser: Browser, provider: str
) -> None:
    browser.get("/pro/connexion")
    refused = at_provider(browser, "damien")
    assert refused.status_code == 403
    assert "profession" in refused.text


def test_a_professional_of_an_establishment_chooses_it(browser: Browser, provider: str) -> None:
    browser.get("/pro/connexion")
    back = at_provider(browser, "hugo")
    assert back.headers["location"] == "/pro/structure"
    chooser = browser.follow(back)
    assert "CHU de Nantes" in chooser.text
    place = re.search(r'name="etablissement" value="([^"]+)"', chooser.text)
    assert place is not None
    done = browser.post("/pro/structure", {"etablissement": place.group(1)})
    home = browser.follow(done)
    assert "FINESS 440000289" in home.text


def at_provider_location(location: str, login: str) -> str:
    from tests.e2e.pro import _through_provider

    return _through_provider(location, login)


# --- RPPS, password and the authenticator app ----------------------------------------------------


def test_first_login_enrols_the_app_then_it_is_asked(
    browser: Browser, cast: Cast, clock: FakeClock, pro_passwords: None
) -> None:
    rpps = cast.professionals["bruno"].rpps
    secret = enrol_and_log_in(browser, rpps, clock)
    assert "Bruno Martin" in browser.get("/pro").text
    browser.post("/pro/deconnexion", {})
    assert browser.client.get("/pro").status_code == 303
    done = log_in_again(browser, rpps, secret, clock)
    assert done.status_code == 303
    assert done.headers["location"] == "/pro"


def test_a_code_counts_once_and_a_wrong_one_fails(
    browser: Browser, cast: Cast, clock: FakeClock, pro_passwords: None
) -> None:
    rpps = cast.professionals["bruno"].rpps
    secret = enrol_and_log_in(browser, rpps, clock)
    browser.post("/pro/deconnexion", {})
    browser.get("/pro/connexion")
    sent = browser.post("/pro/connexion", {"rpps": rpps, "mot_de_passe": PASSWORD})
    browser.follow(sent)
    replayed = browser.post("/pro/connexion/code", {"code": code_at(secret, clock)})
    assert replayed.status_code == 401  # the enrolment's step is spent
    wrong = browser.post("/pro/connexion/code", {"code": "000000"})
    assert wrong.status_code == 401
    assert browser.client.get("/pro").status_code == 303


def test_a_wrong_password_and_an_unknown_rpps_read_the_same(
    browser: Browser, cast: Cast, pro_passwords: None
) -> None:
    browser.get("/pro/connexion")
    wrong = browser.post(
        "/pro/connexion", {"rpps": cast.professionals["bruno"].rpps, "mot_de_passe": "faux"}
    )
    unknown = browser.post("/pro/connexion", {"rpps": "10000099994", "mot_de_passe": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert "RPPS, mot de passe ou code incorrect" in wrong.text
    assert "RPPS, mot de passe ou code incorrect" in unknown.text


def test_an_excluded_professional_with_a_password_is_refused(
    ctx: Context, browser: Browser, cast: Cast
) -> None:
    elise = cast.professionals["elise"]
    with ctx.uow() as uow:  # a password set before the rule applied to her
        uow.directory.update_professional(
            elise.id, password_hash=ctx.password_hasher.hash(PASSWORD)
        )
        uow.commit()
    browser.get("/pro/connexion")
    refused = browser.post("/pro/connexion", {"rpps": elise.rpps, "mot_de_passe": PASSWORD})
    assert refused.status_code == 403
    assert LAW in unescape(refused.text)


def test_the_login_form_needs_its_csrf_token(
    browser: Browser, cast: Cast, pro_passwords: None
) -> None:
    browser.get("/pro/connexion")
    forged = browser.post(
        "/pro/connexion",
        {"rpps": cast.professionals["bruno"].rpps, "mot_de_passe": PASSWORD},
        csrf="forged",
    )
    assert forged.status_code == 403


def test_pages_need_a_professional_session(browser: Browser) -> None:
    assert browser.get("/pro").headers["location"] == "/pro/connexion"
    assert browser.get("/pro/patient?ins=285037512345678").status_code == 303


def test_a_professional_session_opens_no_patient_page(pro_browser, cast: Cast) -> None:
    browser = pro_browser("bruno")
    assert browser.client.get("/tableau-de-bord").status_code == 303
    assert browser.client.get("/documents").status_code == 303
