"""The local blob store: round trips, atomic writes, key validation, listing, destruction."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dmp.adapters.blobs import (
    READ_SIZE,
    BlobStore,
    LocalBlobStore,
    StorageUnavailable,
    blob_key,
    parse_key,
)
from dmp.errors import InvalidInput, NotFound

DMP_A = uuid.UUID("ab12cd34-0000-4000-8000-00000000000a")
DMP_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def key_a() -> str:
    return blob_key(DMP_A, uuid.uuid4())


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def test_local_store_implements_the_protocol(store: LocalBlobStore) -> None:
    backend: BlobStore = store
    assert backend is store


@pytest.mark.parametrize("size", [0, 1, READ_SIZE, 3 * READ_SIZE + 7])
def test_round_trip_in_64_kib_reads(store: LocalBlobStore, size: int) -> None:
    key, data = key_a(), os.urandom(size)
    assert store.put(key, (data[i : i + 1000] for i in range(0, size, 1000))) == size
    chunks = list(store.open(key))
    assert b"".join(chunks) == data
    assert all(len(chunk) == READ_SIZE for chunk in chunks[:-1])
    assert store.exists(key)


def test_layout_fans_out_by_dmp(store: LocalBlobStore) -> None:
    key = key_a()
    store.put(key, [b"x"])
    name = key.split("/")[1]
    assert (store.root / "objects" / "ab" / "12" / str(DMP_A) / name).is_file()


def test_put_replaces_atomically(store: LocalBlobStore) -> None:
    key = key_a()
    store.put(key, [b"first"])
    store.put(key, [b"second"])
    assert b"".join(store.open(key)) == b"second"


def failing_stream(error: BaseException) -> Iterator[bytes]:
    yield b"a" * READ_SIZE
    yield b"b" * 10
    raise error


@pytest.mark.parametrize("error", [RuntimeError("upload aborted"), KeyboardInterrupt()])
def test_failure_mid_stream_leaves_nothing(store: LocalBlobStore, error: BaseException) -> None:
    key = key_a()
    with pytest.raises(type(error)):
        store.put(key, failing_stream(error))
    assert not store.exists(key)
    assert files_under(store.root) == []


def test_failure_mid_stream_keeps_the_previous_version(store: LocalBlobStore) -> None:
    key = key_a()
    store.put(key, [b"kept"])
    with pytest.raises(RuntimeError):
        store.put(key, failing_stream(RuntimeError()))
    assert b"".join(store.open(key)) == b"kept"
    assert files_under(store.root / "tmp") == []


def test_storage_failure_is_a_domain_error(store: LocalBlobStore) -> None:
    shutil.rmtree(store.root / "tmp")
    with pytest.raises(StorageUnavailable):
        store.put(key_a(), [b"x"])


def test_missing_blob(store: LocalBlobStore) -> None:
    key = key_a()
    assert not store.exists(key)
    with pytest.raises(NotFound):
        store.open(key)
    store.delete(key)  # missing is fine


def test_delete(store: LocalBlobStore) -> None:
    key = key_a()
    store.put(key, [b"x"])
    store.delete(key)
    assert not store.exists(key)


BAD_KEYS = [
    "",
    "../etc/passwd",
    "/etc/passwd",
    f"/{DMP_A}/{uuid.uuid4()}",
    f"{DMP_A}/../../etc/passwd",
    f"{DMP_A}/..",
    f"{DMP_A}/.",
    f"{DMP_A}/.hidden",
    f"{DMP_A}/a/b",
    f"{DMP_A}/",
    f"{DMP_A}",
    f"{DMP_A}/a\x00b",
    f"{DMP_A}/a\\b",
    f"{DMP_A}/a\nb",
    f"{str(DMP_A).upper()}/x",
    f"{{{DMP_A}}}/x",
    f"{DMP_A.hex}/x",
    f"not-a-uuid/{uuid.uuid4()}",
    f"{DMP_A}/" + "x" * 129,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        store.put(key, [b"x"])
    with pytest.raises(InvalidInput):
        store.open(key)
    with pytest.raises(InvalidInput):
        store.delete(key)
    with pytest.raises(InvalidInput):
        store.exists(key)
    assert files_under(store.root) == []


def test_parse_key() -> None:
    blob_id = uuid.uuid4()
    assert parse_key(blob_key(DMP_A, blob_id)) == (DMP_A, str(blob_id))


def _age(store: LocalBlobStore, key: str, seconds: float) -> None:
    _dmp_id, name = parse_key(key)
    [path] = [p for p in files_under(store.root / "objects") if p.name == name]
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_list_older_than(store: LocalBlobStore) -> None:
    old, recent, other = key_a(), key_a(), blob_key(DMP_B, uuid.uuid4())
    for key in (old, recent, other):
        store.put(key, [b"x"])
    _age(store, old, 7200)
    _age(store, other, 7200)
    (store.root / "tmp" / "leftover.part").write_bytes(b"partial")
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    assert sorted(store.list_older_than(cutoff)) == sorted([old, other])
    assert sorted(store.list_older_than(datetime.now(UTC) + timedelta(minutes=1))) == sorted(
        [old, recent, other]
    )


def test_list_older_than_needs_an_aware_cutoff(store: LocalBlobStore) -> None:
    with pytest.raises(InvalidInput):
        list(store.list_older_than(datetime(2025, 1, 1)))


def test_list_on_an_empty_store(store: LocalBlobStore) -> None:
    assert list(store.list_older_than(datetime.now(UTC))) == []


def test_delete_prefix_destroys_one_dmp_only(store: LocalBlobStore) -> None:
    mine = [key_a() for _ in range(3)]
    theirs = blob_key(DMP_B, uuid.uuid4())
    for key in (*mine, theirs):
        store.put(key, [b"x"])
    assert store.delete_prefix(DMP_A) == 3
    assert not any(store.exists(key) for key in mine)
    assert store.exists(theirs)
    assert store.delete_prefix(DMP_A) == 0


def test_purge_temp_removes_crash_leftovers(store: LocalBlobStore) -> None:
    leftover = store.root / "tmp" / "crashed.part"
    leftover.write_bytes(b"partial")
    past = time.time() - 7200
    os.utime(leftover, (past, past))
    fresh = store.root / "tmp" / "in-progress.part"
    fresh.write_bytes(b"partial")
    assert store.purge_temp(datetime.now(UTC) - timedelta(hours=1)) == 1
    assert not leftover.exists()
    assert fresh.exists()


def test_purge_temp_needs_an_aware_cutoff(store: LocalBlobStore) -> None:
    with pytest.raises(InvalidInput):
        store.purge_temp(datetime(2025, 1, 1))
