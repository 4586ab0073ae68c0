"""The unit of work: one database transaction that rolls back unless ``commit()`` is called.

It is also where a database that does not answer becomes ``DatabaseUnavailable`` (HTTP 503),
whatever statement met it: every use case reaches the database through a unit of work, and a
driver's exception must not cross the service boundary (it would be an HTTP 500). The engine's
pool checks a connection that sat idle before lending it (``engine.IDLE_BEFORE_PING``), so the
first request after the database is back succeeds, with no restart."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from dmp.adapters.db.repositories import (
    AccountRepository,
    AuditRepository,
    DirectoryRepository,
    DocumentRepository,
    FactorRepository,
    OutboxRepository,
    RecordRepository,
)
from dmp.errors import CommitInDoubt, DatabaseUnavailable


def unavailable(error: BaseException) -> bool:
    """The database is down, restarting, unreachable, or the connection was lost
    (``OperationalError``: also a lock that timed out), as opposed to a statement it refused."""
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated


class UnitOfWork:
    """``read_only``: each statement runs on its own (autocommit), with no BEGIN, COMMIT or
    write lock; ``commit()`` is then refused. For single-statement reads that need no audit
    entry, such as authenticating a request."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._connection: Connection | None = None

    def __enter__(self) -> UnitOfWork:
        try:
            self._connection = self._engine.connect()
            if self._read_only:
                self._connection = self._connection.execution_options(isolation_level="AUTOCOMMIT")
            self._transaction = self._connection.begin()
        except sa_exc.DBAPIError as error:
            self._discard()
            if unavailable(error):
                raise DatabaseUnavailable() from error
            raise
        except sa_exc.TimeoutError as error:  # every pooled connection lent, for pool_timeout
            self._discard()
            raise DatabaseUnavailable() from error
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
        try:
            self._transaction.commit()
        except sa_exc.DBAPIError as error:
            if unavailable(error):  # the database may have applied it, or not
                raise CommitInDoubt() from error
            raise

    def rollback(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failure = exc
        try:
            self.rollback()
        except sa_exc.DBAPIError as error:  # the connection is lost: say so if nothing else did
            failure = failure or error
        finally:
            self._discard()
        if failure is not None and unavailable(failure):
            raise DatabaseUnavailable() from failure
        if failure is not None and exc is None:
            raise failure

    def _discard(self) -> None:
        """Give the connection back to the pool (which drops it, if it is broken)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
