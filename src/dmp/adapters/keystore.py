"""Where the wrapped data keys live: a key store kept APART from the data (SPEC §2, §7).

Design
------
Each DMP's data (document contents, free-text metadata, identity, INS) is encrypted under its own
random data key (``crypto``). That data key is stored only here, *wrapped* by the master key, which
itself lives only in configuration. The other keys live here too, wrapped the same way, each
under the id of what it opens: a document's, an account's (its contact channels), a message's
(the addresses of the last message of a destroyed DMP, until it is sent), and the key of the INS
blind index (``INS_INDEX_KEY``). The key store is a **separate database**: its own SQLAlchemy engine
and URL (:func:`ensure_separate` refuses the data database's), by default a SQLite file
``keys.sqlite3`` beside the data database, never inside it nor inside its backups (a backup of the
data directory must leave ``keys.sqlite3`` out).

Destroying a DMP deletes its key row (**crypto-shredding**). A backup of the data taken before the
destruction holds only ciphertext whose key no longer exists anywhere: it cannot be decrypted,
even by an operator holding the master key. Hence these operating rules:

* back the key store up on its own schedule with a **short retention** (a destroyed DMP stays
  recoverable from a key-store backup until that backup expires; the retention is the delay after
  which destruction is complete in backups too), and never restore it wholesale over the live one
  (it would resurrect destroyed keys);
* on SQLite, ``PRAGMA secure_delete=ON`` (set on every connection here) overwrites deleted rows in
  the file; keep the default rollback journal (a WAL file would hold old pages until checkpoint);
* on PostgreSQL, deleted tuples stay in the heap until ``VACUUM`` and in the WAL archive until it
  rotates: the same short-retention rule applies to them.

Order of operations with the data database (two databases, so no shared transaction):

* creation: ``DataKeys.create`` first, then the DMP rows. A failure in between leaves an unused key
  row, harmless, which a sweeper may delete;
* destruction: ``DataKeys.destroy`` first (the irreversible step), then the tombstone. A failure
  in between leaves a DMP whose data are already unreadable (``KeyDestroyed``); the destruction job
  completes it. Processes other than the one that destroyed the key may keep the unwrapped key in
  their cache until evicted; the tombstone is what stops access, the shredding what stops recovery.

The key store has no Alembic migrations of its own: it is one table, created by
:meth:`KeyStore.create_schema`; should it ever change, its migration will be a single script.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from sqlalchemy import (
    URL,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from dmp.adapters.crypto import KeyRing, WrappedKey
from dmp.adapters.db.hot import Hot, HotInsert
from dmp.adapters.files import private_sqlite_file
from dmp.errors import ConfigurationError, Conflict, IntegrityError, Unavailable

KEYSTORE_FILENAME = "keys.sqlite3"
KEYSTORE_POOL = {"pool_size": 10, "max_overflow": 10}  # per process, on a database server

# The key of the INS blind index (``adapters.blindindex``) lives beside the data keys, wrapped the
# same way, under this fixed id. No row of the data database owns it: the orphan sweep never
# lists it. Its version is in its name: a new index key is a new id, and a new index.
INS_INDEX_KEY = uuid5(UUID(int=0), "dmp/ins-blind-index/v1")

metadata = MetaData()  # the key store's own metadata: never mixed with the data database's

# One row per key, under the id of what it opens (the column is named ``dmp_id`` after its first
# owners; it holds a document's, an account's or a message's id as well). ``group_id`` puts a
# DMP's keys side by side: a document's key is in its DMP's group, the DMP's key too, any other
# key in a group of its own. A search opens the keys of one DMP: one range of the group index,
# whose leaf pages hold the wrapped keys themselves on PostgreSQL (an index-only scan), instead
# of one page of the primary key's B-tree per document, scattered by the documents' random ids:
# a page read each once the key store no longer fits in memory. NULL: a key written before the
# column existed, until ``dmp db upgrade`` groups it (found by its id meanwhile, only slower).
data_keys = Table(
    "data_keys",
    metadata,
    Column("dmp_id", Uuid, primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    Column("group_id", Uuid, nullable=True),
)
GROUP_INDEX = Index(
    "ix_data_keys_group",
    data_keys.c.group_id,
    data_keys.c.dmp_id,
    postgresql_include=["key_id", "wrapped"],
)

# The shredding ledger: one row per key deleted, written in the key deletion's own transaction.
# The key store is never restored from a backup, so this ledger outlives every data backup: a
# restore reads it to destroy again what a backup taken before a destruction brings back (see
# docs/adr/0013-backup-and-restore.md). No health data: ids, a time, and for a DMP the blind
# index of its INS (the tombstone's) and who asked.
shredded_keys = Table(
    "shredded_keys",
    metadata,
    Column("owner_id", Uuid, primary_key=True),
    Column("shredded_at", DateTime(timezone=True), nullable=False),
    Column("ins_index", String(64), nullable=True),
    Column("requested_by", String(20), nullable=True),
)


class KeyDestroyed(IntegrityError):
    """The DMP's data key is gone: its data were destroyed (crypto-shredding)."""

    code = "destroyed"
    status = 410
    message = "Les données de ce DMP ont été détruites."


