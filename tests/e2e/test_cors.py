"""CORS: off by default; for the origins the operator allowed (``DMP_CORS_ORIGINS``), the API
answers preflights and names the origin; never for another origin, never on the portal's
pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from dmp.entrypoints.app import create_app
from dmp.errors import ConfigurationError
from dmp.settings import load_settings
from tests.e2e.fhir import live_server

APP = "https://app.example.org"
PREFLIGHT = {
    "Origin": APP,
    "Access-Control-Request-Method": "PATCH",
    "Access-Control-Request-Headers": "authorization, if-match, content-type",
}


@pytest.fixture
def allowing(ctx) -> Iterator[httpx.Client]:
    allowed = replace(ctx, settings=ctx.settings.with_(cors_origins=(APP,)))
    with live_server(create_app(allowed)) as base, httpx.Client(base_url=base) as client:
        yield client


def test_no_cors_by_default(api):
    preflight = api.client.options("/fhir/DocumentReference/x", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    answer = api.client.get("/fhir/metadata", headers={"Origin": APP})
    assert "access-control-allow-origin" not in answer.headers
    assert answer.json()["rest"][0]["security"]["cors"] is False


def test_an_allowed_origin_gets_its_preflight_and_its_answers(allowing, tokens):
    preflight = allowing.options("/fhir/DocumentReference/x", headers=PREFLIGHT)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == APP
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    allowed_headers = preflight.headers["access-control-allow-headers"].lower()
    assert {"authorization", "if-match", "content-type", "prefer"} <= {
        h.strip() for h in allowed_headers.split(",")
    }
    answer = allowing.get(
        "/fhir/metadata", headers={"Origin": APP, "Authorization": f"Bearer {tokens['bruno']}"}
    )
    assert answer.headers["access-control-allow-origin"] == APP
    assert "ETag" in answer.headers["access-control-expose-headers"]
    assert answer.headers["vary"] == "Origin"
    assert answer.json()["rest"][0]["security"]["cors"] is True


def test_another_origin_and_the_portal_get_nothing(allowing):
    other = {**PREFLIGHT, "Origin": "https://evil.example.org"}
    refused = allowing.options("/fhir/metadata", headers=other)
    assert "access-control-allow-origin" not in refused.headers
    assert refused.status_code == 405
    for path in ("/", "/connexion"):
        page = allowing.get(path, headers={"Origin": APP})
        assert "access-control-allow-origin" not in page.headers
        preflight = allowing.options(path, headers=PREFLIGHT)
        assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    "value",
    ["http://app.example.org", "https://app.example.org/path", "*", "app.example.org"],
)
def test_the_allowed_origins_are_checked_at_start(value):
    env = {"DMP_DEMO": "1", "DMP_CORS_ORIGINS": value}
    with pytest.raises(ConfigurationError, match="DMP_CORS_ORIGINS"):
        load_settings(env)


def test_the_allowed_origins_are_read_from_the_settings():
    env = {"DMP_DEMO": "1", "DMP_CORS_ORIGINS": f"{APP}, http://127.0.0.1:3000/"}
    assert load_settings(env).cors_origins == (APP, "http://127.0.0.1:3000")
    assert load_settings({"DMP_DEMO": "1"}).cors_origins == ()
