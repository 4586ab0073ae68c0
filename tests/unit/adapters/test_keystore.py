"""The key store (SQLite and PostgreSQL), data keys and crypto-shredding."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    create_engine,
    event,
    insert,
    inspect,
    select,
)

from dmp.adapters.blobs import LocalBlobStore, blob_key
from dmp.adapters.crypto import (
    KeyRing,
    MasterKey,
    WrappedKey,
    decrypt_stream,
    encrypt_stream,
    open_sealed,
    seal,
)
from dmp.adapters.keystore import (
    DataKeys,
    KeyDestroyed,
    KeyStore,
    KeyStoreUnavailable,
    Shredding,
    data_keys,
    ensure_separate,
    keystore_url_beside,
    metadata,
)
from dmp.errors import ConfigurationError, Conflict, IntegrityError

K2024 = MasterKey("2024", b"\x24" * 32)
K2025 = MasterKey("2025", b"\x25" * 32)
DMP_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
DMP_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")


@pytest.fixture
def store(keys_engine: Engine) -> KeyStore:
    keystore = KeyStore(keys_engine)
    keystore.create_schema()
    return keystore


class CountingStore(KeyStore):
    """Counts reads, to observe the cache."""

    reads = 0

    def get(self, dmp_id: uuid.UUID) -> WrappedKey | None:
        self.reads += 1
        return super().get(dmp_id)


# --- KeyStore ---------------------------------------------------------------------------------


def test_put_get_delete(store: KeyStore) -> None:
    wrapped = KeyRing(K2024).wrap(DMP_A, b"d" * 32)
    store.put(DMP_A, wrapped)
    assert store.get(DMP_A) == wrapped
    assert store.get(DMP_B) is None
    assert store.delete(DMP_A) is True
    assert store.get(DMP_A) is None
    assert store.delete(DMP_A) is False


def test_each_shredding_is_noted_in_the_ledger_with_the_deletion(store: KeyStore) -> None:
    """The ledger a restore reads (ADR 13): one row per key deleted, in the same transaction;
    none for a key that was not there; a DMP's row keeps what its tombstone needs."""
    keyring = KeyRing(K2024)
    store.put(DMP_A, keyring.wrap(DMP_A, b"d" * 32))
    store.put(DMP_B, keyring.wrap(DMP_B, b"e" * 32))
    assert store.delete(DMP_A, Shredding("ab" * 32, "patient")) is True
    assert store.delete(DMP_B) is True
    assert store.delete(uuid.uuid4()) is False  # nothing deleted, nothing noted
    noted = {s.owner_id: s.note for s in store.shredded(batch_size=1)}
    assert noted == {DMP_A: Shredding("ab" * 32, "patient"), DMP_B: Shredding()}