class KeyStoreUnavailable(Unavailable):
    code = "keystore-unavailable"
    status = 503
    message = (
        "Le magasin de clés est injoignable : rien n'a été enregistré. Réessayez dans quelques "
        "minutes."
    )


def keystore_url_beside(data_dir: Path) -> str:
    """The default key store: a SQLite file beside (not inside) the data database."""
    return f"sqlite:///{data_dir / KEYSTORE_FILENAME}"


def ensure_separate(data_url: str, keystore_url: str) -> None:
    """Refuse a configuration that would put the keys in the data database (and its backups)."""
    data, keys = _database_identity(data_url), _database_identity(keystore_url)
    if data == keys and data[-1] not in ("", ":memory:"):
        raise ConfigurationError(
            "Le magasin de clés doit être une base distincte de la base des données."
        )


def _database_identity(url: str) -> tuple[str, str | None, int | None, str]:
    """Which database a URL designates, whatever the driver, user or password."""
    parsed = _parse_url(url)
    backend, database = parsed.get_backend_name(), parsed.database or ""
    if backend == "sqlite" and database not in ("", ":memory:"):
        database = str(Path(database).resolve())
    return backend, parsed.host, parsed.port, database


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigurationError("URL de base de données invalide.") from None


def _now() -> datetime:
    return datetime.now(UTC)


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@dataclass(frozen=True, slots=True)
class Shredding:
    """What the ledger keeps of a DMP's shredding beside its id, to write its tombstone again."""

    ins_index: str | None = None
    requested_by: str | None = None


@dataclass(frozen=True, slots=True)
class Shredded:
    owner_id: UUID
    at: datetime
    note: Shredding


def _ledger_row(owner_id: UUID, note: Shredding, now: datetime) -> dict[str, Any]:
    return {
        "owner_id": owner_id,
        "shredded_at": now,
        "ins_index": note.ins_index,
        "requested_by": note.requested_by,
    }


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# A feed writes a key, and reads its DMP's: through the driver on PostgreSQL (ADR 7).
_PUT = HotInsert(data_keys)
_GET = Hot(
    select(data_keys.c.key_id, data_keys.c.wrapped).where(data_keys.c.dmp_id == bindparam("dmp_id"))
)
_KEYS = select(data_keys.c.dmp_id, data_keys.c.key_id, data_keys.c.wrapped)
_GET_MANY = _KEYS.where(data_keys.c.dmp_id.in_(bindparam("ids", expanding=True)))
_IN_GROUP = _KEYS.where(data_keys.c.group_id == bindparam("group_id"))
_GET_GROUP = _IN_GROUP.where(data_keys.c.dmp_id.in_(bindparam("ids", expanding=True)))
# The keys a read opens in its DMP's group, through the driver on PostgreSQL: the ids as one array
# (an IN list would be a different statement for each length).
_HOT_GET_GROUP = Hot(
    _IN_GROUP.where(data_keys.c.dmp_id == any_(bindparam("ids", type_=postgresql.ARRAY(Uuid))))
)
# A whole group, up to a bound (what a cache can hold): a DMP's key and its documents'.
_HOT_GROUP = Hot(_IN_GROUP.limit(bindparam("limit")))


def _wrapped(rows: Iterable[Sequence[Any]]) -> dict[UUID, WrappedKey]:
    return {owner: WrappedKey(key_id, bytes(wrapped)) for owner, key_id, wrapped in rows}


