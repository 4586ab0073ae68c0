"""Envelope encryption for health data at rest (SPEC §2 destruction, §7 security).

Three layers, all AES-256-GCM from ``cryptography`` (no hand-rolled primitives):

* **Master keys** come from configuration only (never the database). A :class:`KeyRing` holds the
  current master key and the previous ones still needed to unwrap old data keys during a rotation.
* **Data keys**: one random 256-bit key per DMP, *wrapped* (encrypted) by the current master key.
  The wrap's associated data binds the DMP id, so a wrapped key copied onto another DMP's row does
  not unwrap. Destroying the wrapped key destroys the DMP (crypto-shredding, see ``keystore``).
* **Values** under a data key: :func:`seal` for small values (titles, comments, identity JSON),
  bound by their associated data to where they live (``f"title:{dmp_id}:{doc_id}"``), and a
  segmented stream (:func:`encrypt_stream`) for document contents of any size.

Streaming format (after Tink's AES-GCM-HKDF streaming AEAD and the STREAM construction of Hoang,
Reyhanitabar, Rogaway and Vizár)::

    header   = version (1) ‖ salt (16) ‖ nonce prefix (7)                 24 bytes
    subkey   = HKDF-SHA256(data key, salt, info = associated data)       32 bytes
    segment i = AES-GCM(subkey, nonce = prefix ‖ i (4, big-endian) ‖ last (1), aad = header)

Plaintext is cut into 64 KiB segments; only the final segment (possibly empty) has ``last = 1``.
Hence a reordered, swapped, dropped or appended segment, a cut tail or a changed header fails a tag
check. A fresh salt per blob gives a fresh subkey, so the 96-bit nonces never repeat under a key.
Decryption releases a segment only after its tag verified; a consumer that already forwarded
earlier segments (an HTTP response) must treat a later :class:`IntegrityError` as a failed transfer.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dmp.errors import ConfigurationError, IntegrityError, InvalidInput, TooLarge

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
SEGMENT_SIZE = 64 * 1024
SALT_SIZE = 16
NONCE_PREFIX_SIZE = 7
HEADER_SIZE = 1 + SALT_SIZE + NONCE_PREFIX_SIZE

_SEAL_VERSION = b"\x01"
_STREAM_VERSION = b"\x01"
_MAX_SEGMENTS = 2**32  # the segment counter is 4 bytes
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_WRAP_AAD = b"dmp/data-key/v1\x00"


# --- master keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit key-encryption key from configuration; its bytes never appear in a repr."""

    key_id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            # Not echoed: a malformed entry may be a key pasted in the wrong place.
            raise ConfigurationError(
                "Identifiant de clé maîtresse invalide "
                "(lettres, chiffres, « . _ - », 64 caractères au plus)."
            )
        if len(self.key) != KEY_SIZE:
            raise ConfigurationError(
                f"La clé maîtresse {self.key_id!r} doit faire {KEY_SIZE} octets "
                f"(reçu {len(self.key)})."
            )


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted by the master key ``key_id``."""

    key_id: str
    blob: bytes = field(repr=False)


@dataclass(frozen=True)
class KeyRing:
    """The current master key (wraps) and the previous ones (only unwrap, until re-wrapped)."""

    current: MasterKey
    previous: tuple[MasterKey, ...] = ()

    def __post_init__(self) -> None:
        ids = [key.key_id for key in self.all_keys]
        duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
        if duplicates:
            raise ConfigurationError(
                f"Identifiants de clé maîtresse en double: {', '.join(duplicates)}."
            )

    @property
    def all_keys(self) -> tuple[MasterKey, ...]:
        return (self.current, *self.previous)

    def find(self, key_id: str) -> MasterKey | None:
        return next((key for key in self.all_keys if key.key_id == key_id), None)

    def new_data_key(self) -> bytes:
        return secrets.token_bytes(KEY_SIZE)

    def wrap(self, dmp_id: UUID, data_key: bytes) -> WrappedKey:
        _check_data_key(data_key)
        aad = _wrap_aad(dmp_id, self.current.key_id)
        return WrappedKey(self.current.key_id, seal(self.current.key, data_key, aad))

    def unwrap(self, dmp_id: UUID, wrapped: WrappedKey) -> bytes:
        master = self.find(wrapped.key_id)
        if master is None:
            raise IntegrityError(
                f"Clé maîtresse {wrapped.key_id!r} inconnue: elle doit rester configurée "
                "(parmi les précédentes) tant que la rotation des clés n'est pas terminée."
            )
        data_key = open_sealed(master.key, wrapped.blob, _wrap_aad(dmp_id, wrapped.key_id))
        _check_data_key(data_key)
        return data_key


def _wrap_aad(dmp_id: UUID, key_id: str) -> bytes:
    return _WRAP_AAD + dmp_id.bytes + key_id.encode("ascii")


def parse_master_keys(spec: str) -> KeyRing:
    """Read ``"id1:base64key,id2:base64key"``; the first entry is the current master key."""
    entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
    if not entries:
        raise ConfigurationError("Aucune clé maîtresse configurée.")
    keys = [_parse_master_key(number, entry) for number, entry in enumerate(entries, 1)]
    return KeyRing(keys[0], tuple(keys[1:]))


def _parse_master_key(number: int, entry: str) -> MasterKey:
    """Messages name the entry by its position, never by its text (it holds a secret)."""
    key_id, sep, encoded = entry.partition(":")
    if not sep:
        raise ConfigurationError(
            f"Clé maîtresse n°{number} mal formée (attendu « identifiant:base64 »)."
        )
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"La clé maîtresse n°{number} n'est pas du base64 valide."
        ) from None
    return MasterKey(key_id.strip(), key)


def generate_master_key_spec(key_id: str) -> str:
    """A fresh ``"id:base64key"`` entry, to put first in the configured list to rotate."""
    key = MasterKey(key_id, secrets.token_bytes(KEY_SIZE))
    return f"{key.key_id}:{base64.b64encode(key.key).decode('ascii')}"


def _check_data_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise IntegrityError(f"Clé de données invalide ({len(key)} octets au lieu de {KEY_SIZE}).")


# --- small values -----------------------------------------------------------------------------


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt a small value: version (1) ‖ random nonce (12) ‖ ciphertext ‖ tag (16)."""
    _check_data_key(key)
    nonce = secrets.token_bytes(NONCE_SIZE)
    return _SEAL_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, _SEAL_VERSION + aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt what :func:`seal` produced with the same key and associated data."""
    _check_data_key(key)
    if len(blob) < 1 + NONCE_SIZE + TAG_SIZE or blob[:1] != _SEAL_VERSION:
        raise IntegrityError("Valeur chiffrée tronquée ou de version inconnue.")
    nonce, ciphertext = blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _SEAL_VERSION + aad)
    except InvalidTag:
        raise IntegrityError("Valeur chiffrée altérée ou clé incorrecte.") from None


# --- streams ----------------------------------------------------------------------------------


def ciphertext_size(plaintext_size: int) -> int:
    """Exact size of :func:`encrypt_stream`'s output for ``plaintext_size`` bytes of input."""
    if plaintext_size < 0:
        raise InvalidInput("Taille négative.")
    segments = max(1, -(-plaintext_size // SEGMENT_SIZE))
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


def encrypt_stream(key: bytes, aad: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Encrypt chunks of any sizes; yields the header, then one ciphertext per 64 KiB segment."""
    _check_data_key(key)
    salt, prefix = secrets.token_bytes(SALT_SIZE), secrets.token_bytes(NONCE_PREFIX_SIZE)
    header = _STREAM_VERSION + salt + prefix
    return _encrypt_segments(_segment_cipher(key, salt, aad), header, _ChunkReader(chunks))


def _encrypt_segments(cipher: AESGCM, header: bytes, reader: _ChunkReader) -> Iterator[bytes]:
    yield header
    for index, (segment, last) in enumerate(_segments(reader, SEGMENT_SIZE)):
        if index >= _MAX_SEGMENTS:
            raise TooLarge("Contenu trop volumineux pour être chiffré.")
        yield cipher.encrypt(_nonce(header, index, last), segment, header)


def decrypt_stream(key: bytes, aad: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decrypt :func:`encrypt_stream`'s output (any chunking); raises IntegrityError on tampering.

    Each segment's plaintext is yielded only after its tag verified.
    """
    _check_data_key(key)
    return _decrypt_segments(key, aad, _ChunkReader(chunks))


def _decrypt_segments(key: bytes, aad: bytes, reader: _ChunkReader) -> Iterator[bytes]:
    header = reader.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE or header[:1] != _STREAM_VERSION:
        raise IntegrityError("Contenu chiffré tronqué ou de version inconnue.")
    cipher = _segment_cipher(key, header[1 : 1 + SALT_SIZE], aad)
    for index, (segment, last) in enumerate(_segments(reader, SEGMENT_SIZE + TAG_SIZE)):
        if len(segment) < TAG_SIZE or index >= _MAX_SEGMENTS:
            raise IntegrityError("Contenu chiffré tronqué.")
        try:
            plaintext = cipher.decrypt(_nonce(header, index, last), segment, header)
        except InvalidTag:
            raise IntegrityError(
                "Contenu chiffré altéré, tronqué ou réordonné, ou clé incorrecte."
            ) from None
        yield plaintext


def _segment_cipher(key: bytes, salt: bytes, aad: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=aad)
    return AESGCM(hkdf.derive(key))


def _nonce(header: bytes, index: int, last: bool) -> bytes:
    prefix = header[1 + SALT_SIZE :]
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _segments(reader: _ChunkReader, size: int) -> Iterator[tuple[bytes, bool]]:
    """Blocks of exactly ``size`` bytes except the final one (possibly empty), with a last flag.

    An input that ends on a block boundary has no empty trailing block: its final full block is
    the last one. An empty input gives a single empty last block.
    """
    current = reader.read(size)
    while True:
        following = reader.read(size)
        if not following:
            yield current, True
            return
        yield current, False
        current = following


class _ChunkReader:
    """Reads exact byte counts from an iterable of chunks of any sizes, copying only once."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only when the chunks are exhausted."""
        parts, wanted = [], size
        while wanted > 0:
            if not self._pending:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._pending = memoryview(chunk)
                continue
            part = self._pending[:wanted]
            parts.append(part)
            wanted -= len(part)
            self._pending = self._pending[len(part) :]
        return b"".join(parts)  # the one copy
