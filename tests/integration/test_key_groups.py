"""A DMP's keys side by side in the key store (docs/adr/0003-storage-layout.md): a document's key
is written in its DMP's group; the keys of a key store made by an earlier version, without
groups, are still found, and ``dmp db upgrade`` groups them."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update

from dmp.adapters.db.tables import documents
from dmp.adapters.keystore import data_keys
from dmp.bootstrap import build
from dmp.domain.model import DocStatus
from dmp.services.documents import DocumentQuery, Reading, find_documents, open_content
from dmp.services.migration import migrate_database
from dmp.services.submission import submit_documents
from tests.factories import PDF, pdf_submission
from tests.integration.helpers import statements
from tests.personas import populate


def _groups(ctx) -> dict:
    with ctx.keys.store.engine.connect() as conn:
        return dict(conn.execute(select(data_keys.c.dmp_id, data_keys.c.group_id)).all())


def _expected(ctx) -> dict:
    """Each key in its own group, but a document's, in its DMP's."""
    with ctx.engine.connect() as conn:
        owners = dict(conn.execute(select(documents.c.id, documents.c.dmp_id)).all())
    return {key: owners.get(key, key) for key in _groups(ctx)}


def test_document_keys_join_their_dmps_group_and_an_upgrade_groups_earlier_keys(
    ctx, settings, clock
):
    cast = populate(ctx)
    docs = submit_documents(
        ctx, cast.bruno, cast.alice_dmp, [pdf_submission(), pdf_submission(title="Bilan")]
    )
    expected = _expected(ctx)
    assert {expected[d.id] for d in docs} == {cast.alice_dmp}
    assert expected[cast.alice_dmp] == cast.alice_dmp
    assert _groups(ctx) == expected

    with ctx.keys.store.engine.begin() as conn:  # the key store of an earlier version
        conn.execute(update(data_keys).values(group_id=None))
    later = build(settings, clock=clock)  # another process: no key in its cache
    try:
        query = DocumentQuery(statuses=frozenset(DocStatus))
        found = find_documents(later, Reading(cast.bruno), cast.alice_dmp, query)
        assert {d.id: d.metadata.title for d in found} == {d.id: d.metadata.title for d in docs}
        _, chunks = open_content(later, Reading(cast.bruno), cast.alice_dmp, docs[0].id)
        assert hashlib.sha256(b"".join(chunks)).digest() == hashlib.sha256(PDF).digest()

        done = migrate_database(later)
        assert done.grouped == len(expected)
        assert any("clés rangées" in line for line in done.lines())
        assert _groups(later) == expected
        assert migrate_database(later).grouped == 0  # nothing left: it runs again harmlessly
    finally:
        later.engine.dispose()


def test_a_search_and_a_retrieval_each_read_the_key_store_once(ctx, settings, clock):
    """ITI-67 reads the DMP's key and its documents' in one query; ITI-68 the two it opens."""
    cast = populate(ctx)
    docs = submit_documents(
        ctx, cast.bruno, cast.alice_dmp, [pdf_submission(), pdf_submission(title="Bilan")]
    )
    for step in ("search", "retrieve"):
        later = build(settings, clock=clock)  # another process: no key in its cache
        try:
            with statements(later, later.keys.store.engine) as seen:
                if step == "search":
                    found = find_documents(later, Reading(cast.bruno), cast.alice_dmp)
                    assert {d.metadata.title for d in found} == {d.metadata.title for d in docs}
                else:
                    _, chunks = open_content(later, Reading(cast.bruno), cast.alice_dmp, docs[0].id)
                    assert hashlib.sha256(b"".join(chunks)).digest() == hashlib.sha256(PDF).digest()
            assert len(seen) == 1, (step, seen)
        finally:
            later.engine.dispose()
            later.keys.store.engine.dispose()
