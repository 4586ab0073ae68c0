"""Helpers of the portal's tests: a browser-like client (cookies, forms with their CSRF token),
the codes the service sent, and logging in."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]*)"')
STRONG = "une phrase de passe assez longue"


class Browser:
    """What a browser does: keeps the cookie, reads the CSRF token of the page it is on, posts
    forms, follows redirections only when told."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        self.page: httpx.Response | None = None

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        self.page = self.client.get(url, **kwargs)
        assert self.page.status_code < 500, self.page.text
        return self.page

    def csrf(self) -> str:
        assert self.page is not None
        found = CSRF.search(self.page.text)
        assert found is not None, self.page.text
        return unescape(found.group(1))

    def post(self, url: str, data: dict[str, str], *, csrf: str | None = None) -> httpx.Response:
        fields = {"csrf": self.csrf() if csrf is None else csrf, **data}
        response = self.client.post(url, data=fields)
        assert response.status_code < 500, response.text
        if response.status_code != 303:
            self.page = response
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return self.get(response.headers["location"])


Codes = Callable[[], str]


def log_in(
    browser: Browser, login: str, password: str, last_code: Codes, *, channel: str = "email"
) -> httpx.Response:
    """Identifier and password, then the code just sent: the response of the code's form."""
    browser.get("/connexion")
    sent = browser.post(
        "/connexion", {"identifiant": login, "mot_de_passe": password, "canal": channel}
    )
    browser.follow(sent)
    return browser.post("/connexion/code", {"code": last_code()})


def first_log_in(browser: Browser, login: str, password: str, last_code: Codes) -> str:
    """The first login with the temporary password: a new one is chosen. Returns it."""
    done = log_in(browser, login, password, last_code)
    assert done.headers["location"] == "/connexion/nouveau-mot-de-passe", done.text
    browser.follow(done)
    chosen = browser.post(
        "/connexion/nouveau-mot-de-passe", {"mot_de_passe": STRONG, "confirmation": STRONG}
    )
    assert chosen.status_code == 303, chosen.text
    browser.follow(chosen)
    return STRONG


def fresh_code(browser: Browser, last_code: Codes, then: str) -> httpx.Response:
    """The fresh code asked before what cannot be undone: sent, then entered; the answer sends
    the browser back to ``then``."""
    browser.get(f"/confirmer?suite={then}")
    browser.post("/confirmer/envoi", {"canal": "email", "suite": then})
    browser.get(f"/confirmer?suite={then}")
    return browser.post("/confirmer", {"code": last_code(), "suite": then})
