"""Fixtures of the API tests: the personas with their bearer tokens, and the app served by
uvicorn on a loopback port (real HTTP; Starlette's TestClient is deprecated with httpx)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dmp.entrypoints.app import create_app
from dmp.services.context import Context
from dmp.services.directory import issue_token
from tests.e2e.fhir import Api, live_server
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
