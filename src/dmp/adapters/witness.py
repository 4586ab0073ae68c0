"""The audit trail's witness: where signed checkpoints of the chain heads are kept, outside the
database (see docs/adr/0004-audit-chain.md).

The default backend is one file, ``checkpoints.jsonl``, in a directory of its own
(``DMP_WITNESS_DIR``). It is only ever opened for writing with ``O_APPEND``, so that it works
unchanged on a file marked append-only (``chattr +a``), owned by another user, or on a
write-once volume: stores the database's owner cannot rewrite. Writers take an exclusive
``flock`` for the whole of a checkpoint (reading the last line, then appending), so that the
server and a cron job never write the same number twice; readers take a shared one, so that they
never see half a line. Other sinks (an object store with retention lock, a remote syslog) would
implement the same two methods.

This module stores lines; what a line holds, and its signature, is ``dmp.services.witness``'s
business.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from dmp.errors import DmpError

FILE_NAME = "checkpoints.jsonl"
_BLOCK = 64 * 1024


class WitnessUnavailable(DmpError):
    code = "witness-unavailable"
    status = 503
    message = "Le témoin du journal d'audit est inaccessible."


class WitnessLog(Protocol):
    """The witness as one writer holds it; the other writers wait."""

    def backwards(self) -> Iterator[bytes]:
        """The complete lines, last first, without their newline."""
        ...

    def append(self, lines: Iterable[bytes]) -> None:
        """Add these lines at the end (each gets its newline) and make them durable."""
        ...


class Witness(Protocol):
    location: str  # for the operator's messages

    def exists(self) -> bool: ...

    def writer(self) -> AbstractContextManager[WitnessLog]:
        """Hold the witness alone, to read its end and append."""
        ...

    def reader(self) -> AbstractContextManager[Iterator[bytes]]:
        """Every line from the first, each with its newline (a last line without one was cut
        short), while no writer is half-way through a line."""
        ...


class FileWitness:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self.location = str(self.path)

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def writer(self) -> Iterator[WitnessLog]:
        fd = self._open_for_append()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield _FileLog(fd, self.location)
        finally:
            os.close(fd)  # releases the lock

    @contextmanager
    def reader(self) -> Iterator[Iterator[bytes]]:
        try:
            handle = self.path.open("rb")
        except OSError as error:
            raise self._unavailable("Impossible de lire le", error) from error
        with handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            yield iter(handle)

    def _open_for_append(self) -> int:
        """Open (creating it, 0600 in a 0700 directory, when it does not exist yet) for
        appending: ``O_APPEND`` is all an append-only file accepts, and every write lands at the
        end whatever the other writers did."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise self._unavailable("Impossible d'écrire dans le", error) from error
        if created:
            _fsync_dir(self.directory)
        return fd

    def _unavailable(self, what: str, error: OSError) -> WitnessUnavailable:
        return WitnessUnavailable(
            f"{what} témoin du journal d'audit {self.location} : {error.strerror or error}."
        )


class _FileLog:
    def __init__(self, fd: int, location: str) -> None:
        self._fd = fd
        self._location = location

    def backwards(self) -> Iterator[bytes]:
        """Read from the end by blocks: the file grows for years, a checkpoint needs its last
        few minutes."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        if os.pread(self._fd, 1, size - 1) != b"\n":
            raise WitnessUnavailable(
                f"Le témoin du journal d'audit {self._location} se termine par une ligne "
                "incomplète (écriture interrompue ou modification) : aucun point de contrôle "
                "ne sera ajouté avant qu'il ait été examiné (« dmp audit verify »)."
            )
        position = size - 1
        pending: list[bytes] = []  # the pieces of the line being read, the last one first
        while position > 0:
            start = max(0, position - _BLOCK)
            block = os.pread(self._fd, position - start, start)
            position = start
            cut = block.rfind(b"\n")
            while cut >= 0:
                yield b"".join([block[cut + 1 :], *reversed(pending)])
                pending, block = [], block[:cut]
                cut = block.rfind(b"\n")
            pending.append(block)
        yield b"".join(reversed(pending))

    def append(self, lines: Iterable[bytes]) -> None:
        try:
            for line in lines:
                _write_all(self._fd, line + b"\n")
            os.fsync(self._fd)
        except OSError as error:
            raise WitnessUnavailable(
                f"Impossible d'écrire dans le témoin du journal d'audit {self._location} : "
                f"{error.strerror or error}."
            ) from error


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
