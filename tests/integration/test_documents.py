"""Documents through the services: who sees what (SPEC §3.3), lifecycle, timers, destruction."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from dmp.adapters.db.tables import audit_entries
from dmp.domain.model import (
    AccessMode,
    ContentInput,
    DocStatus,
    PatientActor,
    RepresentativeActor,
)
from dmp.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge, UnsupportedContent
from dmp.policy import DocumentChange
from dmp.services import authorizations
from dmp.services.audit import SYSTEM_CHAIN
from dmp.services.directory import authenticate, issue_token
from dmp.services.documents import (
    DocumentQuery,
    Reading,
    find_documents,
    get_document,
    open_content,
)
from dmp.services.history import read_history
from dmp.services.jobs import run_jobs
from dmp.services.submission import Submission, change_document, destroy_documents, submit_documents
from tests.factories import CDA, PDF, metadata, pdf_submission
from tests.integration.helpers import statements
from tests.personas import ALICE_INS, ins, populate

ALL = DocumentQuery(statuses=frozenset(DocStatus))


def _ids(ctx, reader, dmp_id, query=ALL):
    return {
        d.id
        for d in find_documents(
            ctx, reader if isinstance(reader, Reading) else Reading(reader), dmp_id, query
        )
    }


@pytest.fixture
def cast(ctx):
    return populate(ctx)


def _add(ctx, author, dmp_id, **meta):
    [doc] = submit_documents(ctx, author, dmp_id, [pdf_submission(**meta)])
    return doc


def test_masked_document(ctx, cast):
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)  # covers its staff
    doc = _add(ctx, cast.hugo, cast.alice_dmp)  # Hugo, a CHU radiologist, acting for the CHU
    change_document(ctx, cast.alice, cast.alice_dmp, doc.id, DocumentChange.MASK)
    assert doc.id in _ids(ctx, cast.alice, cast.alice_dmp)
    assert doc.id in _ids(ctx, cast.hugo, cast.alice_dmp)  # the author
    assert doc.id in _ids(ctx, cast.bruno, cast.alice_dmp)  # the médecin traitant
    assert doc.id not in _ids(ctx, cast.chloe, cast.alice_dmp)  # another authorized professional
    emergency = Reading(cast.damien, AccessMode.EMERGENCY, "Inconsciente aux urgences")
    assert doc.id not in _ids(ctx, emergency, cast.alice_dmp)  # masked stays masked
    with pytest.raises(NotFound):
        get_document(ctx, Reading(cast.chloe), cast.alice_dmp, doc.id)
    with pytest.raises(Forbidden):
        change_document(ctx, cast.bruno, cast.alice_dmp, doc.id, DocumentChange.UNMASK)
    change_document(ctx, cast.alice, cast.alice_dmp, doc.id, DocumentChange.UNMASK)
    assert doc.id in _ids(ctx, cast.chloe, cast.alice_dmp)


def test_profession_matrix_filters_classes(ctx, cast):
    report = _add(ctx, cast.bruno, cast.alice_dmp)  # 11488-4, class 10 compte rendu
    imaging = _add(ctx, cast.bruno, cast.alice_dmp, type_code="18748-4")  # class 31
    assert _ids(ctx, cast.chloe, cast.alice_dmp) == {report.id}  # a nurse: no imaging (default)
    assert _ids(ctx, cast.pauline, cast.alice_dmp) == set()  # a pharmacist: neither
    assert _ids(ctx, cast.bruno, cast.alice_dmp) == {report.id, imaging.id}


def test_hidden_from_the_patient_until_announced_or_one_month(ctx, cast, clock):
    doc = _add(ctx, cast.bruno, cast.alice_dmp, invisible_patient=True)
    assert doc.id not in _ids(ctx, cast.alice, cast.alice_dmp)
    assert doc.id in _ids(ctx, cast.chloe, cast.alice_dmp)
    clock.advance(days=13)
    assert run_jobs(ctx).notices == 0
    clock.advance(days=2)
    report = run_jobs(ctx)
    assert (report.notices, report.revealed) == (1, 0)
    assert run_jobs(ctx).notices == 0  # told once
    clock.advance(days=17)
    assert run_jobs(ctx).revealed == 1
    assert doc.id in _ids(ctx, cast.alice, cast.alice_dmp)


def test_reveal_by_the_medecin_traitant(ctx, cast):
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    doc = _add(ctx, cast.hugo, cast.alice_dmp, invisible_patient=True)
    with pytest.raises(Forbidden):
        change_document(ctx, cast.chloe, cast.alice_dmp, doc.id, DocumentChange.REVEAL)
    change_document(ctx, cast.bruno, cast.alice_dmp, doc.id, DocumentChange.REVEAL)
    assert doc.id in _ids(ctx, cast.alice, cast.alice_dmp)


def test_minor_secret_document_and_history(ctx, cast):
    secret = _add(ctx, cast.bruno, cast.lea_dmp, invisible_representatives=True)
    plain = _add(ctx, cast.bruno, cast.lea_dmp)
    assert _ids(ctx, cast.marc, cast.lea_dmp) == {plain.id}
    assert _ids(ctx, cast.lea, cast.lea_dmp) == {secret.id, plain.id}
    get_document(ctx, Reading(cast.lea), cast.lea_dmp, secret.id)
    with pytest.raises(NotFound):
        get_document(ctx, Reading(cast.marc), cast.lea_dmp, secret.id)
    lea_sees = {e.target_id for e in read_history(ctx, cast.lea, cast.lea_dmp, limit=200).entries}
    marc_sees = {e.target_id for e in read_history(ctx, cast.marc, cast.lea_dmp, limit=200).entries}
    assert str(secret.id) in lea_sees
    assert str(secret.id) not in marc_sees
    assert str(plain.id) in marc_sees


def test_representative_loses_access_at_majority(ctx, cast, clock):
    _add(ctx, cast.bruno, cast.lea_dmp)
    clock.now = clock.now.replace(year=2033, month=6, day=2)  # Léa, born 2015-06-01, is 18
    with pytest.raises(NotFound):
        find_documents(ctx, Reading(cast.marc), cast.lea_dmp)
    assert len(_ids(ctx, cast.lea, cast.lea_dmp)) == 1


def test_replace_archive_delete(ctx, cast):
    v1 = _add(ctx, cast.bruno, cast.alice_dmp)
    [v2] = submit_documents(
        ctx,
        cast.bruno,
        cast.alice_dmp,
        [
            Submission(
                metadata(title="Version corrigée"),
                [ContentInput("application/pdf", [PDF])],
                replaces_id=v1.id,
            )
        ],
    )
    assert (v2.version, v2.logical_id, v2.replaces_id) == (2, v1.logical_id, v1.id)
    assert (
        get_document(ctx, Reading(cast.bruno), cast.alice_dmp, v1.id).status is DocStatus.SUPERSEDED
    )
    assert _ids(ctx, cast.chloe, cast.alice_dmp, DocumentQuery()) == {v2.id}
    with pytest.raises(Conflict):  # only the current version is replaced
        submit_documents(
            ctx,
            cast.bruno,
            cast.alice_dmp,
            [Submission(metadata(), [ContentInput("application/pdf", [PDF])], replaces_id=v1.id)],
        )
    with pytest.raises(Forbidden):
        change_document(ctx, cast.chloe, cast.alice_dmp, v2.id, DocumentChange.ARCHIVE)
    change_document(ctx, cast.bruno, cast.alice_dmp, v2.id, DocumentChange.ARCHIVE)
    assert _ids(ctx, cast.chloe, cast.alice_dmp, DocumentQuery()) == set()
    change_document(ctx, cast.bruno, cast.alice_dmp, v2.id, DocumentChange.UNARCHIVE)
    change_document(ctx, cast.bruno, cast.alice_dmp, v2.id, DocumentChange.DELETE)
    for reader in (cast.alice, cast.bruno, cast.chloe):
        assert v2.id not in _ids(ctx, reader, cast.alice_dmp)


def test_patient_documents(ctx, cast):
    own = submit_documents(
        ctx,
        cast.alice,
        cast.alice_dmp,
        [
            Submission(
                metadata(type_code="DOCPAT01", title="Mes directives anticipées"),
                [ContentInput("text/plain", ["Je refuse l'acharnement thérapeutique.".encode()])],
            )
        ],
    )[0]
    assert own.class_code == "90"
    assert own.added_by_patient
    assert own.id in _ids(ctx, cast.chloe, cast.alice_dmp)
    with pytest.raises(Forbidden):
        submit_documents(ctx, cast.alice, cast.alice_dmp, [pdf_submission()])  # class 10
    with pytest.raises(Forbidden):
        submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission(type_code="DOCPAT01")])


@pytest.mark.parametrize(
    ("mime", "content", "error"),
    [
        ("application/pdf", CDA, UnsupportedContent),
        ("text/xml", PDF, UnsupportedContent),
        ("text/xml", b'<?xml version="1.0"?><html/>', UnsupportedContent),
        (
            "text/xml",
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'
            b'<ClinicalDocument xmlns="urn:hl7-org:v3">&a;</ClinicalDocument>',
            UnsupportedContent,
        ),
        ("image/png", PDF, UnsupportedContent),
        ("text/plain", b"\xff\xfe\x00bad", UnsupportedContent),
        ("application/zip", b"PK\x03\x04", InvalidInput),
        ("application/pdf", b"%PDF-" + b"0" * (3 * 1024 * 1024), TooLarge),
    ],
)
def test_content_checks(ctx, cast, mime, content, error):
    with pytest.raises(error):
        submit_documents(
            ctx,
            cast.bruno,
            cast.alice_dmp,
            [
                Submission(
                    metadata(),
                    [
                        ContentInput(
                            mime, [content[i : i + 65536] for i in range(0, len(content), 65536)]
                        )
                    ],
                )
            ],
        )
    assert _ids(ctx, cast.bruno, cast.alice_dmp) == set()
    refusals = [
        e
        for e in read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries
        if e.action == "document.add" and not e.allowed
    ]
    assert len(refusals) == (0 if error is InvalidInput else 1)  # bad metadata never got that far


def test_bundle_is_all_or_nothing(ctx, cast):
    good = pdf_submission()
    bad = Submission(metadata(), [ContentInput("application/pdf", [CDA])])
    with pytest.raises(UnsupportedContent):
        submit_documents(ctx, cast.bruno, cast.alice_dmp, [good, bad])
    assert _ids(ctx, cast.bruno, cast.alice_dmp) == set()
    with pytest.raises(Conflict):
        submit_documents(
            ctx,
            cast.bruno,
            cast.alice_dmp,
            [
                good,
                Submission(
                    metadata(master_identifier=good.metadata.master_identifier), good.contents
                ),
            ],
        )


def test_partial_destruction(ctx, cast, clock):
    keep, drop = _add(ctx, cast.bruno, cast.alice_dmp), _add(ctx, cast.bruno, cast.alice_dmp)
    alice = PatientActor(cast.alice.account_id, cast.alice_dmp, step_up_at=clock())
    with pytest.raises(Forbidden):
        destroy_documents(ctx, cast.alice, cast.alice_dmp, [drop.id])  # no fresh code
    assert destroy_documents(ctx, alice, cast.alice_dmp, [drop.id]) == 1
    assert _ids(ctx, cast.bruno, cast.alice_dmp) == {keep.id}
    with pytest.raises(NotFound):
        open_content(ctx, Reading(cast.bruno), cast.alice_dmp, drop.id)
    actions = [e.action for e in read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries]
    assert "document.destroy" in actions
    marc = RepresentativeActor(cast.marc.account_id, cast.lea_dmp, step_up_at=clock())
    secret = _add(ctx, cast.bruno, cast.lea_dmp, invisible_representatives=True)
    with pytest.raises(NotFound):  # what a representative cannot see, they cannot destroy
        destroy_documents(ctx, marc, cast.lea_dmp, [secret.id])
    clock.advance(minutes=11)
    with pytest.raises(Forbidden):
        destroy_documents(ctx, alice, cast.alice_dmp, [keep.id])  # the code is no longer fresh
    assert timedelta(minutes=11) > timedelta(seconds=ctx.settings.step_up_max_age_seconds)


def test_a_document_with_several_contents(ctx, cast):
    [doc] = submit_documents(
        ctx,
        cast.bruno,
        cast.alice_dmp,
        [
            Submission(
                metadata(type_code="11490-0", format_code="urn:ihe:iti:xds-sd:pdf:2008"),
                [ContentInput("application/pdf", [PDF]), ContentInput("text/xml", [CDA])],
            )
        ],
    )
    assert [(c.position, c.mime_type, c.size) for c in doc.contents] == [
        (0, "application/pdf", len(PDF)),
        (1, "text/xml", len(CDA)),
    ]
    for position, expected in ((0, PDF), (1, CDA)):
        content, stream = open_content(ctx, Reading(cast.chloe), cast.alice_dmp, doc.id, position)
        assert b"".join(stream) == expected
        assert content.sha256 == hashlib.sha256(expected).hexdigest()
    with pytest.raises(NotFound):
        open_content(ctx, Reading(cast.chloe), cast.alice_dmp, doc.id, 2)


def test_documents_are_read_with_their_contents_in_one_statement(ctx, cast):
    """A search, a read and a retrieval read a document's contents with it, in position order:
    no statement of their own."""
    two = Submission(
        metadata(type_code="11490-0", format_code="urn:ihe:iti:xds-sd:pdf:2008"),
        [ContentInput("application/pdf", [PDF]), ContentInput("text/xml", [CDA])],
    )
    [several, single] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [two, pdf_submission()])
    expected = {
        several.id: [(0, "application/pdf", len(PDF)), (1, "text/xml", len(CDA))],
        single.id: [(0, "application/pdf", len(PDF))],
    }
    reading = Reading(cast.chloe)
    with statements(ctx) as seen:
        found = find_documents(ctx, reading, cast.alice_dmp, ALL)
        read = get_document(ctx, reading, cast.alice_dmp, several.id)
        content, stream = open_content(ctx, reading, cast.alice_dmp, several.id, 1)
        assert b"".join(stream) == CDA
    assert seen  # the capture works
    assert [s for s in seen if s.startswith("SELECT document_contents.")] == []
    listed = {d.id: [(c.position, c.mime_type, c.size) for c in d.contents] for d in found}
    assert {i: listed[i] for i in expected} == expected
    assert [(c.position, c.mime_type, c.size) for c in read.contents] == expected[several.id]
    assert (content.position, content.sha256) == (1, hashlib.sha256(CDA).hexdigest())


def test_search_by_ins_in_one_transaction(ctx, cast):
    doc = _add(ctx, cast.bruno, cast.alice_dmp)
    by_ins = find_documents(ctx, Reading(cast.chloe), ALICE_INS)
    assert [d.id for d in by_ins] == [doc.id]
    unknown = ins("1700175123457")
    with pytest.raises(NotFound):
        find_documents(ctx, Reading(cast.chloe), unknown)
    with pytest.raises(NotFound):
        find_documents(ctx, Reading(cast.damien), ALICE_INS)  # same answer as no DMP at all
    with ctx.engine.connect() as conn:
        refused = (
            conn.execute(
                select(audit_entries).where(audit_entries.c.target_id == ctx.blind_index(unknown))
            )
            .mappings()
            .one()
        )
    assert (refused["dmp_id"], refused["outcome"], refused["reason"]) == (
        SYSTEM_CHAIN,
        "denied",
        "no-record",
    )
    assert refused["target_kind"] == "ins-index"  # the INS by its blind index, never in clear


def _chain(ctx, dmp_id):
    with ctx.engine.connect() as conn:
        stmt = select(audit_entries).where(audit_entries.c.dmp_id == dmp_id)
        return list(conn.execute(stmt.order_by(audit_entries.c.seq)).mappings())


def test_a_submission_by_ins_goes_to_that_patients_dmp_with_one_audit_entry(ctx, cast):
    before = len(_chain(ctx, cast.alice_dmp))
    [doc] = submit_documents(ctx, cast.bruno, ALICE_INS, [pdf_submission()])
    added = _chain(ctx, cast.alice_dmp)[before:]
    assert [(e["action"], e["outcome"], e["target_id"]) for e in added] == [
        ("document.add", "allowed", str(doc.id))
    ]
    assert doc.dmp_id == cast.alice_dmp
    assert doc.id in _ids(ctx, cast.alice, cast.alice_dmp)


def test_a_submission_for_an_ins_without_dmp_writes_nothing_but_its_refusal(ctx, cast, settings):
    stranger = ins("1700175123457")
    system_before = len(_chain(ctx, SYSTEM_CHAIN))
    with pytest.raises(NotFound):
        submit_documents(ctx, cast.bruno, stranger, [pdf_submission()])
    [refusal] = _chain(ctx, SYSTEM_CHAIN)[system_before:]
    assert (refusal["action"], refusal["outcome"], refusal["reason"]) == (
        "document.add",
        "denied",
        "no-record",
    )
    assert (refusal["target_kind"], refusal["target_id"]) == (
        "ins-index",
        ctx.blind_index(stranger),
    )
    assert not [p for p in settings.blob_dir.rglob("*") if p.is_file()]


def test_a_document_names_its_author_as_the_token_had_them_without_reading_the_directory(ctx, cast):
    """The author and the MHD context come from the actor authentication built (one statement
    that reads the token's professional and establishment): storing the document reads neither
    again."""
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    hugo = cast.professionals["hugo"]
    actor = authenticate(ctx, issue_token(ctx, hugo.rpps, finess=cast.chu.finess).token)
    with statements(ctx) as seen:
        [doc] = submit_documents(ctx, actor, ALICE_INS, [pdf_submission()])
    directory = [s for s in seen if re.search(r"\bFROM (professionals|establishments)\b", s)]
    assert seen  # the capture works
    assert directory == []
    assert (doc.author.given_name, doc.author.family_name) == (hugo.given_name, hugo.family_name)
    assert doc.author.establishment_name == cast.chu.name
    assert (doc.author.rpps, doc.author.finess) == (hugo.rpps, cast.chu.finess)
    hospital = ctx.valuesets.document_contexts[cast.chu.kind]
    assert (doc.metadata.facility_type, doc.metadata.practice_setting) == tuple(hospital)
    # As stored, and as read back by someone else.
    [found] = [
        d for d in find_documents(ctx, Reading(cast.chloe), cast.alice_dmp, ALL) if d.id == doc.id
    ]
    assert found.author == doc.author
    assert found.metadata.facility_type == doc.metadata.facility_type
