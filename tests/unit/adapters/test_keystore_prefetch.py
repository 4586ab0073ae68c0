"""Prefetching a search's keys: one key-store query, then every key comes from the cache."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from sqlalchemy import event

from dmp.adapters.crypto import generate_master_key_spec, parse_master_keys
from dmp.adapters.keystore import DataKeys, KeyDestroyed, KeyStore


def test_prefetch_fills_the_cache_in_one_query(tmp_path):
    store = KeyStore.from_url(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    store.create_schema()
    ring = parse_master_keys(generate_master_key_spec("m"))
    ids = [uuid4() for _ in range(3)]
    created = {i: DataKeys(store, ring).create(i) for i in ids}
    keys = DataKeys(store, ring)  # a fresh process: nothing cached
    calls = []
    real_get_many = store.get_many
    store.get_many = lambda wanted, group=None: (  # type: ignore[method-assign]
        calls.append(list(wanted)) or real_get_many(wanted, group)
    )
    keys.prefetch([*ids, missing := uuid4()])
    store.get = lambda _id: pytest.fail("a prefetched key was fetched again")  # type: ignore[method-assign]
    assert {i: keys.get(i) for i in ids} == created
    assert len(calls) == 1
    keys.prefetch(ids)  # all cached: nothing asked
    assert calls[1:] == [[]]
    store.get = lambda _id: None  # type: ignore[method-assign]
    with pytest.raises(KeyDestroyed):
        keys.get(missing)


def _store(tmp_path):
    store = KeyStore.from_url(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    store.create_schema()
    return store, parse_master_keys(generate_master_key_spec("m"))


def _statements(store: KeyStore) -> list[str]:
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def _a_dmp(store: KeyStore, ring, documents: int) -> tuple[UUID, dict[UUID, bytes]]:
    writer = DataKeys(store, ring)
    dmp = uuid4()
    created = {dmp: writer.create(dmp)}
    created |= {doc: writer.create(doc, group=dmp) for doc in (uuid4() for _ in range(documents))}
    return dmp, created


def test_a_dmps_key_comes_with_its_documents_keys_in_one_query(tmp_path):
    store, ring = _store(tmp_path)
    dmp, created = _a_dmp(store, ring, documents=3)
    other, theirs = _a_dmp(store, ring, documents=1)
    keys = DataKeys(store, ring)  # a fresh process: nothing cached
    seen = _statements(store)
    assert keys.get_with_group(dmp) == created[dmp]
    assert len(seen) == 1
    assert {owner: keys.get(owner) for owner in created} == created
    keys.prefetch(list(created), group=dmp)
    assert len(seen) == 1  # every key of the group came with the DMP's
    assert keys.get(other) == theirs[other]  # another DMP's group was not read
    assert len(seen) == 2
    assert keys.get_with_group(dmp) == created[dmp]  # cached: no query
    assert len(seen) == 2


def test_a_group_larger_than_half_the_cache_is_read_in_part_then_completed(tmp_path):
    store, ring = _store(tmp_path)
    dmp, created = _a_dmp(store, ring, documents=5)
    assert len(store.group_keys(dmp, limit=3)) == 3
    keys = DataKeys(store, ring, cache_size=6)  # three keys of a group at most
    seen = _statements(store)
    assert keys.get_with_group(dmp) == created[dmp]
    assert len(seen) <= 2  # the group's first three, and the DMP's own if it was not among them
    keys.prefetch(list(created), group=dmp)
    assert {owner: keys.get(owner) for owner in created} == created
    assert len(seen) <= 3


def test_a_destroyed_dmp_key_is_reported_and_its_documents_keys_are_not_cached(tmp_path):
    store, ring = _store(tmp_path)
    dmp, created = _a_dmp(store, ring, documents=2)
    DataKeys(store, ring).destroy(dmp)
    keys = DataKeys(store, ring)
    with pytest.raises(KeyDestroyed):
        keys.get_with_group(dmp)
    seen = _statements(store)
    document = next(owner for owner in created if owner != dmp)
    assert keys.get(document) == created[document]
    assert len(seen) == 1  # read now: the group read kept nothing of a destroyed DMP
