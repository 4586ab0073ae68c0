"""The patient portal in a real browser (Debian's Chromium driven by Playwright), at a desktop's
size and at a phone's (390 × 844): the journey of a patient, and axe-core on every page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import require_browser
from tests.e2e.browser import DESKTOP, PHONE, chromium, describe, serious_violations, window
from tests.e2e.portal import STRONG

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    with chromium() as launched:
        yield launched


def accessible(page: Page) -> None:
    found = serious_violations(page)
    assert found == [], f"{page.url}: {describe(found)}"


def sign_in_first_time(page: Page, login: str, password: str, last_code) -> None:
    """The first login as a patient does it: identifier, temporary password, the code from the
    e-mail, then a password of one's own."""
    page.goto("/")
    accessible(page)
    page.get_by_role("link", name="Se connecter").click()
    accessible(page)
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_label("par courriel").check()
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Code de connexion")).to_be_visible()
    accessible(page)
    page.get_by_label("Code reçu").fill(last_code())
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Choisissez votre mot de passe")).to_be_visible()
    accessible(page)
    page.get_by_label("Nouveau mot de passe").fill(STRONG)
    page.get_by_label("Le même, une seconde fois").fill(STRONG)
    page.get_by_role("button", name="Enregistrer").click()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_first_login_reaches_the_overview(browser, server, cast, last_code, size):
    with window(browser, server, size) as page:
        sign_in_first_time(page, cast.alice_login, cast.alice_password, last_code)
        expect(page.get_by_role("heading", name="Le DMP de Alice Dupont")).to_be_visible()
        accessible(page)
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_text("Vous êtes déconnecté.")).to_be_visible()
        page.goto("/tableau-de-bord")
        expect(page.get_by_role("heading", name="Connexion à mon DMP")).to_be_visible()
