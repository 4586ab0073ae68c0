"""The demo (``make run``, i.e. ``dmp demo``): the patient's login it prints works — the demo
seeded as the command does, then served, and a login with the printed identifier and password,
the one-time code read on the demo's page of messages (``/demo/messages``), which exists in
demo mode only."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from dmp.bootstrap import build
from dmp.demo.seed import seed_demo
from dmp.entrypoints.app import create_app
from dmp.settings import load_settings
from tests.e2e.fhir import live_server
from tests.e2e.portal import Browser

CODE = re.compile(r"Votre code de connexion à votre DMP : ([0-9]{6})")


def test_the_demo_page_does_not_exist_outside_demo_mode(browser):
    page = browser.get("/demo/messages")
    assert page.status_code == 404
    assert "Ressource introuvable." in unescape(page.text)
    assert "/demo/messages" not in browser.get("/").text  # nor its link


def _printed(lines: list[str]) -> tuple[str, str, str]:
    """The portal's address, the identifier and the password ``dmp demo`` prints."""
    at = next(i for i, line in enumerate(lines) if line.startswith("Portail des patients : "))
    address = lines[at].split(" : ", 1)[1]
    login = lines[at + 1].split(" : ", 1)[1]
    password = lines[at + 2].split(" : ", 1)[1]
    assert lines[at + 3].endswith(f"{address}demo/messages (rien n'est envoyé)")
    return address, login, password


def _log_in(base: str, login: str, password: str) -> Browser:
    browser = Browser(base)
    browser.get("/connexion")
    sent = browser.post(
        "/connexion", {"identifiant": login, "mot_de_passe": password, "canal": "email"}
    )
    browser.follow(sent)
    messages = browser.get("/demo/messages")
    assert messages.status_code == 200
    code = CODE.search(messages.text)
    assert code is not None, messages.text
    browser.get("/connexion/code")
    done = browser.post("/connexion/code", {"code": code.group(1)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/tableau-de-bord"
    return browser


def test_the_login_make_run_prints_works(tmp_path: Path):
    settings = load_settings({"DMP_DATA_DIR": str(tmp_path / "demo")}, demo=True)
    ctx = build(settings, migrate=True)
    try:
        lines = seed_demo(ctx, 2012)
        address, login, password = _printed(lines)
        assert address == "http://127.0.0.1:8000/"
        with live_server(create_app(ctx)) as base:
            browser = _log_in(base, login, password)
            overview = browser.get("/tableau-de-bord")
            assert overview.status_code == 200
            heading = re.search("<h1>([^<]*)</h1>", overview.text)
            assert heading is not None
            assert heading.group(1).startswith("Le DMP de Hugo"), heading.group(1)
            browser.close()
        # Started again (the demo already there): the same login, and it still works.
        again = _printed(seed_demo(ctx, 2012))
        assert again == (address, login, password)
        with live_server(create_app(ctx)) as base:
            _log_in(base, login, password).close()
    finally:
        ctx.engine.dispose()
