"""ITI-68 sends a content up to ``WHOLE_UP_TO`` in one piece, decrypted and checked before the
first byte leaves, and streams a larger one: both read back hash-identical, as their own bytes and
as a FHIR Binary; a tampered content that fits in one piece is an error answer, never a 200 with a
cut-off body (both backends)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import select

from dmp.adapters.db import tables as t
from dmp.entrypoints.fhir import ids
from dmp.entrypoints.fhir.binary import WHOLE_UP_TO
from tests.e2e.fhir import FHIR_JSON, created_id, provide_bundle
from tests.factories import sized_pdf
from tests.personas import ALICE_INS

SIZES = {"whole": WHOLE_UP_TO, "streamed": WHOLE_UP_TO + 3 * 65536 + 17}
RAW = {"Accept": "*/*"}


def _provide(api, content: bytes) -> str:
    response = api.post("/fhir", json=provide_bundle(ALICE_INS, content), as_="bruno")
    assert response.status_code == 200, response.text
    return created_id(response)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_content_reads_back_whole_in_both_formats(api, size):
    content = sized_pdf(size)
    doc_id = _provide(api, content)
    raw = api.get(f"/fhir/Binary/{doc_id}.0", as_="chloe", headers=RAW)
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-length"] == str(size)
    assert hashlib.sha256(raw.content).hexdigest() == raw.headers["etag"].strip('"')
    assert raw.content == content
    binary = api.get(f"/fhir/Binary/{doc_id}.0", as_="chloe", headers={"Accept": FHIR_JSON})
    assert binary.status_code == 200, binary.text
    assert binary.headers["content-type"].startswith(FHIR_JSON)
    assert base64.b64decode(binary.json()["data"]) == content


def test_a_tampered_content_is_an_error_answer_not_a_cut_off_one(api, ctx):
    doc_id = _provide(api, sized_pdf(SIZES["whole"]))
    document = ids.parse_document_id(doc_id)[1]
    with ctx.engine.connect() as conn:
        key = conn.execute(
            select(t.document_contents.c.blob_key).where(
                t.document_contents.c.document_id == document
            )
        ).scalar_one()
    stored = bytearray(b"".join(ctx.blobs.open(key)))
    stored[len(stored) * 3 // 4] ^= 0x01  # a bit of the last segments: the first ones check out
    ctx.blobs.put(key, [bytes(stored)])
    bearer = {"Authorization": f"Bearer {api.tokens['chloe']}"}
    for headers in (RAW, {"Accept": FHIR_JSON}):
        # The client itself: the tests' one refuses any 5xx, and this one is the answer sought.
        answer = api.client.get(f"/fhir/Binary/{doc_id}.0", headers={**headers, **bearer})
        assert answer.status_code == 500, (headers, answer.status_code, len(answer.content))
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["details"]["coding"][0]["code"] == "integrity"
