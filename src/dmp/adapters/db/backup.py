"""Copying the data database, online and consistent, and putting a copy back (``dmp backup``,
``dmp restore``; docs/adr/0013-backup-and-restore.md).

- SQLite: the sqlite3 online backup API, in one step: it reads every page under one read
  transaction (a snapshot; in WAL mode the writers carry on meanwhile), and writes the restore
  the same way into the target file, under its write lock.
- PostgreSQL: ``pg_dump --format=custom`` (one repeatable-read snapshot of the whole database),
  put back by ``pg_restore --clean --if-exists --single-transaction`` (all or nothing). The
  client programs must be of the server's major version or newer.

The key store is another database: it is never copied here (ADR 2).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from dmp.adapters.db.migrate import current_revision
from dmp.adapters.files import private_sqlite_file
from dmp.errors import ConfigurationError, DmpError

SQLITE_FILE = "database.sqlite3"
PG_DUMP_FILE = "database.pgdump"


class BackupFailed(DmpError):
    code = "backup-failed"
    status = 500
    message = "La copie de la base de données a échoué."


def backend_of(url: str) -> str:
    return make_url(url).get_backend_name()


def file_name(url: str) -> str:
    return SQLITE_FILE if backend_of(url) == "sqlite" else PG_DUMP_FILE


def schema_revision(engine: Engine) -> str | None:
    return current_revision(engine)


def dump(url: str, target: Path) -> None:
    """Write a consistent copy of the database at ``url`` to ``target`` (a new file)."""
    if backend_of(url) == "sqlite":
        _sqlite_copy(_sqlite_path(url), target)
    else:
        options = ["--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
        _run("pg_dump", options, url)


def load(url: str, source: Path) -> None:
    """Replace the content of the database at ``url`` by the copy ``source`` (all or nothing).
    The service must be stopped: its connections would see the tables change under them."""
    if backend_of(url) == "sqlite":
        path = _sqlite_path(url)
        private_sqlite_file(str(path))
        _sqlite_copy(source, path)
        return
    _run(
        "pg_restore",
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            str(source),
        ],
        url,
    )


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ConfigurationError("Une base SQLite en mémoire ne se sauvegarde pas.")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """The online backup API, all pages in one step (``pages=-1``): one consistent snapshot."""
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(target, timeout=30)
            try:
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as error:
        raise BackupFailed(f"Copie de la base SQLite impossible : {error}.") from error


def _run(program: str, arguments: list[str], url: str) -> None:
    executable = shutil.which(program)
    if executable is None:
        raise ConfigurationError(
            f"« {program} » est introuvable : installez les outils clients de PostgreSQL "
            "(paquet postgresql-client, de la version du serveur ou plus récente)."
        )
    parsed = make_url(url)
    env = {**os.environ, **_libpq_environment(parsed)}
    dbname = f"--dbname={_libpq_url(parsed)}"
    done = subprocess.run(  # noqa: S603 - a fixed program, arguments built here, no shell
        [executable, *arguments, dbname], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr or "").strip().splitlines()[-3:]
        raise BackupFailed(f"{program} a échoué (code {done.returncode}) : {' '.join(detail)}")


def _libpq_url(parsed: URL) -> str:
    """The URL as libpq reads it: no driver in the scheme, no password (in the environment
    instead, so that it never shows in the process list)."""
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False)


def _libpq_environment(parsed: URL) -> dict[str, str]:
    return {} if parsed.password is None else {"PGPASSWORD": str(parsed.password)}
