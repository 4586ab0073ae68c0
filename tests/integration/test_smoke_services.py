"""The main paths of the services, end to end on a real database (both backends)."""

from __future__ import annotations

from dmp.domain.model import AccessMode, RecordState
from dmp.errors import NotFound
from dmp.services import records
from dmp.services.documents import DocumentQuery, Reading, find_documents, open_content
from dmp.services.submission import submit_documents
from tests.factories import PDF, pdf_submission
from tests.personas import ALICE_INS, populate


def test_create_feed_find_read(ctx):
    cast = populate(ctx)
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    found = find_documents(ctx, Reading(cast.chloe), cast.alice_dmp, DocumentQuery())
    assert [d.id for d in found] == [doc.id]
    content, stream = open_content(ctx, Reading(cast.chloe), cast.alice_dmp, doc.id)
    assert b"".join(stream) == PDF
    assert content.size == len(PDF)
    lookup = records.lookup(ctx, cast.damien, ALICE_INS)
    assert lookup.exists
    assert lookup.state is RecordState.ACTIVE
    assert not lookup.authorized


def test_unrelated_professional_sees_nothing(ctx):
    cast = populate(ctx)
    try:
        find_documents(ctx, Reading(cast.damien), cast.alice_dmp)
    except NotFound:
        pass
    else:
        raise AssertionError("Damien has no authorization")
    docs = find_documents(
        ctx, Reading(cast.damien, AccessMode.EMERGENCY, "Patient inconscient"), cast.alice_dmp
    )
    assert docs == []
