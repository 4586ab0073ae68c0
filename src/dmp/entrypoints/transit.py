"""Request bodies in transit, shared by the API and the portal: where an upload waits while it
arrives, and how a refused body is let finish.

An upload waits in an unlinked temporary file, encrypted (AES-256-CTR) under a key that exists
only in this process's memory: no plaintext health data is left on disk (SPEC §7), even after a
crash. It lives for one request; integrity does not matter here (the content is hashed, checked
and sealed by the use case), confidentiality does.

Past a size limit the rest of the body is read and thrown away, for a bounded time, before the
413 answer (a "lingering close", as web servers do), so that the client, still sending, does
receive the answer instead of a connection reset.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.requests import ClientDisconnect

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

MIB = 1024 * 1024
DRAIN_BYTES = 256 * MIB
DRAIN_SECONDS = 10.0


class SealedFile:
    """An unlinked temporary file, AES-CTR encrypted under a key held only in memory."""

    def __init__(self, directory: Path | None) -> None:
        self._key = secrets.token_bytes(32)
        self._counter = int.from_bytes(secrets.token_bytes(8), "big") << 64  # no wrap-around
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (kept open)
        self._encryptor = self._cipher(0).encryptor()

    def _cipher(self, block: int) -> Cipher[modes.CTR]:
        nonce = (self._counter + block).to_bytes(16, "big")
        return Cipher(algorithms.AES(self._key), modes.CTR(nonce))

    def write(self, data: bytes) -> None:
        self._file.write(self._encryptor.update(data))

    def flush(self) -> None:
        self._file.flush()

    def read(self, offset: int, size: int) -> bytes:
        block, skip = divmod(offset, 16)
        raw = os.pread(self._file.fileno(), size + skip, offset - skip)
        return self._cipher(block).decryptor().update(raw)[skip:]

    def close(self) -> None:
        self._file.close()


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what the client still sends of a refused body, up to a bound, and drop it."""
    drained = 0
    with suppress(TimeoutError, ClientDisconnect):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for chunk in chunks:
                drained += len(chunk)
                if drained > DRAIN_BYTES:
                    return


class SealedWriter(io.RawIOBase):
    """A write-only stream into a ``SealedFile``, for a writer that wants a file (``zipfile``):
    not seekable, so the writer streams (a ZIP's sizes after each member). Counts what it
    wrote, to read it back."""

    def __init__(self, sealed: SealedFile) -> None:
        super().__init__()
        self._sealed = sealed
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        self._sealed.write(chunk)
        self.size += len(chunk)
        return len(chunk)

    def flush(self) -> None:
        self._sealed.flush()
