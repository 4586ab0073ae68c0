"""The content stores, local files and S3 (a local S3-compatible server, moto, over HTTP): the
same tests for both — round trips, atomic writes, key validation, listing, destruction — and
then what is each one's own (the local layout and temp files; S3's multipart uploads, versions,
prefixes and ranged reads)."""

from __future__ import annotations

import os
import shutil
import socket
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
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
from dmp.adapters.s3 import S3BlobStore
from dmp.errors import InvalidInput, NotFound
from tests.objectstore import ObjectServer, incomplete_uploads, object_names, versions

DMP_A = uuid.UUID("ab12cd34-0000-4000-8000-00000000000a")
DMP_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part: the tests' uploads go multipart from 5 MiB on
WINDOW = 16 * READ_SIZE  # 1 MiB per ranged GET: a few MiB take several


@dataclass
class Backend:
    """A store under test and what it left behind, whatever the backend."""

    store: LocalBlobStore | S3BlobStore
    server: ObjectServer | None = None
    bucket: str = ""

    def leftovers(self) -> list[str]:
        """Everything stored: files (temp ones included), or objects and unfinished uploads."""
        if isinstance(self.store, LocalBlobStore):
            return [str(path) for path in files_under(self.store.root)]
        assert self.server is not None
        names = object_names(self.server, self.bucket)
        return names + incomplete_uploads(self.server, self.bucket)

    def break_it(self) -> None:
        """Make the store fail as a full disk or a lost bucket would."""
        if isinstance(self.store, LocalBlobStore):
            shutil.rmtree(self.store.root / "tmp")
        else:
            assert self.server is not None
            self.server.client().delete_bucket(Bucket=self.bucket)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return Backend(LocalBlobStore(tmp_path / "blobs"))
    server: ObjectServer = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    return Backend(server.store(bucket, part_size=PART, window=WINDOW), server, bucket)


@pytest.fixture
def store(backend: Backend) -> LocalBlobStore | S3BlobStore:
    return backend.store


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def s3(s3_server: ObjectServer, s3_bucket: str) -> S3BlobStore:
    return s3_server.store(s3_bucket, part_size=PART, window=WINDOW)


def key_a() -> str:
    return blob_key(DMP_A, uuid.uuid4())


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def test_both_stores_implement_the_protocol(local: LocalBlobStore, s3: S3BlobStore) -> None:
    for store in (local, s3):
        backend: BlobStore = store
        assert backend is store


# Sizes: empty, one byte, one read, a few reads, and past a part and several ranged GETs.
@pytest.mark.parametrize("size", [0, 1, READ_SIZE, 3 * READ_SIZE + 7, PART + 3 * READ_SIZE + 7])
def test_round_trip_in_64_kib_reads(store: BlobStore, size: int) -> None:
    key, data = key_a(), os.urandom(size)
    assert store.put(key, (data[i : i + 1000] for i in range(0, size, 1000))) == size
    chunks = list(store.open(key))
    assert b"".join(chunks) == data
    assert all(len(chunk) == READ_SIZE for chunk in chunks[:-1])
    assert store.exists(key)


def test_layout_fans_out_by_dmp(local: LocalBlobStore) -> None:
    key = key_a()
    local.put(key, [b"x"])
    name = key.split("/")[1]
    assert (local.root / "objects" / "ab" / "12" / str(DMP_A) / name).is_file()


def test_put_replaces_atomically(store: BlobStore) -> None:
    key = key_a()
    store.put(key, [b"first"])
    store.put(key, [b"second"])
    assert b"".join(store.open(key)) == b"second"


