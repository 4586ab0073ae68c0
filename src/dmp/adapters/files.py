"""Files and folders that hold data or keys are the service user's alone: folders 0700, files 0600.

The process starts with a umask of 0o077 (:func:`private_umask`, called once by the command line
and by a worker's app factory), so that whatever a library creates (SQLite's journals, temporary
files) is private too; and every place that creates such a file or folder asks for its mode
explicitly, so that it stays private in a process started otherwise (tests, an embedding host).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dmp.errors import ConfigurationError

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file; it creates them with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_umask() -> None:
    """From now on, whatever this process creates is readable by its user only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``path`` and its missing parents, created 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def _restrict(path: Path) -> None:
    """Make an existing file private if it is not (an install from before this rule)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & ~FILE_MODE:
            path.chmod(FILE_MODE)
    except FileNotFoundError:
        return
    except OSError as error:
        raise ConfigurationError(
            f"Impossible de réserver {path} à l'utilisateur du service : {error}"
        ) from None


def private_sqlite_file(database: str | None) -> None:
    """Before SQLite opens ``database`` (a path; None or ``:memory:`` for none), create it empty
    and private, so that the journals SQLite derives from it are private too."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE))
    except OSError as error:
        raise ConfigurationError(f"Impossible de créer la base {path} : {error}") from None
    for suffix in ("", *SQLITE_COMPANIONS):
        _restrict(path.with_name(path.name + suffix))


def write_private(path: Path, text: str) -> None:
    """Write a new text file (UTF-8) that only the service user can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    _restrict(path)
