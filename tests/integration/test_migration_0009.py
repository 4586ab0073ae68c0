"""Revision 0009: the documents stored before it get the MHD context of who produced them (what
submission now gives a document without one), version 1 of their metadata, and no SHA-1 (their
contents are encrypted); what came after it keeps what it was given (both backends)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, update

from dmp.adapters.db import tables as t
from dmp.adapters.db.migrate import alembic_config, upgrade
from dmp.services import authorizations
from dmp.services.directory import professional_actor
from dmp.services.submission import submit_documents
from tests.factories import pdf_submission
from tests.personas import populate


def _downgrade(engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _contexts(engine) -> dict[str, tuple[str | None, str | None]]:
    docs = t.documents
    with engine.connect() as conn:
        rows = conn.execute(
            select(docs.c.master_identifier, docs.c.facility_type, docs.c.practice_setting)
        )
        return {r[0]: (r[1], r[2]) for r in rows}


def test_documents_stored_before_get_the_context_of_who_produced_them(ctx):
    cast = populate(ctx)
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    hugo = professional_actor(ctx, cast.professionals["hugo"], cast.chu)
    given = pdf_submission(master_identifier="urn:oid:1.2.250.1.999.8.3", facility_type="SA07")
    submit_documents(
        ctx,
        cast.bruno,
        cast.alice_dmp,
        [pdf_submission(master_identifier="urn:oid:1.2.250.1.999.8.1")],
    )
    submit_documents(
        ctx, hugo, cast.alice_dmp, [pdf_submission(master_identifier="urn:oid:1.2.250.1.999.8.2")]
    )
    submit_documents(
        ctx,
        cast.alice,
        cast.alice_dmp,
        [
            pdf_submission(
                master_identifier="urn:oid:1.2.250.1.999.8.4",
                type_code="DOCPAT01",
                title="Directives",
            )
        ],
    )
    submit_documents(ctx, cast.bruno, cast.alice_dmp, [given])
    engine = ctx.engine
    _downgrade(engine, "0008")
    with engine.begin() as conn:  # as documents stored before the context was always set
        conn.execute(
            update(t.documents)
            .where(t.documents.c.master_identifier != "urn:oid:1.2.250.1.999.8.3")
            .values(facility_type=None, practice_setting=None)
        )
    upgrade(engine)
    assert _contexts(engine) == {
        "urn:oid:1.2.250.1.999.8.1": ("SA52", "AMBULATOIRE"),  # a liberal médecin
        "urn:oid:1.2.250.1.999.8.2": ("SA01", "ETABLISSEMENT"),  # for the CHU
        "urn:oid:1.2.250.1.999.8.3": ("SA07", "AMBULATOIRE"),  # kept as it was
        "urn:oid:1.2.250.1.999.8.4": ("DOMICILE", "AMBULATOIRE"),  # the patient's own
    }
    with engine.connect() as conn:
        assert set(conn.execute(select(t.documents.c.meta_version)).scalars()) == {1}
        assert set(conn.execute(select(t.document_contents.c.sha1)).scalars()) == {None}
