"""The patient portal in a real browser (Debian's Chromium driven by Playwright), at a desktop's
size and at a phone's (390 × 844): the journey of a patient, and axe-core on every page."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from dmp.entrypoints.fhir import ids
from dmp.services import history
from tests.conftest import require_chromium
from tests.e2e.browser import DESKTOP, PHONE, chromium, describe, serious_violations, window
from tests.e2e.fhir import refused_search
from tests.e2e.portal import STRONG
from tests.e2e.portal_documents import add
from tests.factories import PDF
from tests.personas import ALICE_INS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
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


def menu(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name=name).click()


def fresh_code_in(page: Page, last_code) -> None:
    """The page asking a fresh code: send it by e-mail, enter it."""
    expect(page.get_by_role("heading", name="Confirmer avec un nouveau code")).to_be_visible()
    accessible(page)
    page.get_by_label("par courriel").check()
    page.get_by_role("button", name="Recevoir un code").click()
    page.get_by_label("Code reçu").fill(last_code())
    page.get_by_role("button", name="Confirmer").click()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_patients_journey(browser, server, ctx, cast, tokens, last_code, size):
    report = add(ctx, cast.bruno, cast.alice_dmp, title="Compte rendu de consultation")
    add(ctx, cast.bruno, cast.alice_dmp, title="Ordonnance", type_code="57833-6")
    with window(browser, server, size) as page, httpx.Client(base_url=server) as api:
        sign_in_first_time(page, cast.alice_login, cast.alice_password, last_code)
        # Read the report: its PDF in the page.
        menu(page, "Documents")
        expect(page.get_by_role("heading", name="Mes documents")).to_be_visible()
        accessible(page)
        page.get_by_role("link", name="Compte rendu de consultation").click()
        viewer = page.locator("iframe.viewer")
        expect(viewer).to_be_visible()
        accessible(page)
        content = page.request.get(viewer.get_attribute("src") or "")
        assert content.headers["content-type"] == "application/pdf"
        assert content.body().startswith(b"%PDF")
        # Mask it: Chloé, authorized, no longer reads it.
        menu(page, "Documents")
        row = page.get_by_role("row", name=re.compile("Compte rendu de consultation"))
        row.get_by_role("button", name=re.compile("^Masquer")).click()
        expect(row.get_by_text("Masqué aux professionnels")).to_be_visible()
        fhir_id = ids.document_id(cast.alice_dmp, report.id)
        chloe = {"Authorization": f"Bearer {tokens['chloe']}"}
        assert api.get(f"/fhir/DocumentReference/{fhir_id}", headers=chloe).status_code == 404
        # Oppose emergency access: Damien's emergency read is refused.
        menu(page, "Autorisations")
        expect(page.get_by_role("heading", name="Qui peut accéder au DMP")).to_be_visible()
        accessible(page)
        page.get_by_role("button", name=re.compile("M'opposer à l'accès en urgence")).click()
        expect(page.get_by_text("Refusé : vous vous y opposez.").first).to_be_visible()
        emergency = {
            "Authorization": f"Bearer {tokens['damien']}",
            "X-DMP-Access-Mode": "emergency",
            "X-DMP-Justification": "Patiente%20inconsciente",
        }
        search = {"patient.identifier": f"{ALICE_INS.system}|{ALICE_INS.value}"}
        refused = api.get("/fhir/DocumentReference", params=search, headers=emergency)
        assert refused_search(refused)
        # Destroy the prescription, with a fresh code.
        menu(page, "Documents")
        page.get_by_role("link", name="Détruire des documents").click()
        accessible(page)
        page.get_by_label(re.compile("Ordonnance")).check()
        page.get_by_label(re.compile("Je comprends")).check()
        page.get_by_role("button", name=re.compile("Détruire définitivement")).click()
        fresh_code_in(page, last_code)
        page.get_by_label(re.compile("Ordonnance")).check()
        page.get_by_label(re.compile("Je comprends")).check()
        page.get_by_role("button", name=re.compile("Détruire définitivement")).click()
        menu(page, "Documents")
        expect(page.get_by_role("heading", name="1 document")).to_be_visible()
        # Damien, whom she never authorized, tries to read her DMP: refused, and she sees it,
        # beside his emergency attempt refused since she opposed it.
        damien = {"Authorization": f"Bearer {tokens['damien']}"}
        assert refused_search(api.get("/fhir/DocumentReference", params=search, headers=damien))
        menu(page, "Historique des accès")
        accessible(page)
        history_page = page.get_by_role("main")
        expect(
            history_page.get_by_text(
                re.compile(
                    r"Damien Petit, médecin, n'a pas pu rechercher vos documents .*, "
                    r"faute de votre autorisation\."
                )
            ).first
        ).to_be_visible()
        expect(
            history_page.get_by_text(
                re.compile(
                    r"Un accès en urgence \(bris de glace\) a été refusé au Dr Damien "
                    r"Petit, médecin, .*car vous aviez refusé les accès en urgence\."
                )
            ).first
        ).to_be_visible()
        menu(page, "Notifications")
        accessible(page)
        menu(page, "Mon compte")
        expect(page.get_by_role("heading", name="Mon compte", exact=True)).to_be_visible()
        accessible(page)
        page.get_by_role("link", name="Sécurité de la connexion").click()
        accessible(page)
        # A copy of the whole DMP: the report's PDF as it was deposited, its metadata, the
        # history.
        menu(page, "Mon compte")
        page.get_by_role("link", name="Télécharger une copie de mon DMP").click()
        accessible(page)
        with page.expect_download() as downloading:
            page.get_by_role("button", name="Télécharger la copie (ZIP)").click()
        with zipfile.ZipFile(downloading.value.path()) as archive:
            names = archive.namelist()
            pdfs = [archive.read(n) for n in names if n.endswith(".pdf")]
            assert [hashlib.sha256(d).hexdigest() for d in pdfs] == [
                hashlib.sha256(PDF).hexdigest()
            ]
            bundle = json.loads(archive.read("metadonnees/documents.fhir.json"))
            assert bundle["resourceType"] == "Bundle"
            assert (
                "faute de votre autorisation" in archive.read("historique/historique.txt").decode()
            )
        # The destruction's page, read but not confirmed; then the DMP closed.
        menu(page, "Mon compte")
        page.get_by_role("link", name="Détruire mon DMP").click()
        expect(page.get_by_text("est définitive et irréversible")).to_be_visible()
        accessible(page)
        menu(page, "Mon compte")
        page.get_by_role("link", name="Fermer mon DMP").click()
        expect(page.get_by_role("heading", name="Fermer mon DMP")).to_be_visible()
        accessible(page)
        page.get_by_label("Motif de la fermeture").fill("Je ne souhaite plus l'utiliser")
        page.get_by_label(re.compile("J'ai compris")).check()
        page.get_by_role("button", name="Fermer mon DMP").click()
        expect(page.get_by_text("Votre DMP est fermé.")).to_be_visible()
        expect(page.get_by_text(re.compile("Ses données seront détruites le"))).to_be_visible()
        accessible(page)
    trail = history.read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries
    refusals = {(e.actor_label.split()[0], e.reason) for e in trail if not e.allowed}
    assert ("Chloé", "masked") in refusals
    assert ("Damien", "emergency-opposed") in refusals
    assert [e for e in trail if e.action == "document.destroy" and e.allowed]
    assert ("Damien", "not-authorized") in refusals
    assert [e for e in trail if e.action == "record.export" and e.allowed]
    assert [e for e in trail if e.action == "record.close" and e.allowed]