def test_a_deletion_whose_note_fails_deletes_nothing(store: KeyStore) -> None:
    """Deletion and note are one transaction: when the note cannot be written, the key stays."""
    store.put(DMP_A, KeyRing(K2024).wrap(DMP_A, b"d" * 32))

    def refuse_the_note(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("INSERT INTO shredded_keys"):
            raise RuntimeError("disk full")

    event.listen(store.engine, "before_cursor_execute", refuse_the_note)
    try:
        with pytest.raises(RuntimeError):
            store.delete(DMP_A)
    finally:
        event.remove(store.engine, "before_cursor_execute", refuse_the_note)
    assert store.get(DMP_A) is not None
    assert list(store.shredded()) == []


def test_create_schema_is_idempotent(store: KeyStore) -> None:
    store.create_schema()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_dmps_keys_come_from_its_group_in_one_statement(store: KeyStore) -> None:
    keyring = KeyRing(K2024)
    documents = [uuid.uuid4() for _ in range(3)]
    store.put(DMP_A, keyring.wrap(DMP_A, b"a" * 32))
    for document in documents:
        store.put(document, keyring.wrap(document, b"d" * 32), group=DMP_A)
    other = uuid.uuid4()  # a document of another DMP: not in DMP_A's group
    store.put(other, keyring.wrap(other, b"o" * 32), group=DMP_B)
    with store.engine.connect() as conn:
        groups = dict(conn.execute(select(data_keys.c.dmp_id, data_keys.c.group_id)).all())
    assert groups == {DMP_A: DMP_A, **dict.fromkeys(documents, DMP_A), other: DMP_B}
    seen = _statements(store.engine)
    found = store.get_many([DMP_A, *documents], group=DMP_A)
    assert set(found) == {DMP_A, *documents}
    assert len(seen) == 1, seen
    assert "group_id" in seen[0], seen
    assert store.get_many([other], group=DMP_A) == {other: store.get(other)}  # by its id, after


def test_a_key_written_before_groups_is_found_and_then_grouped(store: KeyStore) -> None:
    keyring = KeyRing(K2024)
    old, new = uuid.uuid4(), uuid.uuid4()
    with store.engine.begin() as conn:  # as an earlier version wrote it: no group
        row = {"dmp_id": old, "created_at": datetime.now(UTC)}
        wrapped = keyring.wrap(old, b"o" * 32)
        conn.execute(insert(data_keys), {**row, "key_id": wrapped.key_id, "wrapped": wrapped.blob})
    store.put(new, keyring.wrap(new, b"n" * 32), group=DMP_A)
    seen = _statements(store.engine)
    assert store.get_many([old, new], group=DMP_A) == {old: wrapped, new: store.get(new)}
    assert len(seen) == 3  # the group's range, then the one not in it by its id; then get()
    assert store.ungrouped() == [old]
    assert store.group({old: DMP_A, new: DMP_B}) == 1  # a grouped key keeps its group
    assert store.ungrouped() == []
    seen.clear()
    assert set(store.get_many([old, new], group=DMP_A)) == {old, new}
    assert len(seen) == 1


def test_an_earlier_key_store_gets_the_group_column_and_keeps_its_keys(
    keys_engine: Engine,
) -> None:
    earlier = MetaData()
    Table(  # the key store before ``group_id``
        "data_keys",
        earlier,
        Column("dmp_id", Uuid, primary_key=True),
        Column("key_id", String(64), nullable=False),
        Column("wrapped", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("rotated_at", DateTime(timezone=True), nullable=True),
    )
    earlier.create_all(keys_engine)
    wrapped = KeyRing(K2024).wrap(DMP_A, b"a" * 32)
    with keys_engine.begin() as conn:
        row = {"dmp_id": DMP_A, "key_id": wrapped.key_id, "wrapped": wrapped.blob}
        conn.execute(earlier.tables["data_keys"].insert(), {**row, "created_at": datetime.now(UTC)})
    store = KeyStore(keys_engine)
    store.create_schema()
    store.create_schema()  # again: nothing to add
    assert "group_id" in {c["name"] for c in inspect(keys_engine).get_columns("data_keys")}
    indexes = {i["name"] for i in inspect(keys_engine).get_indexes("data_keys")}
    assert "ix_data_keys_group" in indexes
    assert store.get_many([DMP_A], group=DMP_A) == {DMP_A: wrapped}
    assert store.ungrouped() == [DMP_A]


@pytest.mark.postgres
def test_on_postgresql_a_groups_keys_are_read_from_the_index_alone(pg_engine: Engine) -> None:
    """The wrapped keys ride in the group index's leaves: a search reads no table page."""
    store = KeyStore(pg_engine)
    store.create_schema()
    keyring = KeyRing(K2024)
    owners = [uuid.uuid4() for _ in range(2000)]
    for owner in owners:  # 200 DMPs of 10 documents each
        store.put(owner, keyring.wrap(owner, b"d" * 32), group=owners[owners.index(owner) // 10])
    with pg_engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE data_keys"
        )
        ids = ", ".join(f"'{o}'" for o in owners[10:20])
        plan = (
            conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF) SELECT dmp_id, key_id, wrapped FROM data_keys "
                f"WHERE dmp_id IN ({ids}) AND group_id = '{owners[1]}'"
            )
            .scalars()
            .all()
        )
    text_plan = "\n".join(plan)
    assert "Index Only Scan using ix_data_keys_group" in text_plan, text_plan
    assert "Heap Fetches: 0" in text_plan, text_plan
    assert "rows=10" in text_plan, text_plan


def test_a_key_is_never_replaced(store: KeyStore) -> None:
    keyring = KeyRing(K2024)
    first = keyring.wrap(DMP_A, b"d" * 32)
    store.put(DMP_A, first)
    with pytest.raises(Conflict):
        store.put(DMP_A, keyring.wrap(DMP_A, b"e" * 32))
    assert store.get(DMP_A) == first


def test_rows_record_creation_time(keys_engine: Engine) -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    store = KeyStore(keys_engine, clock=lambda: moment)
    store.create_schema()
    store.put(DMP_A, KeyRing(K2024).wrap(DMP_A, b"d" * 32))
    with keys_engine.connect() as conn:
        row = conn.execute(select(data_keys)).one()
    # SQLite gives the timestamp back without its zone; PostgreSQL keeps it.
    assert row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC) == moment
    assert row.rotated_at is None


