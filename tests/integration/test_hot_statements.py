"""The hot statements (``dmp.adapters.db.hot``): through the driver on PostgreSQL they give the
rows SQLAlchemy gives, values converted the same way; a lost connection is an outage (503) and
the next unit of work gets a new one; a statement the database refuses is SQLAlchemy's error, not
an outage (both backends; on SQLite they are SQLAlchemy's own path)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql

from dmp.adapters.db import repositories as r
from dmp.adapters.db import tables as t
from dmp.errors import DatabaseUnavailable
from dmp.services import authorizations, directory
from dmp.services.submission import submit_documents
from tests.factories import pdf_submission
from tests.integration.helpers import end_session
from tests.personas import populate


@pytest.fixture
def cast(ctx):
    cast = populate(ctx)
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    for _ in range(3):
        submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    return cast


def test_every_hot_statement_compiles_for_the_driver():
    dialect = postgresql.psycopg.dialect()
    assert len(r.HOT_STATEMENTS) == 14
    for hot in r.HOT_STATEMENTS:
        hot._compile(dialect)  # no IN list, no escaped name: or TypeError


def test_the_driver_gives_the_rows_sqlalchemy_gives(ctx, cast):
    token = directory.issue_token(ctx, cast.professionals["bruno"].rpps).token
    with ctx.engine.connect() as conn:
        record = conn.execute(r._RECORD_BY_ID, {"key": cast.alice_dmp}).one()
        doc = conn.execute(r._DOCUMENTS_OF, {"dmp_id": cast.alice_dmp}).first()
        doc_id = doc.id
    dmp = {"dmp_id": cast.alice_dmp}
    cases = [
        (r._HOT_TOKEN_HOLDER, {"token_hash": directory._hash_token(token)}),
        (r._HOT_RECORD_BY_ID, {"key": cast.alice_dmp}),
        (r._HOT_RECORD_BY_ID_LOCKED, {"key": cast.alice_dmp}),
        (r._HOT_RECORD_BY_INS, {"key": record.ins_index}),
        (r._HOT_RECORD_BY_INS_LOCKED, {"key": record.ins_index}),
        (r._HOT_FACT_SETS, {**dmp, "professional_id": cast.professionals["bruno"].id}),
        (r._HOT_DOCUMENT, {**dmp, "document_id": doc_id}),
        (r._HOT_DOCUMENTS_OF, dmp),
        (r._HOT_CONTENTS_OF_RECORD, dmp),
        (r._HOT_CONTENTS_OF_DOCUMENT, {**dmp, "document_id": doc_id}),
        (r._HOT_AUDIT_HEAD, dmp),
        (r._HOT_AUDIT_HEAD_LOCKED, dmp),
        (r._HOT_MASTER_IDENTIFIER, {**dmp, "master_identifier": doc.master_identifier}),
    ]
    assert {id(hot) for hot, _ in cases} | {id(r._HOT_AUDIT_APPEND_AND_MOVE)} == {
        id(hot) for hot in r.HOT_STATEMENTS
    }
    with ctx.uow() as uow:
        for hot, params in cases:
            expected = [tuple(row) for row in uow.connection.execute(hot.stmt, params)]
            got = [tuple(row) for row in hot.rows(uow.connection, params)]
            assert expected, hot.stmt  # each case finds something
            assert got == expected, hot.stmt
            for mine, theirs in zip(got, expected, strict=True):  # the same types: UTC, UUIDs
                assert [type(v) for v in mine] == [type(v) for v in theirs], hot.stmt
                assert [getattr(v, "tzinfo", None) for v in mine] == [
                    getattr(v, "tzinfo", None) for v in theirs
                ], hot.stmt


def _postgresql_only(ctx) -> None:
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite the hot statements are SQLAlchemy's own path, and no server")


def _read_once_lost(ctx, uow, dmp_id) -> None:
    """The server ends the unit of work's session (as a restart would), then a hot statement."""
    end_session(ctx.engine, uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
    uow.records.get(dmp_id)


def test_a_connection_lost_under_a_hot_statement_is_an_outage_and_the_next_one_works(ctx, cast):
    _postgresql_only(ctx)
    with pytest.raises(DatabaseUnavailable), ctx.uow() as uow:
        _read_once_lost(ctx, uow, cast.alice_dmp)
    with ctx.uow() as uow:
        assert uow.records.get(cast.alice_dmp) is not None


def test_a_hot_statement_the_database_refuses_is_not_an_outage(ctx, cast):
    _postgresql_only(ctx)
    with pytest.raises(sa_exc.DataError), ctx.uow() as uow:
        r._HOT_RECORD_BY_ID.rows(uow.connection, {"key": "not a uuid"})
    with ctx.uow() as uow:
        assert uow.records.get(cast.alice_dmp) is not None


def test_a_hot_insert_writes_the_row_sqlalchemy_writes(ctx, cast):
    """The same values written by SQLAlchemy and through the driver read back the same, column
    by column (UTC datetimes, UUIDs, bytes, the database's defaults for the columns left out),
    on both backends and for each table the feed writes."""
    assert {i.table.name for i in r.HOT_INSERTS} == {"documents", "document_contents", "outbox"}
    with ctx.engine.connect() as conn:
        doc = dict(conn.execute(select(t.documents)).mappings().first())
        content = dict(
            conn.execute(
                select(t.document_contents).where(t.document_contents.c.document_id == doc["id"])
            )
            .mappings()
            .one()
        )
    now = datetime.now(UTC)
    message = {"dmp_id": cast.alice_dmp, "recipient_kind": "account", "template": "document_added"}
    message |= {"recipient_id": uuid4(), "params": '{"date": "é"}', "created_at": now}
    message |= {"attempts": 0, "next_attempt_at": now, "contact_enc": b"\x00\xff"}
    tables = {i.table.name: i for i in r.HOT_INSERTS}

    def unique(name: str, values: dict, document_id) -> dict:
        """The values, with what must be unique made so (and a content for that document)."""
        if name == "documents":
            return values | {"id": document_id, "master_identifier": f"urn:uuid:{uuid4()}"}
        if name == "document_contents":
            return values | {"document_id": document_id, "blob_key": f"{uuid4()}-0"}
        return values | {"id": uuid4()}

    with ctx.uow() as uow:
        written = []
        for name, values, key in [
            ("documents", doc, "id"),
            ("document_contents", content, "document_id"),
            ("documents", doc | {"hidden_since": now, "comments_enc": None}, "id"),
            ("outbox", message, "id"),
        ]:
            if name == "documents":
                our_doc, their_doc = uuid4(), uuid4()
            table = tables[name].table
            ours, theirs = unique(name, values, our_doc), unique(name, values, their_doc)
            if name == "outbox":
                ours.pop("attempts")  # the database's default is not SQLAlchemy's
                with pytest.raises(TypeError, match="attempts"):
                    tables[name].run(uow.connection, ours)
                ours["attempts"] = 0
                naive = ours | {"created_at": now.replace(tzinfo=None)}
                # SQLAlchemy's conversions of the values are applied: a naive datetime is refused
                with pytest.raises((ValueError, sa_exc.StatementError), match="naive"):
                    tables[name].run(uow.connection, naive)
            tables[name].run(uow.connection, ours)
            uow.connection.execute(insert(table), theirs)
            written.append((table, key, ours, theirs))
        for table, key, ours, theirs in written:
            row = _row(uow, table, key, ours[key])
            expected = _row(uow, table, key, theirs[key])
            for same in ("id", "document_id", "master_identifier", "blob_key"):
                row.pop(same, None)
                expected.pop(same, None)
            assert row == expected, table.name
            assert {c: type(v) for c, v in row.items()} == {
                c: type(v) for c, v in expected.items()
            }, table.name
            assert [getattr(v, "tzinfo", None) for v in row.values()] == [
                getattr(v, "tzinfo", None) for v in expected.values()
            ], table.name


def _row(uow, table, key, value) -> dict:
    stmt = select(table).where(table.c[key] == value)
    return dict(uow.connection.execute(stmt).mappings().one())
