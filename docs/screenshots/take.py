"""Take the patient portal's screenshots of the README, on the demo's data, in Debian's Chromium.

    .venv/bin/python docs/screenshots/take.py            # writes docs/screenshots/*.png

Seeds the demo (as ``dmp demo`` does) in a temporary folder, serves it on a free loopback port,
logs in as the demo patient it prints (the code read on the demo's page of messages), and
photographs the dashboard, the documents, the history and the authorizations at a desktop's
size (1280×900) and at a phone's (390×844, the whole page).
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("DMP_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PAGES = {
    "dashboard": "/tableau-de-bord",
    "documents": "/documents",
    "history": "/historique",
    "authorizations": "/autorisations",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo(folder: Path, port: int) -> tuple[object, str, str]:
    """The demo's data in ``folder``; the app, and the patient's identifier and password."""
    os.environ.update(DMP_DATA_DIR=str(folder), DMP_PORT=str(port))
    from dmp.bootstrap import build
    from dmp.demo.seed import seed_demo
    from dmp.entrypoints.app import create_app
    from dmp.settings import load_settings

    ctx = build(load_settings(demo=True), migrate=True)
    lines = seed_demo(ctx)
    login = next(line.split(":", 1)[1].strip() for line in lines if "identifiant :" in line)
    password = next(line.split(":", 1)[1].strip() for line in lines if "mot de passe :" in line)
    return create_app(ctx), login, password


def _serve(app: object, port: int) -> None:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)


def _log_in(page: Page, login: str, password: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_label("avec un code reçu par SMS").check()
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile("/connexion/code"))
    messages = page.context.new_page()
    messages.goto("/demo/messages")
    code = re.findall(r"\b[0-9]{6}\b", messages.inner_text("main"))[0]
    messages.close()
    page.get_by_label("Code reçu").fill(code)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile("/tableau-de-bord"))


def main() -> int:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="dmp-screenshots-") as folder:
        app, login, password = _demo(Path(folder), port)
        _serve(app, port)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for size, viewport in SIZES.items():
                context = browser.new_context(
                    base_url=f"http://127.0.0.1:{port}",
                    viewport=viewport,
                    locale="fr-FR",
                    timezone_id="Europe/Paris",
                )
                page = context.new_page()
                _log_in(page, login, password)
                for name, path in PAGES.items():
                    page.goto(path)
                    target = HERE / f"{name}-{size}.png"
                    page.screenshot(path=target, full_page=size == "phone")
                    print(target.relative_to(HERE.parents[1]))
                context.close()
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