def failing_stream(error: BaseException, before: int = READ_SIZE) -> Iterator[bytes]:
    """``before`` bytes (and ten more), then the error: a client gone, a content refused."""
    for _ in range(before // READ_SIZE):
        yield b"a" * READ_SIZE
    yield b"b" * 10
    raise error


# Small: the failure comes before anything is sent. Large: after two parts of a multipart upload
# (S3) have been sent, which must be aborted.
SIZES_BEFORE_FAILURE = pytest.mark.parametrize(
    "before", [READ_SIZE, 2 * PART], ids=["small", "large"]
)


@SIZES_BEFORE_FAILURE
@pytest.mark.parametrize("error", [RuntimeError("upload aborted"), KeyboardInterrupt()])
def test_failure_mid_stream_leaves_nothing(
    backend: Backend, error: BaseException, before: int
) -> None:
    key = key_a()
    with pytest.raises(type(error)):
        backend.store.put(key, failing_stream(error, before))
    assert not backend.store.exists(key)
    assert backend.leftovers() == []


@SIZES_BEFORE_FAILURE
def test_failure_mid_stream_keeps_the_previous_version(backend: Backend, before: int) -> None:
    key = key_a()
    backend.store.put(key, [b"kept"])
    with pytest.raises(RuntimeError):
        backend.store.put(key, failing_stream(RuntimeError(), before))
    assert b"".join(backend.store.open(key)) == b"kept"
    assert len(backend.leftovers()) == 1  # the blob, no temp file, no upload left open


def test_storage_failure_is_a_domain_error(backend: Backend) -> None:
    backend.break_it()
    with pytest.raises(StorageUnavailable):
        backend.store.put(key_a(), [b"x"])


def test_missing_blob(store: BlobStore) -> None:
    key = key_a()
    assert not store.exists(key)
    with pytest.raises(NotFound):
        store.open(key)
    store.delete(key)  # missing is fine


def test_delete(store: BlobStore) -> None:
    key = key_a()
    store.put(key, [b"x"])
    store.delete(key)
    assert not store.exists(key)


BLOB_ID = uuid.UUID("6b2367db-5bc3-4daf-8221-809541d9c0a9")  # ids stable across runs
BAD_KEYS = [
    "",
    "../etc/passwd",
    "/etc/passwd",
    f"/{DMP_A}/{BLOB_ID}",
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
    f"not-a-uuid/{BLOB_ID}",
    f"{DMP_A}/" + "x" * 129,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(backend: Backend, key: str) -> None:
    store = backend.store
    with pytest.raises(InvalidInput):
        store.put(key, [b"x"])
    with pytest.raises(InvalidInput):
        store.open(key)
    with pytest.raises(InvalidInput):
        store.delete(key)
    with pytest.raises(InvalidInput):
        store.exists(key)
    assert backend.leftovers() == []


def test_parse_key() -> None:
    blob_id = uuid.uuid4()
    assert parse_key(blob_key(DMP_A, blob_id)) == (DMP_A, str(blob_id))


def test_list_older_than(backend: Backend) -> None:
    """Keys written before the cutoff, and only blobs: not a write in progress (a temp file, an
    upload not completed)."""
    store = backend.store
    old, other, recent = key_a(), blob_key(DMP_B, uuid.uuid4()), key_a()
    for key in (old, other):
        store.put(key, [b"x"])
    time.sleep(1.1)  # S3 dates objects to the second
    cutoff = datetime.now(UTC)
    time.sleep(1.1)
    store.put(recent, [b"x"])
    _write_in_progress(backend)
    assert sorted(store.list_older_than(cutoff)) == sorted([old, other])
    assert sorted(store.list_older_than(datetime.now(UTC) + timedelta(minutes=1))) == sorted(
        [old, recent, other]
    )


def _write_in_progress(backend: Backend) -> None:
    if isinstance(backend.store, LocalBlobStore):
        (backend.store.root / "tmp" / "leftover.part").write_bytes(b"partial")
    else:
        backend.store.client.create_multipart_upload(Bucket=backend.bucket, Key=key_a())


def test_list_older_than_needs_an_aware_cutoff(store: BlobStore) -> None:
    with pytest.raises(InvalidInput):
        list(store.list_older_than(datetime(2025, 1, 1)))


def test_list_on_an_empty_store(store: BlobStore) -> None:
    assert list(store.list_older_than(datetime.now(UTC))) == []


def test_delete_prefix_destroys_one_dmp_only(store: BlobStore) -> None:
    mine = [key_a() for _ in range(3)]
    theirs = blob_key(DMP_B, uuid.uuid4())
    for key in (*mine, theirs):
        store.put(key, [b"x"])
    assert store.delete_prefix(DMP_A) == 3
    assert not any(store.exists(key) for key in mine)
    assert store.exists(theirs)
    assert store.delete_prefix(DMP_A) == 0


def test_stored_keys_are_every_content_and_nothing_else(store: BlobStore) -> None:
    assert list(store.stored_keys()) == []
    kept = {key_a(), key_a(), blob_key(DMP_B, uuid.uuid4())}
    for key in kept:
        store.put(key, [b"x"])
    gone = key_a()
    store.put(gone, [b"y"])
    store.delete(gone)
    assert set(store.stored_keys()) == kept


def test_purge_temp_removes_crash_leftovers(local: LocalBlobStore) -> None:
    leftover = local.root / "tmp" / "crashed.part"
    leftover.write_bytes(b"partial")
    past = time.time() - 7200
    os.utime(leftover, (past, past))
    fresh = local.root / "tmp" / "in-progress.part"
    fresh.write_bytes(b"partial")
    assert local.purge_temp(datetime.now(UTC) - timedelta(hours=1)) == 1
    assert not leftover.exists()
    assert fresh.exists()


def test_purge_temp_needs_an_aware_cutoff(store: LocalBlobStore | S3BlobStore) -> None:
    with pytest.raises(InvalidInput):
        store.purge_temp(datetime(2025, 1, 1))


# --- S3's own ---------------------------------------------------------------------------------


@contextmanager
def _ranges_asked(store: S3BlobStore) -> Iterator[list[str]]:
    """The ``Range`` of every GetObject the client sends meanwhile (botocore's own hooks)."""
    asked: list[str] = []

    def note(params: dict[str, object], **_: object) -> None:
        asked.append(str(params.get("Range")))

    store.client.meta.events.register("provide-client-params.s3.GetObject", note)
    try:
        yield asked
    finally:
        store.client.meta.events.unregister("provide-client-params.s3.GetObject", note)


def test_s3_reads_are_ranged_gets(s3: S3BlobStore) -> None:
    key, data = key_a(), os.urandom(3 * WINDOW + 5)
    s3.put(key, [data])
    with _ranges_asked(s3) as asked:
        assert b"".join(s3.open(key)) == data
    assert asked == [f"bytes={n * WINDOW}-{(n + 1) * WINDOW - 1}" for n in range(4)]


def test_a_store_that_ignores_ranges_is_read_all_the_same(s3: S3BlobStore) -> None:
    """Some S3-compatible stores answer a ranged GET with the whole object (200, no
    Content-Range): the read takes it as it comes, once."""
    key, data = key_a(), os.urandom(3 * WINDOW + 5)
    s3.put(key, [data])

    def no_range(request, **_: object) -> None:
        if "Range" in request.headers:
            del request.headers["Range"]

    s3.client.meta.events.register("before-sign.s3.GetObject", no_range)
    try:
        assert b"".join(s3.open(key)) == data
    finally:
        s3.client.meta.events.unregister("before-sign.s3.GetObject", no_range)


def test_an_s3_read_never_mixes_two_versions(s3: S3BlobStore) -> None:
    """Every ranged GET after the first is bound to the first one's ETag: a key replaced while
    it is read fails the read rather than splice the new bytes onto the old."""
    key = key_a()
    s3.put(key, [b"1" * (2 * WINDOW)])
    reading = s3.open(key)
    assert next(reading) == b"1" * READ_SIZE
    s3.put(key, [b"2" * (2 * WINDOW)])
    with pytest.raises(StorageUnavailable):
        b"".join(reading)


def test_an_s3_upload_holds_one_part_in_memory(s3: S3BlobStore) -> None:
    """A 40 MiB content goes up in parts: the Python heap never holds more than a few parts."""
    size = 40 * MIB
    tracemalloc.start()
    try:
        written = s3.put(key_a(), (b"\x07" * READ_SIZE for _ in range(size // READ_SIZE)))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == size
    assert peak < 4 * PART, f"peak {peak / MIB:.1f} MiB for a {size // MIB} MiB content"


def test_s3_deletion_leaves_no_version_behind(s3_server: ObjectServer) -> None:
    """On a bucket with versioning, a plain DELETE only adds a delete marker and the content
    stays; destruction must remove every version."""
    bucket = s3_server.new_bucket(versioned=True)
    store = s3_server.store(bucket)
    gone, kept = key_a(), blob_key(DMP_B, uuid.uuid4())
    for key in (gone, gone, kept):  # two versions of the first
        store.put(key, [b"x"])
    store.delete(gone)
    assert versions(s3_server, bucket) == [
        (kept, version) for _, version in versions(s3_server, bucket)
    ]
    mine = [key_a() for _ in range(3)]
    for key in mine:
        store.put(key, [b"x"])
        store.put(key, [b"y"])
    store.client.delete_object(Bucket=bucket, Key=mine[0])  # a delete marker as well
    assert store.delete_prefix(DMP_A) == 3
    assert [key for key, _ in versions(s3_server, bucket)] == [kept]


def test_s3_delete_is_exact(s3: S3BlobStore) -> None:
    """Deleting ``…-1`` leaves ``…-10``: a key is not a prefix."""
    document = uuid.uuid4()
    one, ten = f"{DMP_A}/{document}-1", f"{DMP_A}/{document}-10"
    s3.put(one, [b"1"])
    s3.put(ten, [b"10"])
    s3.delete(one)
    assert not s3.exists(one)
    assert b"".join(s3.open(ten)) == b"10"


def test_s3_stores_under_their_prefix_only(s3_server: ObjectServer, s3_bucket: str) -> None:
    first, second = s3_server.store(s3_bucket, "a/"), s3_server.store(s3_bucket, "b/")
    key = key_a()
    first.put(key, [b"x"])
    second.client.put_object(Bucket=s3_bucket, Key="b/not-a-blob-key", Body=b"")
    assert object_names(s3_server, s3_bucket) == sorted([f"a/{key}", "b/not-a-blob-key"])
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert list(first.list_older_than(later)) == [key]
    assert list(second.list_older_than(later)) == []  # not its own, not a blob key
    assert not second.exists(key)
    assert second.delete_prefix(DMP_A) == 0
    assert first.exists(key)


def test_s3_purge_temp_aborts_stale_uploads(s3_server: ObjectServer, s3_bucket: str) -> None:
    """What a process killed mid-upload leaves: an upload never completed (invisible, but
    billed), aborted once older than any upload in progress."""
    store = s3_server.store(s3_bucket)
    store.client.create_multipart_upload(Bucket=s3_bucket, Key=key_a())
    # moto dates every upload to 2010 (AWS, to when it started): a cutoff before that keeps it.
    assert store.purge_temp(datetime(2001, 1, 1, tzinfo=UTC)) == 0
    assert incomplete_uploads(s3_server, s3_bucket) != []
    assert store.purge_temp(datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert incomplete_uploads(s3_server, s3_bucket) == []


def test_an_unreachable_s3_is_a_domain_error(s3_server: ObjectServer) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = replace(s3_server.settings("dmp-nowhere"), endpoint_url=nowhere)
    store = S3BlobStore.from_settings(settings)
    for attempt in (
        lambda: store.put(key_a(), [b"x"]),
        lambda: store.open(key_a()),
        lambda: store.exists(key_a()),
        lambda: list(store.list_older_than(datetime.now(UTC))),
        lambda: store.delete(key_a()),
    ):
        with pytest.raises(StorageUnavailable):
            attempt()
