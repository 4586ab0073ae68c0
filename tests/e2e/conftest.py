"""Fixtures of the API tests: the personas with their bearer tokens, and the app served by
uvicorn on a loopback port (real HTTP; Starlette's TestClient is deprecated with httpx)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import httpx
import pytest

from dmp.entrypoints.app import create_app
from dmp.services import pro_login
from dmp.services.context import Context
from dmp.services.directory import issue_token
from tests.conftest import FakeClock
from tests.e2e.fhir import Api, live_server
from tests.e2e.portal import Browser, first_log_in, fresh_code
from tests.e2e.pro import PASSWORD as PRO_PASSWORD
from tests.e2e.pro import enrol_and_log_in
from tests.integration.mail import Inbox, plain_smtp, send_through, smtp_server
from tests.personas import Cast, populate

TOKEN_HOLDERS = ("bruno", "chloe", "damien", "samuel", "hugo")


@pytest.fixture
def cast(ctx: Context) -> Cast:
    return populate(ctx)


@pytest.fixture
def tokens(ctx: Context, cast: Cast) -> dict[str, str]:
    issued = {name: issue_token(ctx, cast.professionals[name].rpps).token for name in TOKEN_HOLDERS}
    issued["pauline"] = issue_token(
        ctx, cast.professionals["pauline"].rpps, finess=cast.pharmacie.finess
    ).token
    return issued


@pytest.fixture
def server(ctx: Context) -> Iterator[str]:
    with live_server(create_app(ctx)) as base:
        yield base


@pytest.fixture
def api(server: str, tokens: dict[str, str]) -> Iterator[Api]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield Api(client, tokens)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions sent to the thread pool from now on, by name (Starlette's and FastAPI's
    hops all go through ``anyio.to_thread.run_sync``)."""
    sent: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(func, "func", func).__name__)  # run_in_threadpool's partial
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return sent


# --- the patient portal ---------------------------------------------------------------------------


@pytest.fixture
def browser(server: str) -> Iterator[Browser]:
    opened = Browser(server)
    yield opened
    opened.close()


@pytest.fixture
def other_browser(server: str) -> Iterator[Browser]:
    opened = Browser(server)
    yield opened
    opened.close()


@pytest.fixture
def mailbox(ctx: Context) -> Iterator[Inbox]:
    """A real SMTP server the service sends its messages to (the one-time codes included)."""
    with smtp_server() as server:
        send_through(ctx, plain_smtp(server.port))
        yield server.inbox


@pytest.fixture
def last_code(mailbox: Inbox):
    """The code of the last message the service sent, as the patient reads it in their mail."""

    def read() -> str:
        for message in reversed(mailbox.received):
            found = re.search(r"\b([0-9]{6})\b", message.body)
            if found:
                return found.group(1)
        raise AssertionError("no code was sent")

    return read


@pytest.fixture
def alice_browser(server: str, cast: Cast, last_code) -> Iterator[Browser]:
    """A browser where Alice is signed in (her first login done: her password is STRONG), and
    has just entered a fresh code (what cannot be undone is allowed for a few minutes)."""
    opened = Browser(server)
    first_log_in(opened, cast.alice_login, cast.alice_password, last_code)
    fresh_code(opened, last_code, "/tableau-de-bord")
    yield opened
    opened.close()


# --- the professional portal ----------------------------------------------------------------------

PRO_USERS = ("bruno", "chloe", "damien", "samuel", "hugo", "pauline")


@pytest.fixture
def pro_passwords(ctx: Context, cast: Cast) -> None:
    """The portal's password of the professionals who log in with RPPS and password."""
    for name in PRO_USERS:
        pro_login.set_password(ctx, cast.professionals[name].rpps, PRO_PASSWORD)


@pytest.fixture
def pro_browser(server: str, cast: Cast, clock: FakeClock, pro_passwords: None):
    """A browser where this professional is signed in (their app enrolled), acting alone or for
    their first establishment."""
    opened: list[Browser] = []

    def log_in(name: str) -> Browser:
        browser = Browser(server)
        opened.append(browser)
        enrol_and_log_in(browser, cast.professionals[name].rpps, clock)
        if browser.client.get("/pro").status_code == 303:  # the establishment to choose
            browser.get("/pro/structure")
            place = re.search(r'name="etablissement" value="([^"]+)"', browser.page.text)  # type: ignore[union-attr]
            assert place is not None
            browser.post("/pro/structure", {"etablissement": place.group(1)})
        return browser

    yield log_in
    for browser in opened:
        browser.close()
