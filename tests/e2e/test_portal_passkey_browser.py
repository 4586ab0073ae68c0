"""A passkey in a real browser: Debian's Chromium driven by Playwright, with a virtual
authenticator (Chrome DevTools Protocol, ``WebAuthn.addVirtualAuthenticator``) standing for the
phone. The patient registers a passkey on the security page, logs out, and logs in with it: the
portal's own script (static/passkeys.js) carries each ceremony, under the pages' CSP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from dmp.adapters.db.tables import passkeys
from dmp.entrypoints.app import create_app
from tests.e2e.fhir import free_port, live_server
from tests.e2e.portal import STRONG

pytestmark = pytest.mark.browser
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def site(ctx) -> Iterator[str]:
    """The portal at http://localhost:<port>, the address its passkeys are bound to (a
    browser binds no passkey to a bare IP address)."""
    port = free_port()
    ctx.settings = ctx.settings.with_(public_url=f"http://localhost:{port}")
    with live_server(create_app(ctx), port=port):
        yield f"http://localhost:{port}"


@dataclass
class Window:
    """A page, the DevTools session that holds its virtual authenticator, and what went wrong
    in it (script errors, CSP refusals)."""

    page: Any
    devtools: Any
    authenticator: str
    problems: list[str] = field(default_factory=list)

    def console(self, message: Any) -> None:
        # A failed load is reported below, with its address.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(message.text)

    def answered(self, response: Any) -> None:
        # The portal has no icon: the browser's own request for one is not the page's.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status} {response.url}")


@pytest.fixture
def window(chromium: str) -> Iterator[Window]:
    """A Chromium page with a virtual authenticator: a platform passkey store that verifies
    its user (as a fingerprint would) and is always touched."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        try:
            context = browser.new_context(locale="fr-FR")
            opened = context.new_page()
            devtools = context.new_cdp_session(opened)
            devtools.send("WebAuthn.enable")
            added = devtools.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "transport": "internal",
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": True,
                        "automaticPresenceSimulation": True,
                    }
                },
            )
            seen = Window(opened, devtools, added["authenticatorId"])
            opened.on("pageerror", lambda error: seen.problems.append(str(error)))
            opened.on("console", seen.console)
            opened.on("response", seen.answered)
            yield seen
        finally:
            browser.close()


def sign_in(page: Any, site: str, login: str, password: str, method: str) -> None:
    page.goto(f"{site}/connexion")
    page.fill("#identifiant", login)
    page.fill("#mot_de_passe", password)
    page.check(f"input[name=canal][value={method}]")
    page.click("button:has-text('Continuer')")
    page.wait_for_url("**/connexion/code**")


def test_a_passkey_registered_in_the_browser_logs_in(window, site, cast, ctx, last_code):
    page = window.page
    # The first login: a code by e-mail, then a password of her own.
    sign_in(page, site, cast.alice_login, cast.alice_password, "email")
    page.fill("#code", last_code())
    page.click("button:has-text('Se connecter')")
    page.wait_for_url("**/connexion/nouveau-mot-de-passe")
    page.fill("#mot_de_passe", STRONG)
    page.fill("#confirmation", STRONG)
    page.click("button:has-text('Enregistrer')")
    page.wait_for_url("**/tableau-de-bord")

    # A passkey, made by the device at the security page's request, after a fresh code.
    page.goto(f"{site}/confirmer?suite=/compte/securite")
    page.check("input[name=canal][value=email]")
    page.click("button:has-text('Recevoir un code')")
    page.fill("#code", last_code())
    page.click("button:has-text('Confirmer')")
    page.wait_for_url("**/compte/securite")
    assert not page.is_visible("[data-passkey-unsupported]")  # the script offers passkeys
    page.fill("#nom", "Navigateur de test")
    page.click("button:has-text('Ajouter une clé d')")
    page.wait_for_url("**/compte/securite?fait=cle-ajoutee")
    assert page.locator("ul.keys li", has_text="Navigateur de test").count() == 1
    held = window.devtools.send(
        "WebAuthn.getCredentials", {"authenticatorId": window.authenticator}
    )
    [credential] = held["credentials"]
    assert credential["isResidentCredential"]

    page.click("button:has-text('Se déconnecter')")
    page.wait_for_url("**/connexion?deconnecte=1")

    # The login: identifier, password, then the passkey instead of a code.
    sign_in(page, site, cast.alice_login, STRONG, "passkey")
    assert not page.is_visible("[data-passkey-unsupported]")
    page.click("button:has-text('Utiliser ma clé d')")
    page.wait_for_url("**/tableau-de-bord")
    assert "Le DMP de Alice Dupont" in page.inner_text("h1")
    with ctx.engine.connect() as conn:
        [row] = conn.execute(select(passkeys)).mappings().all()
    assert row["credential_id"] == base64.b64decode(credential["credentialId"])
    assert row["last_used_at"] is not None
    assert window.problems == []  # no script error, no refusal by the pages' CSP
