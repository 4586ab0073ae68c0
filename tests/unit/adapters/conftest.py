"""Fixtures for the adapter tests: throwaway SQLite files and PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

# Same variable and default as tests/conftest.py; the key store gets databases of its own.
PG_ADMIN_URL = os.environ.get(
    "DMP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_SERVER_URL = PG_ADMIN_URL.rsplit("/", 1)[0]


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """The PostgreSQL server; skipped when unreachable, unless CI=true (then a failure)."""
    engine = create_engine(
        PG_ADMIN_URL,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        engine.dispose()
        reason = f"PostgreSQL unreachable at {PG_SERVER_URL} ({type(error.orig).__name__})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}, and CI=true: the PostgreSQL tests are mandatory in CI.")
        pytest.skip(f"{reason}: PostgreSQL tests skipped (CI=true makes this a failure).")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_admin: Engine) -> Iterator[Engine]:
    """A brand-new database, dropped after the test."""
    name = f"dmp_test_keys_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(f"{PG_SERVER_URL}/{name}")
    yield engine
    engine.dispose()
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def keys_engine(request: pytest.FixtureRequest) -> Engine:
    """The key store's engine, on SQLite and on PostgreSQL."""
    fixture = {"sqlite": "sqlite_engine", "postgresql": "pg_engine"}[request.param]
    engine: Engine = request.getfixturevalue(fixture)
    return engine
