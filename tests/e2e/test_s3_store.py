"""The API with its contents in S3 (a local S3-compatible server, moto, over HTTP): a document
provided by ITI-65 lands in the bucket encrypted, and ITI-68 gives back the very bytes; the
patient's destruction removes the objects (both backends)."""

from __future__ import annotations

import hashlib

import pytest

from dmp.domain.model import PatientActor
from dmp.entrypoints.fhir.ids import parse_document_id
from dmp.services.records import destroy_record
from dmp.services.submission import destroy_documents
from tests.e2e.fhir import created_id, provide_bundle
from tests.factories import PDF
from tests.objectstore import ObjectServer, object_bytes, object_names
from tests.personas import ALICE_INS

MIB = 1024 * 1024
MARK = b"Compte rendu : hypertension arterielle, suivi dans trois mois."


@pytest.fixture
def settings(settings, s3_server: ObjectServer, s3_bucket: str):
    """Contents in a bucket of the test's own, under a prefix; room for a multipart upload."""
    return settings.with_(
        blob_s3=s3_server.settings(s3_bucket, "region-1/"), max_content_bytes=8 * MIB
    )


def pdf(size: int) -> bytes:
    """A PDF of about ``size`` bytes whose text says something recognisable."""
    body = PDF[: PDF.index(b"endobj") + 6] + MARK * (size // len(MARK))
    return body + b"\n%%EOF\n"


def provide(api, content: bytes) -> str:
    response = api.post("/fhir", json=provide_bundle(ALICE_INS, content), as_="bruno")
    assert response.status_code == 200, response.text
    return created_id(response)


@pytest.mark.parametrize("size", [2_000, 6 * MIB], ids=["one-put", "multipart"])
def test_a_document_lands_in_s3_encrypted_and_reads_back(api, ctx, cast, s3_server, size):
    content = pdf(size)
    doc_id = provide(api, content)
    bucket = ctx.settings.blob_s3.bucket
    [name] = object_names(s3_server, bucket)
    assert name.startswith(f"region-1/{cast.alice_dmp}/")
    stored = object_bytes(s3_server, bucket, name)
    assert len(stored) > len(content)  # the cipher's header and tags
    assert MARK not in stored
    assert b"%PDF" not in stored
    assert not (ctx.settings.blob_dir / "objects").exists()  # nothing went to local files
    raw = api.get(f"/fhir/Binary/{doc_id}.0", as_="chloe", headers={"Accept": "*/*"})
    assert raw.status_code == 200
    assert hashlib.sha256(raw.content).hexdigest() == hashlib.sha256(content).hexdigest()
    assert raw.headers["etag"] == f'"{hashlib.sha256(content).hexdigest()}"'


def test_with_an_object_store_a_consult_hops_to_the_thread_pool(api, ctx, request):
    """A read from the object store is a network round trip: never on the event loop."""
    doc_id = provide(api, pdf(2_000))
    sent = request.getfixturevalue("hops")
    raw = api.get(f"/fhir/Binary/{doc_id}.0", as_="chloe", headers={"Accept": "*/*"})
    assert raw.status_code == 200, raw.text
    assert not ctx.consult_on_loop
    assert {"authenticate", "_retrieve"} <= set(sent), sent


def test_destruction_removes_the_objects(api, ctx, cast, clock, s3_server):
    kept, destroyed = provide(api, pdf(2_000)), provide(api, pdf(3_000))
    bucket = ctx.settings.blob_s3.bucket
    assert len(object_names(s3_server, bucket)) == 2
    alice = PatientActor(cast.alice.account_id, cast.alice_dmp, clock())  # a fresh code
    destroy_documents(ctx, alice, cast.alice_dmp, [parse_document_id(destroyed)[1]])
    [left] = object_names(s3_server, bucket)
    assert left.startswith(f"region-1/{cast.alice_dmp}/{parse_document_id(kept)[1]}")
    clock.advance(seconds=1)
    destroy_record(
        ctx, PatientActor(cast.alice.account_id, cast.alice_dmp, clock()), cast.alice_dmp
    )
    assert object_names(s3_server, bucket) == []
