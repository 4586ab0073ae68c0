"""On PostgreSQL with the contents in local files, a consult's requests — authentication, ITI-67,
the DocumentReference read, ITI-68 whole or streamed — run on the event loop, with no hop to the
thread pool: the hop and its thread switches cost more CPU than the use case (ADR 7). On SQLite,
whose write lock may be waited for, they stay in the thread pool (and with an object store:
``test_s3_store``). Both answer alike."""

from __future__ import annotations

import hashlib

import pytest

from dmp.entrypoints.fhir.binary import WHOLE_UP_TO
from tests.e2e.fhir import created_id, ins_token, provide_bundle
from tests.factories import sized_pdf
from tests.personas import ALICE_INS

CONSULT = {"authenticate", "find_documents", "get_document", "_retrieve"}
SIZES = {"whole": 200 * 1024, "streamed": WHOLE_UP_TO + 3 * 65536 + 17}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_consult_runs_on_the_event_loop_on_postgresql(api, ctx, request, size):
    content = sized_pdf(size)
    response = api.post("/fhir", json=provide_bundle(ALICE_INS, content), as_="bruno")
    assert response.status_code == 200, response.text
    doc_id = created_id(response)
    sent = request.getfixturevalue("hops")  # from here on: the feed above hops, as it should

    found = api.get(
        "/fhir/DocumentReference", params={"patient.identifier": ins_token(ALICE_INS)}, as_="chloe"
    )
    assert found.status_code == 200, found.text
    assert doc_id in {e["resource"]["id"] for e in found.json()["entry"]}
    read = api.get(f"/fhir/DocumentReference/{doc_id}", as_="chloe")
    assert read.status_code == 200, read.text
    raw = api.get(f"/fhir/Binary/{doc_id}.0", as_="chloe", headers={"Accept": "*/*"})
    assert raw.status_code == 200, raw.text
    assert hashlib.sha256(raw.content).digest() == hashlib.sha256(content).digest()
    refused = api.get(f"/fhir/Binary/{doc_id}.0", as_="nobody", headers={"Accept": "*/*"})
    assert refused.status_code == 401, refused.text

    if ctx.engine.dialect.name == "postgresql":
        assert ctx.consult_on_loop
        assert sent == []
    else:
        assert not ctx.consult_on_loop
        assert set(sent) >= CONSULT, sent
