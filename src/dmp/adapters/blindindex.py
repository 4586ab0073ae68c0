"""The keyed blind index of the INS: how the data database finds a DMP by the patient's INS
without holding the INS (SPEC §7).

``index = HMAC-SHA256(index key, "dmp/ins/v1" ‖ 0x00 ‖ INS value)``, in hexadecimal. The value
is the 15 characters of ``Ins.parse`` (spaces, dots and dashes removed, upper case), not its
system: one number opens one DMP whether it is sent as a NIR or as a NIA, as the unique
constraint on the clear INS did before.

The index key is a random 256-bit key kept in the key store, wrapped by the master key like the
data keys, under the fixed id ``INS_INDEX_KEY``. It is read once per process and kept unwrapped
here: computing an index is then one HMAC, no round trip. It is created once, by the first
process that needs it — unless the data database already holds indexes, which would mean that
the key store in use is not the one they were computed with (a new key would make every DMP
look absent, and let a second DMP be created for an INS that has one): then nothing is created
and the configuration is refused.

What it does not protect against: whoever holds the data *and* the key store (with the master
key) can compute the index of a candidate INS and test it. An INS has few enough plausible
values that the index is only as secret as its key.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable

from dmp.adapters.keystore import INS_INDEX_KEY, DataKeys
from dmp.errors import ConfigurationError

_DOMAIN = b"dmp/ins/v1\x00"


class InsIndexer:
    """The index function under a given key."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, _DOMAIN, hashlib.sha256)

    def ins(self, value: str) -> str:
        """The blind index of an INS value (as ``Ins.value``)."""
        mac = self._mac.copy()
        mac.update(value.encode("ascii"))
        return mac.hexdigest()


class BlindIndex:
    """The index function under the index key of the key store, read at first use."""

    def __init__(self, keys: DataKeys, may_create: Callable[[], bool]) -> None:
        """``may_create`` says whether the index key may be created if the key store has none
        (true only while the data database holds no index)."""
        self._keys = keys
        self._may_create = may_create
        self._indexer: InsIndexer | None = None
        self._lock = threading.Lock()

    def ins(self, value: str) -> str:
        """The blind index of an INS value (as ``Ins.value``)."""
        return (self._indexer or self._load()).ins(value)

    def _load(self) -> InsIndexer:
        with self._lock:
            if self._indexer is None:
                self._indexer = InsIndexer(self._key())
            return self._indexer

    def _key(self) -> bytes:
        if self._keys.store.get(INS_INDEX_KEY) is None and not self._may_create():
            raise ConfigurationError(
                "La clé de l'index des INS est absente du magasin de clés, alors que la base "
                "de données contient des index calculés avec elle : vérifiez DMP_KEYSTORE_URL "
                "(ce magasin de clés n'est pas celui de ces données)."
            )
        return self._keys.open_or_create(INS_INDEX_KEY)
