"""The unit of work: one database transaction that rolls back unless ``commit()`` is called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from dmp.adapters.db.repositories import (
    AccountRepository,
    AuditRepository,
    DirectoryRepository,
    DocumentRepository,
    FactorRepository,
    OutboxRepository,
    RecordRepository,
)


class UnitOfWork:
    """``read_only``: each statement runs on its own (autocommit), with no BEGIN, COMMIT or
    write lock; ``commit()`` is then refused. For single-statement reads that need no audit
    entry, such as authenticating a request."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._connection: Connection | None = None

    def __enter__(self) -> UnitOfWork:
        self._connection = self._engine.connect()
        if self._read_only:
            self._connection = self._connection.execution_options(isolation_level="AUTOCOMMIT")
        self._transaction = self._connection.begin()
        conn = self._connection
        self.directory = DirectoryRepository(conn)
        self.records = RecordRepository(conn)
        self.accounts = AccountRepository(conn)
        self.factors = FactorRepository(conn)
        self.documents = DocumentRepository(conn)
        self.audit = AuditRepository(conn)
        self.outbox = OutboxRepository(conn)
        return self

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "unit of work used outside its with-block"
        return self._connection

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        self.connection.close()
        self._connection = None
