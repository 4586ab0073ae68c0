"""What the service writes to disk is its user's alone, even in a process whose umask would let
others read (both backends): folders 0700, files 0600 — the SQLite databases and their journals,
the key store, the content files, the upload spool, the demo secrets, the development outbox."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dmp.adapters.db.engine import make_engine
from dmp.bootstrap import build
from dmp.entrypoints.app import create_app
from dmp.services.delivery import dispatch
from dmp.services.submission import submit_documents
from dmp.settings import DeliverySettings
from tests.factories import pdf_submission
from tests.personas import populate


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A shell's usual umask: what is created is world-readable unless asked otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    return {str(path): stat.S_IMODE(path.stat().st_mode) for path in [root, *root.rglob("*")]}


def not_private(paths: dict[str, int]) -> dict[str, str]:
    return {
        path: oct(mode)
        for path, mode in paths.items()
        if mode != (0o700 if Path(path).is_dir() else 0o600)
    }


def sqlite_files(url: str) -> dict[str, int]:
    database = make_url(url).database
    if make_url(url).get_backend_name() != "sqlite" or not database:
        return {}
    found = [Path(database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    return {str(p): stat.S_IMODE(p.stat().st_mode) for p in found if p.exists()}


def test_what_the_service_writes_is_private(permissive_umask, settings, clock, tmp_path):
    # Demo: its secrets file too, and its outbox (messages delivered to a folder).
    ctx = build(settings.with_(demo=True, delivery=DeliverySettings()), clock=clock)
    try:
        cast = populate(ctx)  # databases, key store, accounts, notifications
        submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])  # content files
        create_app(ctx)  # the upload spool
        assert dispatch(ctx).sent > 0  # the development outbox
        with ctx.engine.connect() as conn:  # an open SQLite database has its -wal and -shm
            conn.execute(text("SELECT count(*) FROM records"))
            files = {
                **modes(ctx.settings.data_dir),
                **modes(ctx.settings.blob_dir),
                **sqlite_files(ctx.settings.database_url),
                **sqlite_files(ctx.settings.keystore_url),
            }
        assert any(path.endswith("keys.sqlite3") for path in files)
        if ctx.engine.dialect.name == "sqlite":
            assert any(path.endswith("-shm") for path in files)
        assert any(path.endswith("-0") for path in files)  # a content file
        assert any(path.endswith(".json") for path in files)  # an outbox message
        assert not_private(files) == {}
    finally:
        ctx.engine.dispose()


def test_a_world_readable_database_of_an_older_install_is_made_private(permissive_umask, tmp_path):
    database = tmp_path / "old.sqlite3"
    for path in (database, Path(f"{database}-wal")):
        path.write_bytes(b"")
        path.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert sqlite_files(f"sqlite:///{database}") == {str(database): 0o600, f"{database}-wal": 0o600}
