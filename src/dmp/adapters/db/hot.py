"""The statements every consult runs, through the driver on PostgreSQL (ADR 7).

SQLAlchemy Core costs as much CPU per statement as the statement itself: its execution context,
the cursor's description read column by column, the result's metadata. Measured on PostgreSQL
(psycopg 3, CPU per execution): a DMP's 20 documents with their authors 950 µs through
SQLAlchemy, 427 µs through psycopg; the DMP's row 273 against 126 µs; the chain's head 234
against 132 µs. These statements are built once, at import; :class:`Hot` also compiles each once
and, on PostgreSQL, runs it on the connection's own psycopg cursor (rows in the binary format:
no text to parse for UUIDs, times and bytes), with SQLAlchemy's
conversions of the values both ways (its bind and result processors: the UTC datetimes), so the
rows are those SQLAlchemy would give (``tests/integration/test_hot_statements.py`` holds them to
it). The rest stays SQLAlchemy's: a driver error becomes SQLAlchemy's own exception (the
connection closed and dropped from the pool when it was lost), and the engine's
``before_cursor_execute`` listeners see the statement. On SQLite, SQLAlchemy runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Table, insert
from sqlalchemy import exc as sa_exc

Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]  # the values the statement carries (a literal limit, say)
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]
    returns_rows: bool


class Hot:
    """A statement of the hot paths: ``rows``, ``first`` or ``run`` it on a connection."""

    __slots__ = ("_columns", "_compiled", "stmt")

    def __init__(self, stmt: Any, columns: frozenset[str] | None = None) -> None:
        self.stmt = stmt
        self._columns = columns  # an INSERT's: the columns it writes, as SQLAlchemy would
        self._compiled: _Compiled | None = None

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Row]:
        if conn.dialect.name != "postgresql":
            return list(conn.execute(self.stmt, params))
        return self._run(conn, params)

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Row | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """A statement that returns no rows."""
        if conn.dialect.name != "postgresql":
            conn.execute(self.stmt, params)
        else:
            self._run(conn, params)

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> list[Row]:
        compiled = self._compiled or self._compile(conn.dialect)
        values = compiled.defaults | dict(params)
        for name, process in compiled.binds:
            values[name] = process(values[name])
        driver = conn.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor(binary=True)
        try:
            conn.dispatch.before_cursor_execute(conn, cursor, compiled.sql, values, None, False)
            cursor.execute(compiled.sql, values)
            if not compiled.returns_rows:
                return []
            fetched: list[Row] = cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as error:
            raise _translated(conn, driver, cursor, compiled.sql, values, error) from error
        finally:
            cursor.close()
        if compiled.results:
            fetched = [_processed(row, compiled.results) for row in fetched]
        return fetched

    def _compile(self, dialect: Dialect) -> _Compiled:
        if self._columns is None:
            compiled = self.stmt.compile(dialect=dialect)
        else:
            compiled = self.stmt.compile(dialect=dialect, column_keys=sorted(self._columns))
        sql = str(compiled)
        if "POSTCOMPILE" in sql or compiled.escaped_bind_names:
            raise TypeError("a hot statement takes neither IN lists nor escaped parameter names")
        results = tuple(
            (index, process)
            for index, column in enumerate(compiled._result_columns)
            if (process := column[3]._cached_result_processor(dialect, None)) is not None
        )
        self._compiled = _Compiled(
            sql=sql,
            defaults={
                name: value
                for name, value in compiled.construct_params(_check=False).items()
                if not compiled.binds[name].required
            },
            binds=tuple(compiled._bind_processors.items()),
            results=results,
            returns_rows=bool(compiled.returning or getattr(self.stmt, "is_select", False)),
        )
        return self._compiled


class HotInsert:
    """An INSERT of the hot paths into ``table``: one :class:`Hot` statement per set of columns
    written (SQLAlchemy too compiles one per set), the others left to the database's defaults.
    A column whose default SQLAlchemy computes would be left out: refused when compiled."""

    __slots__ = ("_shapes", "table")

    def __init__(self, table: Table) -> None:
        self.table = table
        self._shapes: dict[frozenset[str], Hot] = {}

    def run(self, conn: Connection, values: Mapping[str, Any]) -> None:
        shape = frozenset(values)
        hot = self._shapes.get(shape)
        if hot is None:
            left_out = [c.key for c in self.table.columns if c.default and c.key not in shape]
            if left_out:
                raise TypeError(f"a hot insert writes every column with a default: {left_out}")
            hot = self._shapes[shape] = Hot(insert(self.table), shape)
        hot.run(conn, values)


def _processed(row: Row, results: tuple[tuple[int, Callable[[Any], Any]], ...]) -> Row:
    values = list(row)
    for index, process in results:
        values[index] = process(values[index])
    return values


def _translated(
    conn: Connection, driver: Any, cursor: Any, sql: str, values: Any, error: Any
) -> sa_exc.StatementError:
    """The driver's error as SQLAlchemy would have raised it; a lost connection is closed and
    dropped from the pool (the pool's other connections are checked when they sat idle, see
    ``engine.IDLE_BEFORE_PING``)."""
    lost = conn.dialect.is_disconnect(error, driver, cursor)
    if lost:
        conn.invalidate(error)
    translated: sa_exc.StatementError = sa_exc.DBAPIError.instance(
        sql,
        values,
        error,
        conn.dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=conn.dialect,
    )
    return translated
