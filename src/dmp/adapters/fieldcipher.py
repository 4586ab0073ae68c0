"""Encrypts the free-text fields of one DMP under that DMP's data key.

The associated data names the field and the row, so a ciphertext moved to another row or field
no longer opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from dmp.adapters.crypto import open_sealed, seal


@dataclass(frozen=True, slots=True)
class FieldCipher:
    dmp_id: UUID
    key: bytes

    def _aad(self, field: str, row: object) -> bytes:
        return f"{field}:{self.dmp_id}:{row}".encode()

    def seal(self, field: str, row: object, text: str) -> bytes:
        return seal(self.key, text.encode("utf-8"), self._aad(field, row))

    def open(self, field: str, row: object, blob: bytes) -> str:
        return open_sealed(self.key, blob, self._aad(field, row)).decode("utf-8")

    def seal_optional(self, field: str, row: object, text: str | None) -> bytes | None:
        return None if text is None else self.seal(field, row, text)

    def open_optional(self, field: str, row: object, blob: bytes | None) -> str | None:
        return None if blob is None else self.open(field, row, blob)