class KeyStore:
    """Rows of wrapped keys, one per owner (DMP, document, account, message), in their own
    database."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self._clock = clock
        self._sqlite = engine.dialect.name == "sqlite"
        if self._sqlite and not event.contains(engine, "connect", _secure_delete):
            event.listen(engine, "connect", _secure_delete)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> KeyStore:
        try:
            parsed = _parse_url(url)
            # A key-store read is short, but every request makes one: a pool too small for the
            # requests in flight opens and closes a connection for each (ADR 7).
            pooled = {} if parsed.get_backend_name() == "sqlite" else KEYSTORE_POOL
            engine = create_engine(parsed, **pooled)
        except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as error:
            raise ConfigurationError("Magasin de clés: URL ou pilote invalide.") from error
        if engine.dialect.name == "sqlite":
            private_sqlite_file(parsed.database)
        return cls(engine, **kwargs)

    def create_schema(self) -> None:
        """Create the tables, or bring a key store made by an earlier version to this one's: the
        ``group_id`` column and its index added (on a large PostgreSQL key store, building the
        index holds writes back for a while: run ``dmp db upgrade`` before the servers)."""
        with self._begin() as conn:
            metadata.create_all(conn)
            columns = {column["name"] for column in inspect(conn).get_columns("data_keys")}
            if "group_id" not in columns:
                kind = data_keys.c.group_id.type.compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE data_keys ADD COLUMN group_id {kind}"))
            conn.execute(CreateIndex(GROUP_INDEX, if_not_exists=True))

    def ungrouped(self, limit: int = 500) -> list[UUID]:
        """Ids of keys written before ``group_id`` existed, up to ``limit`` (``dmp db upgrade``
        groups them)."""
        query = select(data_keys.c.dmp_id).where(data_keys.c.group_id.is_(None)).limit(limit)
        with self._read() as conn:
            return list(conn.execute(query).scalars())

    def group(self, groups: dict[UUID, UUID]) -> int:
        """Put each key (by its id) not grouped yet in the group given, in one transaction; how
        many were."""
        if not groups:
            return 0
        statement = (
            update(data_keys)
            .where(data_keys.c.dmp_id == bindparam("owner"), data_keys.c.group_id.is_(None))
            .values(group_id=bindparam("group"))
        )
        rows = [{"owner": owner, "group": group} for owner, group in groups.items()]
        with self._begin() as conn:
            return conn.execute(statement, rows).rowcount

    def put(self, dmp_id: UUID, wrapped: WrappedKey, group: UUID | None = None) -> None:
        """Store a key, in ``group`` (a document's: its DMP) or else in a group of its own; never
        replaces one (that would make its data unreadable)."""
        row = {
            "dmp_id": dmp_id,
            "key_id": wrapped.key_id,
            "wrapped": wrapped.blob,
            "group_id": group or dmp_id,
        }
        try:
            with self._begin() as conn:
                _PUT.run(conn, {**row, "created_at": self._clock()})
        except sa_exc.IntegrityError:
            raise Conflict("Ce DMP a déjà une clé de chiffrement.") from None

    def get(self, dmp_id: UUID) -> WrappedKey | None:
        with self._read() as conn:
            row = _GET.first(conn, {"dmp_id": dmp_id})
        return None if row is None else WrappedKey(row[0], bytes(row[1]))

    def get_many(self, ids: Sequence[UUID], group: UUID | None = None) -> dict[UUID, WrappedKey]:
        """The wrapped keys of ``ids`` that exist, in one query per 500 ids. With ``group`` (the
        DMP they belong to), first in that group's range; a key not found there (not grouped
        yet) is then looked up by its id alone."""
        found: dict[UUID, WrappedKey] = {}
        if not ids:
            return found
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                batch = list(ids[start : start + 500])
                if group is not None:
                    found.update(_wrapped(self._in_group(conn, batch, group)))
                    batch = [i for i in batch if i not in found]
                    if not batch:
                        continue
                found.update(_wrapped(conn.execute(_GET_MANY, {"ids": batch})))
        return found

    def group_keys(self, group: UUID, limit: int) -> dict[UUID, WrappedKey]:
        """The keys of ``group`` (a DMP's: its own and its documents'), at most ``limit`` of
        them, whichever the database gives first: one range of the group index."""
        with self._read() as conn:
            return _wrapped(_HOT_GROUP.rows(conn, {"group_id": group, "limit": limit}))

    def _in_group(self, conn: Connection, ids: list[UUID], group: UUID) -> Iterable[Any]:
        params = {"ids": ids, "group_id": group}
        if self._sqlite:
            return conn.execute(_GET_GROUP, params)
        return _HOT_GET_GROUP.rows(conn, params)

    def delete(self, dmp_id: UUID, note: Shredding | None = None) -> bool:
        """Delete a key and, in the same transaction, note its shredding in the ledger (what a
        DMP's tombstone needs with it: ``note``)."""
        with self._begin() as conn:
            if self._sqlite:  # also on a pooled connection opened before this store was built
                conn.exec_driver_sql("PRAGMA secure_delete=ON")
            result = conn.execute(delete(data_keys).where(data_keys.c.dmp_id == dmp_id))
            if result.rowcount > 0:  # a key id used again (never, with uuid4): the last wins
                conn.execute(delete(shredded_keys).where(shredded_keys.c.owner_id == dmp_id))
                row = _ledger_row(dmp_id, note or Shredding(), self._clock())
                conn.execute(insert(shredded_keys), row)
        return result.rowcount > 0

    def shredded(self, batch_size: int = 1000) -> Iterator[Shredded]:
        """Every key shredded, by pages: what a restore destroys again."""
        after: UUID | None = None
        while True:
            stmt = select(shredded_keys).order_by(shredded_keys.c.owner_id).limit(batch_size)
            if after is not None:
                stmt = stmt.where(shredded_keys.c.owner_id > after)
            with self._read() as conn:
                page = conn.execute(stmt).all()
            for row in page:
                note = Shredding(row.ins_index, row.requested_by)
                yield Shredded(row.owner_id, _aware(row.shredded_at), note)
            if len(page) < batch_size:
                return
            after = page[-1].owner_id

    def has(self, key_id: UUID) -> bool:
        return self.get(key_id) is not None

    def iter_ids(self, batch_size: int = 1000) -> Iterator[UUID]:
        """Every DMP id with a key, by pages (no cursor held open between pages)."""
        after: UUID | None = None
        while page := self._page(select(data_keys.c.dmp_id), after, batch_size):
            yield from (row.dmp_id for row in page)
            after = page[-1].dmp_id

    def ids_created_before(self, cutoff: datetime, batch_size: int = 1000) -> Iterator[UUID]:
        """Ids of keys created before ``cutoff`` (the orphan sweep leaves younger ones alone),
        except the INS index key, which no row owns."""
        last: UUID | None = None
        while True:
            stmt = select(data_keys.c.dmp_id).where(
                data_keys.c.created_at < cutoff, data_keys.c.dmp_id != INS_INDEX_KEY
            )
            if last is not None:
                stmt = stmt.where(data_keys.c.dmp_id > last)
            with self._begin() as conn:
                batch = list(
                    conn.execute(stmt.order_by(data_keys.c.dmp_id).limit(batch_size)).scalars()
                )
            yield from batch
            if len(batch) < batch_size:
                return
            last = batch[-1]

    def rewrap_all(self, keyring: KeyRing, batch_size: int = 500) -> int:
        """Re-wrap with ``keyring.current`` every key wrapped by another master key.

        Batch by batch, each batch one transaction: an interrupted rotation resumes where it
        stopped. Returns how many keys were re-wrapped. Run it once every process wraps with the
        new current key; afterwards the old master keys may be removed from the configuration.
        """
        done, after = 0, None
        stale = select(data_keys).where(data_keys.c.key_id != keyring.current.key_id)
        while page := self._page(stale, after, batch_size):
            done += self._rewrap_batch(keyring, page)
            after = page[-1].dmp_id
        return done

    def _rewrap_batch(self, keyring: KeyRing, rows: Sequence[Row[Any]]) -> int:
        count, now = 0, self._clock()
        with self._begin() as conn:
            for row in rows:
                data_key = keyring.unwrap(row.dmp_id, WrappedKey(row.key_id, bytes(row.wrapped)))
                fresh = keyring.wrap(row.dmp_id, data_key)
                # Matching the old key_id too: a key destroyed meanwhile is not resurrected.
                result = conn.execute(
                    update(data_keys)
                    .where(data_keys.c.dmp_id == row.dmp_id, data_keys.c.key_id == row.key_id)
                    .values(key_id=fresh.key_id, wrapped=fresh.blob, rotated_at=now)
                )
                count += result.rowcount
        return count

    def _page(self, query: Any, after: UUID | None, size: int) -> Sequence[Row[Any]]:
        if after is not None:
            query = query.where(data_keys.c.dmp_id > after)
        with self._begin() as conn:
            return conn.execute(query.order_by(data_keys.c.dmp_id).limit(size)).all()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for reads: each statement on its own, no BEGIN and no COMMIT."""
        try:
            with self.engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
        except sa_exc.SQLAlchemyError as error:
            raise KeyStoreUnavailable() from error

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """One transaction; database failures surface as ``KeyStoreUnavailable``."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa_exc.IntegrityError:
            raise  # a constraint violation: the caller turns it into a domain error
        except sa_exc.SQLAlchemyError as error:
            raise KeyStoreUnavailable() from error


class DataKeys:
    """Per-DMP data keys: created, unwrapped (with a bounded LRU cache), destroyed."""

    def __init__(self, keystore: KeyStore, keyring: KeyRing, *, cache_size: int = 1024) -> None:
        self._store = keystore
        self._keyring = keyring
        self._cache: OrderedDict[UUID, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._destructions = 0  # bumped by destroy(): a get() racing it must not cache the key

    @property
    def store(self) -> KeyStore:
        return self._store

    def create(self, dmp_id: UUID, group: UUID | None = None) -> bytes:
        """A new key for ``dmp_id`` (a DMP, or a document of the DMP ``group``, …)."""
        data_key = self._keyring.new_data_key()
        self._store.put(dmp_id, self._keyring.wrap(dmp_id, data_key), group)
        self._remember(dmp_id, data_key)
        return data_key

    def open_or_create(self, key_id: UUID) -> bytes:
        """The key ``key_id``, created if there is none yet. Two processes may race to create
        it: the store keeps the first, and the second one reads it back."""
        try:
            return self.get(key_id)
        except KeyDestroyed:
            pass
        try:
            return self.create(key_id)
        except Conflict:
            return self.get(key_id)

    def get(self, dmp_id: UUID) -> bytes:
        """The DMP's data key; ``KeyDestroyed`` if it was destroyed (or never created)."""
        cached, generation = self._cached(dmp_id)
        if cached is not None:
            return cached
        wrapped = self._store.get(dmp_id)
        if wrapped is None:
            raise KeyDestroyed()
        data_key = self._keyring.unwrap(dmp_id, wrapped)
        self._remember(dmp_id, data_key, generation)
        return data_key

    def get_with_group(self, dmp_id: UUID) -> bytes:
        """The DMP's key, as ``get``; when it is not cached, read with the keys of its group
        (its documents') in one key-store query, all of them unwrapped and cached: a search
        opens them next. At most half the cache's size of them; those left out are read when
        asked for."""
        cached, generation = self._cached(dmp_id)
        if cached is not None:
            return cached
        group = self._store.group_keys(dmp_id, limit=max(1, self._cache_size // 2))
        own = group.pop(dmp_id, None)
        if own is None:  # destroyed, left out, or not grouped yet (``dmp db upgrade``)
            return self.get(dmp_id)
        for owner, wrapped in group.items():
            self._remember(owner, self._keyring.unwrap(owner, wrapped), generation)
        data_key = self._keyring.unwrap(dmp_id, own)
        self._remember(dmp_id, data_key, generation)
        return data_key

    def prefetch(self, ids: Sequence[UUID], group: UUID | None = None) -> None:
        """Unwrap and cache, in one key-store query, the keys of ``ids`` not cached yet (a search
        opens one key per document), all in ``group`` when given (the DMP of those documents).
        Missing keys are left for ``get`` to report."""
        with self._lock:
            missing = [i for i in ids if i not in self._cache]
            generation = self._destructions
        for owner, wrapped in self._store.get_many(missing, group).items():
            self._remember(owner, self._keyring.unwrap(owner, wrapped), generation)

    def destroy(self, dmp_id: UUID, note: Shredding | None = None) -> bool:
        """Crypto-shred the DMP: forget its key here and delete it from the store (the store
        notes the shredding in its ledger)."""
        with self._lock:
            self._destructions += 1
            self._cache.pop(dmp_id, None)
        return self._store.delete(dmp_id, note)

    def _cached(self, dmp_id: UUID) -> tuple[bytes | None, int]:
        """The key if cached (now the most recently used), and the destructions counted so far:
        a key read from the store after a destruction started is not cached."""
        with self._lock:
            if (cached := self._cache.get(dmp_id)) is not None:
                self._cache.move_to_end(dmp_id)
            return cached, self._destructions

    def _remember(self, dmp_id: UUID, data_key: bytes, generation: int | None = None) -> None:
        with self._lock:
            if generation is not None and generation != self._destructions:
                return  # a destroy() ran meanwhile: do not cache what may be a destroyed key
            self._cache[dmp_id] = data_key
            self._cache.move_to_end(dmp_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