def test_iter_ids_pages_through_every_key(store: KeyStore) -> None:
    keyring = KeyRing(K2024)
    ids = {uuid.uuid4() for _ in range(7)}
    for dmp_id in ids:
        store.put(dmp_id, keyring.wrap(dmp_id, b"d" * 32))
    paged = list(store.iter_ids(batch_size=3))
    assert len(paged) == 7
    assert set(paged) == ids


def test_rewrap_all_moves_every_key_to_the_current_master_key(store: KeyStore) -> None:
    old = DataKeys(store, KeyRing(K2024))
    originals = {dmp_id: old.create(dmp_id) for dmp_id in (uuid.uuid4() for _ in range(7))}
    rotated = KeyRing(K2025, (K2024,))
    already_current = uuid.uuid4()
    originals[already_current] = DataKeys(store, rotated).create(already_current)

    assert store.rewrap_all(rotated, batch_size=3) == 7
    assert store.rewrap_all(rotated, batch_size=3) == 0

    only_new = DataKeys(store, KeyRing(K2025))  # the old master key is no longer configured
    assert {dmp_id: only_new.get(dmp_id) for dmp_id in originals} == originals
    with store.engine.connect() as conn:
        rows = conn.execute(select(data_keys.c.key_id, data_keys.c.rotated_at)).all()
    assert {row.key_id for row in rows} == {"2025"}
    assert sum(row.rotated_at is not None for row in rows) == 7


def test_rewrap_all_fails_clearly_on_an_unknown_master_key(store: KeyStore) -> None:
    DataKeys(store, KeyRing(K2024)).create(DMP_A)
    with pytest.raises(IntegrityError, match="'2024' inconnue"):
        store.rewrap_all(KeyRing(K2025))


def test_unreachable_key_store_is_a_domain_error(tmp_path: Path) -> None:
    store = KeyStore.from_url(f"sqlite:///{tmp_path / 'missing' / 'keys.sqlite3'}")
    with pytest.raises(KeyStoreUnavailable):
        store.get(DMP_A)
    store.engine.dispose()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/keys"])
def test_bad_key_store_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        KeyStore.from_url(url)
    with pytest.raises(ConfigurationError):
        ensure_separate("sqlite:///dmp.sqlite3", url if " " in url else "::")


def test_key_store_url_defaults_beside_the_data(tmp_path: Path) -> None:
    assert keystore_url_beside(tmp_path) == f"sqlite:///{tmp_path}/keys.sqlite3"


def test_the_key_store_must_not_be_the_data_database() -> None:
    with pytest.raises(ConfigurationError):
        ensure_separate("sqlite:////srv/dmp/dmp.sqlite3", "sqlite:////srv/dmp/dmp.sqlite3")
    with pytest.raises(ConfigurationError):
        ensure_separate("postgresql://u:a@db/dmp", "postgresql+psycopg://v:b@db/dmp")
    with pytest.raises(ConfigurationError):
        ensure_separate("sqlite:////srv/dmp/dmp.sqlite3", "sqlite:////srv/dmp/../dmp/dmp.sqlite3")
    ensure_separate("sqlite:////srv/dmp/dmp.sqlite3", "sqlite:////srv/dmp/keys.sqlite3")
    ensure_separate("postgresql://db/dmp", "postgresql://db/dmp_keys")


# --- DataKeys ---------------------------------------------------------------------------------


def test_data_keys_create_then_get(store: KeyStore) -> None:
    created = DataKeys(store, KeyRing(K2024)).create(DMP_A)
    assert len(created) == 32
    assert DataKeys(store, KeyRing(K2024)).get(DMP_A) == created  # from the store, not a cache


def test_data_keys_are_per_dmp(store: KeyStore) -> None:
    keys = DataKeys(store, KeyRing(K2024))
    assert keys.create(DMP_A) != keys.create(DMP_B)


def test_a_key_row_copied_to_another_dmp_does_not_unwrap(store: KeyStore) -> None:
    DataKeys(store, KeyRing(K2024)).create(DMP_A)
    stolen = store.get(DMP_A)
    assert stolen is not None
    store.put(DMP_B, stolen)
    with pytest.raises(IntegrityError):
        DataKeys(store, KeyRing(K2024)).get(DMP_B)


