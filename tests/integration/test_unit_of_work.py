"""The unit of work: a transaction that commits only when asked, and the read-only kind that
takes no transaction (and, on SQLite, no write lock); a database that does not answer is
``DatabaseUnavailable`` (503), a statement it refuses is not."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy import exc as sa_exc

from dmp.adapters.db import engine as engines
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.tables import professionals
from dmp.adapters.db.uow import UnitOfWork
from dmp.errors import DatabaseUnavailable
from tests.e2e.fhir import free_port
from tests.integration.helpers import end_session
from tests.personas import populate


@pytest.fixture
def cast(ctx):
    return populate(ctx)


def _name(uow, professional_id):
    stmt = select(professionals.c.family_name).where(professionals.c.id == professional_id)
    return uow.connection.execute(stmt).scalar_one()


def test_a_reader_sees_committed_rows_only_and_never_waits_for_a_writer(ctx, cast):
    bruno = cast.bruno.professional_id
    rename = update(professionals).where(professionals.c.id == bruno)
    with ctx.uow() as writer:  # holds SQLite's write lock (BEGIN IMMEDIATE) until it ends
        writer.connection.execute(rename.values(family_name="Martin-Renard"))
        with ctx.reader() as reader:
            assert _name(reader, bruno) == "Martin"  # not the uncommitted change
        writer.commit()
    with ctx.reader() as reader:
        assert _name(reader, bruno) == "Martin-Renard"


def test_a_unit_of_work_rolls_back_unless_committed(ctx, cast):
    bruno = cast.bruno.professional_id
    with ctx.uow() as uow:
        uow.connection.execute(
            update(professionals).where(professionals.c.id == bruno).values(family_name="X")
        )
    with ctx.reader() as reader:
        assert _name(reader, bruno) == "Martin"


def test_a_reader_refuses_to_commit(ctx, cast):
    with ctx.reader() as reader, pytest.raises(RuntimeError):
        reader.commit()


def test_a_database_that_does_not_answer_is_unavailable_not_an_error_of_ours():
    nothing_there = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/dmp")
    with pytest.raises(DatabaseUnavailable) as raised, UnitOfWork(nothing_there):
        pass
    assert raised.value.status == 503
    nothing_there.dispose()


def test_a_connection_lost_mid_transaction_is_unavailable_and_the_next_one_works(postgres_url):
    engine = make_engine(postgres_url)
    with pytest.raises(DatabaseUnavailable), UnitOfWork(engine) as uow:
        # The server ends this session, as a restart of the database would.
        uow.connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    with UnitOfWork(engine, read_only=True) as uow:  # the pool checks before it lends
        assert uow.connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def _pid_then_killed(engine) -> int:
    """The backend of the pool's one idle connection, ended by the server (as a restart ends
    every session) while it sits in the pool."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    end_session(engine, pid)
    return pid


def test_a_connection_that_died_while_idle_is_replaced_before_use(postgres_url, monkeypatch):
    monkeypatch.setattr(engines, "IDLE_BEFORE_PING", 0.0)  # every connection counts as idle
    engine = make_engine(postgres_url, pool_size=1)
    dead = _pid_then_killed(engine)
    with UnitOfWork(engine, read_only=True) as uow:  # checked before it is lent: no error
        assert uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != dead
    engine.dispose()


def test_a_connection_used_a_moment_ago_is_lent_unchecked_and_replaced_after_it_fails(
    postgres_url, monkeypatch
):
    """The bound of ADR 7: within ``IDLE_BEFORE_PING`` of its last use, a connection that died
    fails one request with a 503; the next one gets a new connection."""
    monkeypatch.setattr(engines, "IDLE_BEFORE_PING", 3600.0)
    engine = make_engine(postgres_url, pool_size=1)
    dead = _pid_then_killed(engine)
    with pytest.raises(DatabaseUnavailable), UnitOfWork(engine, read_only=True) as uow:
        uow.connection.execute(text("SELECT 1"))
    with UnitOfWork(engine, read_only=True) as uow:
        assert uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != dead
    engine.dispose()


def test_a_pool_with_every_connection_lent_is_unavailable_not_an_error_of_ours(postgres_url):
    """SQLAlchemy's pool gives up after ``pool_timeout`` with its own ``TimeoutError``, not a
    driver's error: it is a 503 too, and the connection given back is lent again."""
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    holder = UnitOfWork(engine, read_only=True).__enter__()
    with pytest.raises(DatabaseUnavailable) as raised, UnitOfWork(engine, read_only=True):
        pass
    assert raised.value.status == 503
    holder.__exit__(None, None, None)
    with UnitOfWork(engine, read_only=True) as uow:
        assert uow.connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_a_statement_the_database_refuses_is_not_an_outage(ctx, cast):
    with ctx.reader() as uow:
        row = dict(uow.connection.execute(select(professionals)).mappings().first())
    with pytest.raises(sa_exc.IntegrityError):  # a duplicate key, through the unit of work
        _insert(ctx, row)


def _insert(ctx, row) -> None:
    with ctx.uow() as uow:
        uow.connection.execute(insert(professionals).values(**row))
