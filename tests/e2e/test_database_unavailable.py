"""A database that does not answer is a 503 on every entrypoint: an ``OperationOutcome`` in
French on the API, a French page on the portal (a patient's session is looked up before the
page's handler runs), never a 500. The same, and the recovery, with a real database crash under
load: ``test_database_outage.py``."""

from __future__ import annotations

import httpx
import pytest

from dmp.adapters.db.engine import make_engine
from tests.e2e.fhir import ENGLISH, FHIR_JSON, free_port, ins_token
from tests.personas import ALICE_INS


@pytest.fixture
def database_down(ctx):
    """The service's database, unreachable (a port nothing listens on), then back."""
    working = ctx.engine
    ctx.engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/dmp")
    yield
    ctx.engine.dispose()
    ctx.engine = working


def _outcome_text(response: httpx.Response) -> str:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    [issue] = response.json()["issue"]
    assert issue["code"] == "transient"
    assert not ENGLISH.search(issue["details"]["text"])
    return str(issue["details"]["text"])


def _page(response: httpx.Response) -> str:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="fr"' in response.text
    return response.text


def test_api_and_portal_answer_503_while_the_database_is_down(api, server, database_down):
    search = {"patient.identifier": ins_token(ALICE_INS)}
    answer = api.client.get("/fhir/DocumentReference", params=search, headers=_bearer(api))
    assert "base de données ne répond pas" in _outcome_text(answer)
    with httpx.Client(base_url=server, timeout=30) as browser:
        assert "momentanément indisponible" in _page(browser.get("/connexion"))
        signed_in = {"Cookie": "dmp_session=" + "a" * 43}
        assert "momentanément indisponible" in _page(browser.get("/documents", headers=signed_in))


def _bearer(api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens['bruno']}", "Accept": FHIR_JSON}