def test_missing_key_is_key_destroyed(store: KeyStore) -> None:
    with pytest.raises(KeyDestroyed, match="ont été détruites") as caught:
        DataKeys(store, KeyRing(K2024)).get(DMP_A)
    assert isinstance(caught.value, IntegrityError)


def test_destroy_evicts_the_cache(store: KeyStore) -> None:
    keys = DataKeys(store, KeyRing(K2024))
    keys.create(DMP_A)
    keys.get(DMP_A)
    assert keys.destroy(DMP_A) is True
    with pytest.raises(KeyDestroyed):
        keys.get(DMP_A)
    assert keys.destroy(DMP_A) is False


def test_the_cache_is_a_bounded_lru(keys_engine: Engine) -> None:
    store = CountingStore(keys_engine)
    store.create_schema()
    keys = DataKeys(store, KeyRing(K2024), cache_size=2)
    ids = [uuid.uuid4() for _ in range(3)]
    for dmp_id in ids:
        keys.create(dmp_id)
    keys.get(ids[1])
    keys.get(ids[2])
    assert store.reads == 0  # the two most recent are cached
    keys.get(ids[0])  # evicted when the third came in
    assert store.reads == 1
    keys.get(ids[0])
    keys.get(ids[2])
    assert store.reads == 1
    keys.get(ids[1])  # least recently used, evicted by ids[0]
    assert store.reads == 2


# --- crypto-shredding -------------------------------------------------------------------------


def test_destroyed_dmp_cannot_be_decrypted_from_a_backup_even_with_the_master_key(
    tmp_path: Path,
) -> None:
    store = KeyStore.from_url(keystore_url_beside(tmp_path))
    store.create_schema()
    keyring = KeyRing(K2024)
    blobs = LocalBlobStore(tmp_path / "blobs")
    key, doc = blob_key(DMP_A, uuid.uuid4()), b"%PDF-1.7 compte rendu " * 5000
    aad = f"content:{key}".encode()

    data_key = DataKeys(store, keyring).create(DMP_A)
    blobs.put(key, encrypt_stream(data_key, aad, [doc]))
    title_aad = f"title:{DMP_A}:1".encode()
    title = seal(data_key, b"IRM du genou", title_aad)
    backup = b"".join(blobs.open(key))  # the data backup: ciphertext only
    assert b"".join(decrypt_stream(data_key, aad, [backup])) == doc
    assert b"compte rendu" not in backup
    del data_key

    DataKeys(store, keyring).destroy(DMP_A)

    with pytest.raises(KeyDestroyed):  # the operator still holds the master key: no use
        DataKeys(store, keyring).get(DMP_A)
    assert list(store.iter_ids()) == []
    # Nothing left can open the backup: any other key fails.
    with pytest.raises(IntegrityError):
        b"".join(decrypt_stream(keyring.new_data_key(), aad, [backup]))
    with pytest.raises(IntegrityError):
        open_sealed(keyring.new_data_key(), title, title_aad)
    store.engine.dispose()


def _wrapped_bytes_after_delete(path: Path, store: KeyStore) -> tuple[bytes, bytes]:
    """Put three keys, delete the middle one; its wrapped bytes and the file afterwards."""
    store.create_schema()
    keys = DataKeys(store, KeyRing(K2024))
    for dmp_id in (DMP_A, DMP_B, uuid.uuid4()):
        keys.create(dmp_id)
    wrapped = store.get(DMP_B)
    assert wrapped is not None
    store.engine.dispose()
    assert wrapped.blob in path.read_bytes()
    store.delete(DMP_B)
    store.engine.dispose()
    return wrapped.blob, path.read_bytes()


def test_deleted_key_bytes_are_overwritten_in_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    blob, contents = _wrapped_bytes_after_delete(path, KeyStore(create_engine(f"sqlite:///{path}")))
    assert blob not in contents


def _secure_delete_off(dbapi_connection: object, _record: object) -> None:
    dbapi_connection.execute("PRAGMA secure_delete=OFF")  # type: ignore[attr-defined]


def test_control_without_secure_delete_the_bytes_would_remain(tmp_path: Path) -> None:
    """Shows the test above can fail: with secure_delete off, deleted rows stay in the file."""
    path = tmp_path / "keys.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _secure_delete_off)
    metadata.create_all(engine)
    secret = b"\x5a" * 61
    with engine.begin() as conn:
        row = {"dmp_id": DMP_A, "key_id": "2024", "created_at": datetime.now(UTC)}
        conn.execute(insert(data_keys).values(wrapped=secret, **row))
        conn.execute(data_keys.delete())
    engine.dispose()
    assert secret in path.read_bytes()
