"""Helpers of the professional portal's tests: a real OpenID provider on the loopback interface
(oidc-provider, run by Node), logging in through it or with RPPS, password and an authenticator
app's code."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pyotp
import pytest

from dmp.settings import OidcSettings
from tests.conftest import IN_CI, FakeClock
from tests.e2e.fhir import free_port
from tests.e2e.portal import Browser

HERE = Path(__file__).resolve().parent.parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "dmp-pro", "secret-of-the-loopback-client"
PASSWORD = "un mot de passe de professionnel"
_FORM = re.compile(r'<form[^>]*action="([^"]+)"', re.S)
_SECRET = re.compile(r'id="cle-secrete">([A-Z2-7 ]+)<')


def _node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "Node.js and npm are needed for the OpenID provider of these tests"
        if IN_CI:
            pytest.fail(f"{message}: mandatory when CI=true")
        pytest.skip(message)
    with (HERE / ".install.lock").open("w") as lock:  # one install, whatever the workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True)
    return node


@contextmanager
def openid_provider(redirect_uri: str, accounts: dict[str, dict[str, object]]) -> Iterator[str]:
    """oidc-provider serving on a free loopback port; yields its issuer."""
    node, port = _node(), free_port()
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_ACCOUNTS": json.dumps(accounts),
    }
    process = subprocess.Popen(
        [node, "provider.mjs"], cwd=HERE, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ready "), line
        yield line.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def provider_settings(issuer: str) -> OidcSettings:
    return OidcSettings(issuer, CLIENT_ID, CLIENT_SECRET)


def accounts_for(*people: tuple[str, str, str]) -> dict[str, dict[str, object]]:
    """Accounts of the provider: (login, RPPS, profession code) each."""
    return {
        login: {"SubjectNameID": f"8{rpps}", "SubjectRole": [f"{profession}^1.2.250.1.213.1.1.5.5"]}
        for login, rpps, profession in people
    }


def at_provider(browser: Browser, login: str) -> httpx.Response:
    """Press « Pro Santé Connect », log in at the provider as ``login``, consent, and come back:
    the portal's answer to the return."""
    leaving = browser.post("/pro/connexion/psc", {})
    assert leaving.status_code == 303, leaving.text
    location = leaving.headers["location"]
    back = _through_provider(location, login)
    return browser.get(back)


def _through_provider(location: str, login: str) -> str:
    with httpx.Client(timeout=30, follow_redirects=False) as provider:
        answer = provider.get(location)
        for _ in range(10):
            if answer.status_code in (302, 303):
                location = urljoin(str(answer.url), answer.headers["location"])
                if not location.startswith(str(answer.url.copy_with(path="/", query=None))):
                    return location  # back to the portal
                answer = provider.get(location)
                continue
            action = urljoin(str(answer.url), unescape(_FORM.search(answer.text).group(1)))  # type: ignore[union-attr]
            if 'name="login"' in answer.text:
                answer = provider.post(
                    action, data={"prompt": "login", "login": login, "password": "x"}
                )
            else:
                answer = provider.post(action, data={"prompt": "consent"})
    raise AssertionError("the provider did not send the browser back")


def enrol_and_log_in(browser: Browser, rpps: str, clock: FakeClock) -> str:
    """The first login with RPPS and password: the app is enrolled with the secret shown, its
    first code logs in. Returns the secret."""
    browser.get("/pro/connexion")
    sent = browser.post("/pro/connexion", {"rpps": rpps, "mot_de_passe": PASSWORD})
    assert sent.headers.get("location") == "/pro/connexion/application", sent.text
    shown = browser.follow(sent)
    found = _SECRET.search(shown.text)
    assert found is not None, shown.text
    secret = found.group(1).replace(" ", "")
    done = browser.post("/pro/connexion/application", {"code": code_at(secret, clock)})
    assert done.status_code == 303, done.text
    return secret


def log_in_again(browser: Browser, rpps: str, secret: str, clock: FakeClock) -> httpx.Response:
    """A later login: RPPS, password, then the app's code of a new time step."""
    clock.advance(seconds=30)
    browser.get("/pro/connexion")
    sent = browser.post("/pro/connexion", {"rpps": rpps, "mot_de_passe": PASSWORD})
    assert sent.headers.get("location") == "/pro/connexion/code", sent.text
    browser.follow(sent)
    return browser.post("/pro/connexion/code", {"code": code_at(secret, clock)})


def code_at(secret: str, clock: FakeClock) -> str:
    return pyotp.TOTP(secret).at(clock.now)


BOUNDARY = "----dmp-pro-test-boundary-Qd81Kx"


def pro_multipart(
    fields: dict[str, str], files: list[tuple[str, str, bytes]], *, file_name: str = "fichiers"
) -> bytes:
    """A multipart/form-data body as a browser sends the document form: the fields first, then
    each file (name, MIME type, bytes) under the same field name."""
    body = b""
    for name, value in fields.items():
        body += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    for name, mime_type, content in files:
        body += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_name}"; '
            f'filename="{name}"\r\nContent-Type: {mime_type}\r\n\r\n'
        ).encode()
        body += content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def pro_upload(
    browser: Browser,
    form_page: str,
    fields: dict[str, str],
    files: list[tuple[str, str, bytes]],
    *,
    csrf: str | None = None,
) -> httpx.Response:
    """Open the document form at ``form_page``, then post it with these fields and files."""
    shown = browser.get(form_page)
    assert shown.status_code == 200, shown.text
    action = re.search(r'<form method="post" action="([^"]+)" enctype', shown.text)
    assert action is not None, shown.text
    token = browser.csrf() if csrf is None else csrf
    body = pro_multipart({"csrf": token, **fields}, files)
    answer = browser.client.post(
        unescape(action.group(1)),
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert answer.status_code < 500, answer.text
    if answer.status_code != 303:
        browser.page = answer
    return answer
