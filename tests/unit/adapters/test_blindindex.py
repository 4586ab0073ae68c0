"""The INS blind index: keyed, stable, one key per key store, created once and never silently
replaced."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from dmp.adapters.blindindex import BlindIndex, InsIndexer
from dmp.adapters.crypto import KeyRing, MasterKey
from dmp.adapters.keystore import INS_INDEX_KEY, DataKeys, KeyStore
from dmp.errors import ConfigurationError
from tests.personas import ALICE_INS, LEA_INS

K1 = MasterKey("k1", b"\x11" * 32)


@pytest.fixture
def keys(keys_engine: Engine) -> DataKeys:
    store = KeyStore(keys_engine)
    store.create_schema()
    return DataKeys(store, KeyRing(K1))


def test_the_index_is_an_hmac_sha256_of_the_ins_value_under_its_key() -> None:
    key = b"\x42" * 32
    expected = hmac.new(key, b"dmp/ins/v1\x00" + ALICE_INS.value.encode(), hashlib.sha256)
    assert InsIndexer(key).ins(ALICE_INS.value) == expected.hexdigest()
    assert ALICE_INS.value not in InsIndexer(key).ins(ALICE_INS.value)


def test_the_index_depends_on_the_key_and_on_the_value() -> None:
    one, other = InsIndexer(b"\x01" * 32), InsIndexer(b"\x02" * 32)
    assert one.ins(ALICE_INS.value) == one.ins(ALICE_INS.value)
    assert one.ins(ALICE_INS.value) != other.ins(ALICE_INS.value)
    assert one.ins(ALICE_INS.value) != one.ins(LEA_INS.value)
    assert len(one.ins(ALICE_INS.value)) == 64


def test_the_key_is_created_once_in_the_key_store_and_read_back(keys: DataKeys) -> None:
    first = BlindIndex(keys, may_create=lambda: True).ins(ALICE_INS.value)
    assert keys.store.get(INS_INDEX_KEY) is not None
    # Another process (another cache) reads the same key: the same index.
    other = DataKeys(keys.store, KeyRing(K1))
    assert BlindIndex(other, may_create=lambda: False).ins(ALICE_INS.value) == first


def test_no_new_key_while_the_data_holds_indexes(keys: DataKeys) -> None:
    """A key store that lacks the index key while the data database holds indexes is the wrong
    key store: a new key would make every DMP look absent."""
    index = BlindIndex(keys, may_create=lambda: False)
    with pytest.raises(ConfigurationError, match="DMP_KEYSTORE_URL"):
        index.ins(ALICE_INS.value)
    assert keys.store.get(INS_INDEX_KEY) is None


def test_racing_processes_end_up_with_one_key(keys: DataKeys) -> None:
    indexes = [BlindIndex(DataKeys(keys.store, KeyRing(K1)), lambda: True) for _ in range(4)]
    found: list[str] = []
    threads = [threading.Thread(target=lambda i=i: found.append(i.ins("x"))) for i in indexes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1


def test_the_orphan_sweep_never_lists_the_index_key(keys: DataKeys) -> None:
    BlindIndex(keys, may_create=lambda: True).ins(ALICE_INS.value)
    later = datetime.now(UTC) + timedelta(days=1)
    assert INS_INDEX_KEY not in set(keys.store.ids_created_before(later))
    assert INS_INDEX_KEY in set(keys.store.iter_ids())  # but it is rotated like any key
