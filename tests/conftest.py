"""Shared fixtures: the storage backends (SQLite always, PostgreSQL when reachable, mandatory
when CI=true), the system's Chromium for the tests marked ``browser`` (mandatory when CI=true
too), a test context with a movable clock, and the named personas."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import upgrade
from dmp.adapters.db.tables import metadata
from dmp.bootstrap import build
from dmp.services.context import Context
from dmp.settings import DeliverySettings, Settings
from tests.objectstore import ObjectServer, object_server

PG_ADMIN_URL = os.environ.get(
    "DMP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# Debian's Chromium (``apt-get install -y chromium``), driven by Playwright: no browser of its own.
CHROMIUM = os.environ.get("DMP_TEST_CHROMIUM", "/usr/bin/chromium")


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver error means "not here"
        return f"{type(exc).__name__}: {exc}"


def require_postgres() -> None:
    problem = _pg_reachable()
    if problem is None:
        return
    message = f"PostgreSQL unreachable at {PG_ADMIN_URL} ({problem})"
    if IN_CI:
        pytest.fail(f"{message}: PostgreSQL tests are mandatory when CI=true")
    pytest.skip(f"{message}: start PostgreSQL to run these tests (mandatory in CI)")


def require_chromium() -> str:
    """The path of Chromium, for a real browser; the test is skipped, saying why, when there is
    none here, and fails when CI=true."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set DMP_TEST_CHROMIUM)"
    if IN_CI:
        pytest.fail(f"{message}: browser tests are mandatory when CI=true")
    pytest.skip(f"{message}: install it to run the browser tests (mandatory in CI)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``browser`` runs only where Chromium is (and must, when CI=true)."""
    if item.get_closest_marker("browser") is not None:
        require_chromium()


@pytest.fixture
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "dmp.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_postgres()
    name = f"dmp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        # Bypass the append-only triggers of the audit trail: this is the test harness, not dmp.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on both backends: SQLite (a fresh copy of a migrated file) and
    PostgreSQL (a migrated database emptied after the test)."""
    if request.param == "sqlite":
        path = tmp_path / "dmp.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    _empty_postgres(url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    from dmp.adapters.crypto import generate_master_key_spec
    from dmp.services.audit import AuditSigner

    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        keystore_url=f"sqlite:///{tmp_path / 'keys.sqlite3'}",
        blob_dir=tmp_path / "blobs",
        master_keys=generate_master_key_spec("test-1"),
        audit_signing_key=AuditSigner.generate(),
        max_content_bytes=2 * 1024 * 1024,
        cookie_secure=False,  # the tests' servers speak plain HTTP on the loopback interface
        # Nothing is sent unless a test gives the context a notifier (tests/integration/mail.py).
        delivery=DeliverySettings(enabled=False),
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[ObjectServer]:
    """A local S3-compatible server (moto, in its own process), for the whole run."""
    with object_server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: ObjectServer) -> str:
    """A fresh bucket of the test's own."""
    return s3_server.new_bucket()


@pytest.fixture
def ctx(settings: Settings, clock: FakeClock) -> Iterator[Context]:
    context = build(settings, clock=clock)
    # Cheap Argon2id parameters: the tests check behaviour, the benchmarks measure cost.
    context.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield context
    context.engine.dispose()


@pytest.fixture
def engine(ctx: Context) -> Engine:
    return ctx.engine


@pytest.fixture
def figures(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """What a test measured (uploads acknowledged and found, steps run, discrepancies, memory):
    written at the end of the run under « figures », the test workers' included, so that a
    run's log keeps them."""

    def report(line: str) -> None:
        record_property("figure", line.strip())

    return report


def _backend(nodeid: str) -> str | None:
    for backend in ("sqlite", "postgresql"):
        if f"[{backend}" in nodeid or f"-{backend}]" in nodeid or f"-{backend}-" in nodeid:
            return backend
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many storage tests ran on each backend, so a run shows both were exercised."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            backend = _backend(getattr(report, "nodeid", ""))
            # a passed test is counted on its call; a skip or an error wherever it happened
            counted = outcome != "passed" or getattr(report, "when", "") == "call"
            if backend and counted:
                by_outcome = counts.setdefault(backend, {})
                by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
    _figures(terminalreporter)
    if counts:
        terminalreporter.section("storage backends")
        for backend, by_outcome in sorted(counts.items()):
            detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(by_outcome.items()))
            terminalreporter.write_line(f"{backend}: {detail}")


def _figures(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures the passed tests reported (the ``figures`` fixture)."""
    found = [
        (report.nodeid, value)
        for report in terminalreporter.stats.get("passed", [])
        if getattr(report, "when", "") == "call"
        for name, value in getattr(report, "user_properties", [])
        if name == "figure"
    ]
    if found:
        terminalreporter.section("figures")
        # By test; a test's own figures in the order it reported them.
        for nodeid, value in sorted(found, key=lambda figure: figure[0]):
            terminalreporter.write_line(f"{nodeid}: {value}")
