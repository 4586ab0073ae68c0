"""Screenshots of the professional portal for the README (desktop size, PNG, in this folder).

Run by hand from the repository's root, with the test extras installed (it uses the tests'
personas, a throw-away SQLite database and Debian's Chromium):

    .venv/bin/python docs/screenshots/take_pro.py

It serves the app on a loopback port, logs in as Dr Bruno Martin (RPPS, password, and the
authenticator app's code computed from the secret the page shows), and takes the creation page,
the hand-out, the document form and the consult page. Nothing here runs in the test suite."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pyotp
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser import DESKTOP, chromium, create_for_paul, window  # noqa: E402
from tests.e2e.fhir import live_server  # noqa: E402
from tests.factories import pdf_submission  # noqa: E402
from tests.personas import ins, populate  # noqa: E402

from dmp.adapters.crypto import generate_master_key_spec  # noqa: E402
from dmp.bootstrap import build  # noqa: E402
from dmp.entrypoints.app import create_app  # noqa: E402
from dmp.services import pro_login, submission  # noqa: E402
from dmp.services.audit import AuditSigner  # noqa: E402
from dmp.settings import DeliverySettings, Settings  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "un mot de passe de démonstration"  # noqa: S105 (a throw-away database)
NEW_INS = ins("1920275123099")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
    print(f"docs/screenshots/{name}.png")


def log_in(page: Page, rpps: str) -> None:
    page.goto("/pro/connexion")
    page.get_by_label("Numéro RPPS (11 chiffres)").fill(rpps)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    secret = page.locator("#cle-secrete").inner_text().replace(" ", "")
    page.get_by_label("Code à 6 chiffres affiché par l'application").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Associer l'application et se connecter").click()
    expect(page.get_by_role("heading", name="Rechercher le DMP d'un patient")).to_be_visible()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = Settings(
            data_dir=base / "data",
            database_url=f"sqlite:///{base / 'dmp.sqlite3'}",
            keystore_url=f"sqlite:///{base / 'keys.sqlite3'}",
            blob_dir=base / "blobs",
            master_keys=generate_master_key_spec("screenshots-1"),
            audit_signing_key=AuditSigner.generate(),
            cookie_secure=False,
            delivery=DeliverySettings(enabled=False),
        )
        ctx = build(settings, migrate=True)
        cast = populate(ctx)
        pro_login.set_password(ctx, cast.bruno.rpps, PASSWORD)
        for title, hidden in (("Compte rendu de cardiologie", False), ("Biopsie", True)):
            sub = pdf_submission(title=title, invisible_patient=hidden)
            submission.submit_documents(ctx, cast.bruno, cast.alice_dmp, [sub])
        with (
            live_server(create_app(ctx)) as server,
            chromium() as browser,
            window(browser, server, DESKTOP) as page,
        ):
            log_in(page, cast.bruno.rpps)
            page.goto(f"/pro/patient/creer?ins={NEW_INS.value}")
            shot(page, "pro-creation")
            create_for_paul(page)
            shot(page, "pro-remise")
            page.goto(f"/pro/dmp/{cast.alice_dmp}")
            shot(page, "pro-consultation")
            page.goto(f"/pro/dmp/{cast.alice_dmp}/ajouter")
            shot(page, "pro-document")
        ctx.engine.dispose()


if __name__ == "__main__":
    main()
