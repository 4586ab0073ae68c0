"""The unit of work: a transaction that commits only when asked, and the read-only kind that
takes no transaction (and, on SQLite, no write lock)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from dmp.adapters.db.tables import professionals
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
