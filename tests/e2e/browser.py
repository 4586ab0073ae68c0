"""The real-browser tests' tools: Playwright driving Debian's Chromium (never a browser a tool
downloads), pages at a desktop's and at a phone's size, and axe-core run on each page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import CHROMIUM

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
_axe = Axe()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def window(browser: Browser, base: str, size: dict[str, int]) -> Iterator[Page]:
    """A fresh browsing context (its own cookies) at this size, French, on the served app."""
    context: BrowserContext = browser.new_context(
        base_url=base, viewport=size, locale="fr-FR", timezone_id="Europe/Paris"
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds on the page that is serious or critical."""
    results = _axe.run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return [v for v in violations if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


def create_for_paul(page: Page) -> None:
    """On the professional portal's creation form: a new patient's identity, the brochure handed
    out and the consent given, then "Créer le DMP"."""
    page.get_by_label("Nom", exact=True).fill("Garnier")
    page.get_by_label("Prénoms").fill("Paul")
    page.get_by_label("Date de naissance").fill("1992-02-14")
    page.get_by_label("Sexe").select_option("male")
    page.get_by_label("Courriel").fill("paul@example.org")
    page.get_by_label("J'ai remis au patient la brochure").check()
    page.get_by_label("Le patient consent").check()
    page.get_by_role("button", name="Créer le DMP").click()
