"""Prefetching a search's keys: one key-store query, then every key comes from the cache."""

from __future__ import annotations

from uuid import uuid4

import pytest

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
