"""Content storage behind one interface (SPEC §7 "nothing acknowledged is ever lost", §8 scale).

What is stored is already ciphertext (``crypto.encrypt_stream``); the store never sees health data
in clear. Keys are ``"<dmp_id>/<name>"`` (see :func:`blob_key`), so a DMP's contents share a prefix
and total destruction is one :meth:`BlobStore.delete_prefix`.

:class:`LocalBlobStore` is for **one machine** (development, and a region served by one server):
files under a root directory, written atomically. The national service uses an S3-compatible
object store (SPEC §8): :class:`dmp.adapters.s3.S3BlobStore` implements the same
:class:`BlobStore` protocol, and ``bootstrap`` picks one from the settings.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from uuid import UUID

from dmp.adapters.files import DIR_MODE, private_dir
from dmp.errors import InvalidInput, NotFound, StorageFull, Unavailable

READ_SIZE = 64 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class StorageUnavailable(Unavailable):
    code = "storage-unavailable"
    status = 503
    message = (
        "Le stockage des documents est indisponible : le document n'a pas été enregistré. "
        "Réessayez dans quelques minutes."
    )


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _failure(error: OSError) -> Unavailable:
    """Full (no space, quota, file size limit) or otherwise unwritable (rights, read-only, I/O)."""
    return StorageFull() if error.errno in _FULL else StorageUnavailable()


class BlobStore(Protocol):
    """Where document contents (ciphertext) live."""

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the chunks under ``key`` all or nothing; returns the number of bytes written."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """The stored bytes, streamed in 64 KiB reads; ``NotFound`` if absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is fine."""
        ...

    def exists(self, key: str) -> bool: ...

    def list_older_than(self, cutoff: datetime) -> Iterator[str]:
        """Keys written before ``cutoff`` (aware): candidates for the orphan sweeper."""
        ...

    def delete_prefix(self, dmp_id: UUID) -> int:
        """Remove every blob of a DMP (total destruction); returns how many."""
        ...

    def purge_temp(self, older_than: datetime) -> int:
        """Remove what a process killed during ``put`` left of its write (a temporary file; in
        an object store, an unfinished multipart upload), started before ``older_than``
        (aware); returns how many."""
        ...

    def stored_keys(self) -> Iterator[str]:
        """Every key stored (a backup copies them)."""
        ...


def blob_key(dmp_id: UUID, blob_id: UUID) -> str:
    return f"{dmp_id}/{blob_id}"


def parse_key(key: str) -> tuple[UUID, str]:
    """Split and validate ``"<dmp_id>/<name>"``: no traversal, no absolute path, no odd bytes."""
    dmp_part, sep, name = key.partition("/")
    try:
        dmp_id = UUID(dmp_part)
    except ValueError:
        dmp_id = None
    if not sep or dmp_id is None or str(dmp_id) != dmp_part or not _NAME.fullmatch(name):
        raise InvalidInput(f"Clé de stockage invalide: {key[:80]!r}.")
    return dmp_id, name


class LocalBlobStore:
    """Files under ``root``: ``objects/<ab>/<cd>/<dmp_id>/<name>``, temp files in ``tmp/``.

    ``put`` writes a temp file on the same filesystem, fsyncs it, renames it into place with
    ``os.replace`` (atomic) and fsyncs the directory: a reader sees the whole blob or nothing,
    and a crash leaves at most a temp file (see :meth:`purge_temp`), never a partial blob.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "objects"
        self._tmp = root / "tmp"
        for directory in (root, self._objects, self._tmp):
            private_dir(directory)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        final = self._path(key)
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        except OSError as error:
            raise _failure(error) from error
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                size = _write_all(out, chunks)
            _ensure_dir(final.parent, stop=self._objects)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException as error:
            tmp.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise _failure(error) from error
            raise
        return size

    def open(self, key: str) -> Iterator[bytes]:
        try:
            stream = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFound() from None
        except OSError as error:
            raise StorageUnavailable() from error
        return _read_all(stream)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise StorageUnavailable() from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_older_than(self, cutoff: datetime) -> Iterator[str]:
        limit = _timestamp(cutoff)
        for dmp_dir in self._dmp_dirs():
            for entry in _scandir(dmp_dir):
                if _modified_before(entry, limit):
                    yield f"{dmp_dir.name}/{entry.name}"

    def stored_keys(self) -> Iterator[str]:
        for dmp_dir in self._dmp_dirs():
            for entry in _scandir(dmp_dir):
                if entry.is_file():
                    yield f"{dmp_dir.name}/{entry.name}"

    def delete_prefix(self, dmp_id: UUID) -> int:
        directory = self._dmp_dir(dmp_id)
        count = sum(1 for entry in _scandir(directory) if entry.is_file())
        try:
            shutil.rmtree(directory)
        except FileNotFoundError:
            return 0
        except OSError as error:
            raise StorageUnavailable() from error
        _fsync_dir(directory.parent)
        return count

    def purge_temp(self, older_than: datetime) -> int:
        """Remove temp files left by a crash during ``put`` (older than any write in progress)."""
        limit, count = _timestamp(older_than), 0
        for entry in _scandir(self._tmp):
            if _modified_before(entry, limit):
                Path(entry.path).unlink(missing_ok=True)
                count += 1
        return count

    def _path(self, key: str) -> Path:
        dmp_id, name = parse_key(key)
        return self._dmp_dir(dmp_id) / name

    def _dmp_dir(self, dmp_id: UUID) -> Path:
        text = str(dmp_id)
        return self._objects / text[:2] / text[2:4] / text  # fan-out: 65,536 directories

    def _dmp_dirs(self) -> Iterator[Path]:
        for first in _scandir(self._objects):
            for second in _scandir(Path(first.path)):
                yield from (Path(e.path) for e in _scandir(Path(second.path)) if e.is_dir())


def _timestamp(cutoff: datetime) -> float:
    if cutoff.tzinfo is None:
        raise InvalidInput("La date limite doit porter un fuseau horaire.")
    return cutoff.timestamp()


def _modified_before(entry: os.DirEntry[str], limit: float) -> bool:
    try:
        return entry.is_file() and entry.stat().st_mtime < limit
    except FileNotFoundError:
        return False  # deleted while we were listing


def _write_all(out: BinaryIO, chunks: Iterable[bytes]) -> int:
    size = 0
    for chunk in chunks:
        out.write(chunk)
        size += len(chunk)
    out.flush()
    os.fsync(out.fileno())
    return size


def _read_all(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(READ_SIZE):
            yield chunk


def _ensure_dir(directory: Path, *, stop: Path) -> None:
    """Create ``directory`` and missing parents below ``stop``, making each creation durable."""
    if directory.is_dir() or directory == stop:
        return
    _ensure_dir(directory.parent, stop=stop)
    try:
        directory.mkdir(mode=DIR_MODE)
    except FileExistsError:
        return  # a concurrent put created it
    _fsync_dir(directory.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _scandir(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except FileNotFoundError:
        return []
