"""Helpers of the tests of the portal's authorizations: the forms a page offers (so that a test
presses a button the page shows, with the fields the page gives it), what the services read
back, and the professionals' attempts through the API."""

from __future__ import annotations

import re
from html import unescape

import httpx

from dmp.services import authorizations, history
from tests.e2e.fhir import Api, ins_token, refused_search
from tests.e2e.portal import Browser
from tests.personas import ALICE_INS

_FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
LAW = "La loi interdit tout accès au DMP aux médecins du travail"


def forms(browser: Browser, action: str) -> list[dict[str, str]]:
    """The hidden fields of each form of the current page that posts to ``action``."""
    assert browser.page is not None
    return [
        {name: unescape(value) for name, value in _HIDDEN.findall(body)}
        for url, body in _FORM.findall(browser.page.text)
        if url == action
    ]


def press(browser: Browser, action: str, **wanted: object) -> httpx.Response:
    """Post the one form of the current page that posts to ``action`` with these fields."""
    expected = {name: str(value) for name, value in wanted.items()}
    found = [f for f in forms(browser, action) if expected.items() <= f.items()]
    assert len(found) == 1, (action, expected, forms(browser, action))
    fields = dict(found[0])
    return browser.post(
        action, {k: v for k, v in fields.items() if k != "csrf"}, csrf=fields["csrf"]
    )


def done(browser: Browser, response: httpx.Response) -> str:
    """The list the change came back to: its text."""
    assert response.status_code == 303, (response.status_code, response.text[:800])
    assert response.headers["location"].startswith("/autorisations?fait=")
    page = browser.follow(response)
    assert page.status_code == 200
    return read(page)


def read(response: httpx.Response) -> str:
    """A page's text as a reader reads it (entities decoded: « n'est », « Léa »)."""
    return unescape(response.text)


def choices(ctx, actor, dmp_id):
    return authorizations.access_choices(ctx, actor, dmp_id)


def granted(ctx, actor, dmp_id) -> dict[str, str]:
    """Who is authorized on the DMP, and how, as the service reads it."""
    return {g.subject.name: g.source for g in choices(ctx, actor, dmp_id).authorizations}


def entries(ctx, actor, dmp_id, action: str | None = None) -> list:
    found = history.read_history(ctx, actor, dmp_id, limit=200).entries
    return [e for e in found if action is None or e.action == action]


def alice_documents(api: Api, who: str, **emergency: str) -> int:
    """The status of a professional's search of Alice's documents (in an emergency mode, with
    a justification, when given): 404 for a search that may open no DMP (the API answers it
    with an empty searchset and an outcome, the same whether the DMP exists or not)."""
    params = {"patient.identifier": ins_token(ALICE_INS)}
    if emergency:
        params |= {"_dmp-access-mode": emergency["mode"], "_dmp-justification": "Urgence vitale"}
    response = api.get("/fhir/DocumentReference", params=params, as_=who)
    return 404 if refused_search(response) else response.status_code
