"""The professional portal in a real browser (Debian's Chromium driven by Playwright), at a
desktop's size: a professional logs in through the OpenID provider, creates a DMP for a new
patient with the brochure and the consent, adds a PDF hidden from the patient; the patient,
logging in with the hand-out's credentials and the e-mailed code, does not see it; the
professional reveals it after the announcement consultation; the patient sees it. axe-core on
every page of /pro the journey goes through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from dmp.adapters.oidc import OidcClient
from tests.conftest import require_chromium
from tests.e2e.browser import (
    DESKTOP,
    chromium,
    create_for_paul,
    describe,
    serious_violations,
    window,
)
from tests.e2e.pro import accounts_for, openid_provider, provider_settings
from tests.e2e.test_portal_browser import sign_in_first_time
from tests.factories import PDF
from tests.personas import Cast, ins

pytestmark = pytest.mark.browser
NEW_INS = ins("1920275123099")
TITLE = "Résultat d'anatomopathologie à annoncer"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with chromium() as launched:
        yield launched


@pytest.fixture
def provider(ctx, server: str, cast: Cast) -> Iterator[str]:
    accounts = accounts_for(("bruno", cast.professionals["bruno"].rpps, "10"))
    with openid_provider(f"{server}/pro/connexion/psc/retour", accounts) as issuer:
        ctx.settings = ctx.settings.with_(public_url=server)
        ctx.oidc = OidcClient(provider_settings(issuer))
        yield issuer


def accessible(page: Page) -> None:
    found = serious_violations(page)
    assert found == [], f"{page.url}: {describe(found)}"


def log_in_at_provider(page: Page, server: str) -> None:
    page.goto("/pro/connexion")
    accessible(page)
    page.get_by_role("button", name="Se connecter avec Pro Santé Connect").click()
    page.locator('input[name="login"]').fill("bruno")
    page.locator('input[name="password"]').fill("x")
    page.locator('button[type="submit"]').click()
    for _ in range(3):  # the provider's consent, then back to the portal
        if page.url.startswith(server):
            break
        page.locator('button[type="submit"]').click()
    expect(page.get_by_role("heading", name="Rechercher le DMP d'un patient")).to_be_visible()
    accessible(page)


def create_dmp(page: Page) -> tuple[str, str, str]:
    """Find the new INS, create its DMP; the hand-out's login and password, and the DMP's page."""
    page.get_by_label("INS du patient").fill(NEW_INS.value)
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_text("Ce patient n'a pas de DMP.")).to_be_visible()
    accessible(page)
    page.get_by_role("link", name="Créer le DMP").click()
    accessible(page)
    create_for_paul(page)
    expect(
        page.get_by_role("heading", name="Votre Dossier Médical Partagé est créé")
    ).to_be_visible()
    accessible(page)
    login = page.locator("#identifiant").inner_text().strip()
    password = page.locator("#mot-de-passe").inner_text().strip()
    page.get_by_role("link", name="Ouvrir le DMP").click()
    expect(page.get_by_role("heading", name="Documents du DMP")).to_be_visible()
    accessible(page)
    return login, password, page.url


def add_hidden_pdf(page: Page, tmp_path: Path) -> None:
    pdf = tmp_path / "anapath.pdf"
    pdf.write_bytes(PDF)
    page.get_by_role("link", name="Ajouter un document").click()
    accessible(page)
    page.get_by_label("Chercher un type de document").fill("anatomie")
    page.get_by_label("Type de document (JDV_J66)").select_option("11526-1")
    page.get_by_label("Titre").fill(TITLE)
    page.get_by_label("Non visible du patient").check()
    page.get_by_label("Fichier(s) du document").set_input_files(str(pdf))
    page.get_by_role("button", name="Ajouter le document").click()
    expect(page.get_by_text("Le document est ajouté au DMP.")).to_be_visible()
    expect(page.get_by_text("Non visible du patient")).to_be_visible()
    accessible(page)


def visit_the_other_pages(page: Page, dmp_page: str) -> None:
    """The professional's other pages, each checked by axe-core."""
    for name, heading in (
        ("Brochure d'information", None),
        ("Mon activité", "Mon activité"),
        ("Jetons d'API", "Jetons d'accès pour vos logiciels"),
    ):
        page.get_by_role("navigation", name="Menu principal").get_by_role("link", name=name).click()
        if heading:
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
        accessible(page)
    page.get_by_label("Nom du jeton").fill("Logiciel du cabinet")
    page.get_by_role("button", name="Créer un jeton").click()
    expect(page.get_by_text("il ne sera plus jamais affiché")).to_be_visible()
    accessible(page)
    page.goto(dmp_page + "/fermer")
    accessible(page)
    page.get_by_label("Motif de la fermeture, donné par le patient").fill("Déménagement")
    page.get_by_role("button", name="Fermer le DMP").click()
    expect(page.get_by_text("Le DMP est fermé.")).to_be_visible()
    page.goto(f"/pro/patient/reactiver?ins={NEW_INS.value}")
    expect(page.get_by_role("button", name="Réactiver le DMP")).to_be_visible()
    accessible(page)


def patient_titles(page: Page) -> str:
    page.goto("/documents")
    expect(page.get_by_role("heading", name="Mes documents")).to_be_visible()
    return page.locator("main").inner_text()


def test_the_professionals_journey(browser, server, ctx, cast, provider, last_code, tmp_path):
    with window(browser, server, DESKTOP) as pro, window(browser, server, DESKTOP) as patient:
        log_in_at_provider(pro, server)
        login, password, dmp_page = create_dmp(pro)
        add_hidden_pdf(pro, tmp_path)
        sign_in_first_time(patient, login, password, last_code)
        assert TITLE not in patient_titles(patient)
        pro.goto(dmp_page)
        pro.get_by_role("link", name=TITLE).click()
        # Headless Chromium routes a mouse click on this page to its PDF viewer's frame once the
        # viewer is built, and drops it (the form is never posted): once the page and its viewer
        # are loaded, the professional uses the keyboard on the button.
        pro.wait_for_load_state("networkidle")
        accessible(pro)
        pro.get_by_role("button", name="Rendre visible du patient").press("Enter")
        expect(pro.get_by_text("Le document est maintenant visible du patient.")).to_be_visible(
            timeout=30_000
        )
        accessible(pro)
        assert TITLE in patient_titles(patient)
        visit_the_other_pages(pro, dmp_page)
