"""Encryption at rest, tampering, crypto-shredding against old backups, crash safety."""

from __future__ import annotations

from datetime import date

import pytest

from dmp.adapters.keystore import KeyDestroyed
from dmp.domain.model import (
    AccessMode,
    ContactChannels,
    ContentInput,
    PatientActor,
    PatientIdentity,
)
from dmp.errors import Forbidden, IntegrityError, NotFound
from dmp.services import records
from dmp.services.documents import Reading, find_documents, open_content
from dmp.services.records import destroy_record
from dmp.services.submission import Submission, submit_documents
from tests.factories import metadata, pdf_submission
from tests.integration.helpers import (
    all_rows,
    files_bytes,
    found_in_columns,
    restore_files,
    restore_rows,
    snapshot_files,
    sqlite_bytes,
)
from tests.personas import ALICE_INS, LEA_INS, Cast, consent, ins, populate

CANARY = "CANARI-7f3a9c-séropositivité"


def _sqlite_files(ctx) -> bytes:
    url = ctx.settings.database_url
    if not url.startswith("sqlite"):
        return b""
    path = url.removeprefix("sqlite:///")
    data = b""
    for suffix in ("", "-wal", "-shm"):
        try:
            with open(path + suffix, "rb") as handle:
                data += handle.read()
        except FileNotFoundError:
            pass
    return data


def test_canary_never_stored_in_clear(ctx):
    cast = populate(ctx)
    text = f"Compte rendu {CANARY}".encode()
    body = b"%PDF-1.4\n" + text * 50 + b"\n%%EOF\n"
    submit_documents(
        ctx,
        cast.bruno,
        cast.alice_dmp,
        [
            Submission(
                metadata(title=f"Résultat {CANARY}", comments=f"Note {CANARY}"),
                [ContentInput("application/pdf", [body])],
            )
        ],
    )
    records.create_record(
        ctx,
        cast.bruno,
        ins=ins("1700175123457"),
        identity=PatientIdentity(CANARY, "Jean", date(1970, 1, 1), "male"),
        contacts=ContactChannels(email="jean@example.org"),
        consent=consent(ctx),
    )
    find_documents(ctx, Reading(cast.samuel, AccessMode.SAMU, f"urgence {CANARY}"), cast.alice_dmp)
    needle = CANARY.encode()
    rows = all_rows(ctx.engine)
    assert needle not in repr(rows).encode()
    assert needle not in _sqlite_files(ctx)
    assert needle not in files_bytes(ctx.settings.blob_dir)
    # and the stored document does decrypt back to the canary: the test can fail
    [doc] = [
        d
        for d in find_documents(ctx, Reading(cast.bruno), cast.alice_dmp)
        if CANARY in d.metadata.title
    ]
    assert CANARY in doc.metadata.comments
    _, stream = open_content(ctx, Reading(cast.bruno), cast.alice_dmp, doc.id)
    assert needle in b"".join(stream)


JEAN_INS, STRANGER_INS = ins("1700175123457"), ins("1991299123456")


def _seed_identifiers(ctx, clock) -> tuple[Cast, list[str]]:
    """The personas, a DMP destroyed (its tombstone left, its last message queued), refused
    look-ups of an INS that has no DMP; returns the patients' INS, names, e-mails and phones."""
    cast = populate(ctx)
    jean = records.create_record(
        ctx,
        cast.bruno,
        ins=JEAN_INS,
        identity=PatientIdentity("Moulinier", "Jean", date(1970, 1, 1), "male"),
        contacts=ContactChannels(email="jean.moulinier@example.org", phone="06 98 76 54 32"),
        consent=consent(ctx),
    )
    destroy_record(ctx, PatientActor(jean.patient.account_id, jean.dmp_id, clock()), jean.dmp_id)
    assert records.lookup(ctx, cast.damien, JEAN_INS).destroyed_at == clock()
    assert not records.lookup(ctx, cast.damien, STRANGER_INS).exists
    with pytest.raises(Forbidden):
        records.lookup(ctx, cast.elise, STRANGER_INS)
    with pytest.raises(NotFound):
        find_documents(ctx, Reading(cast.bruno), STRANGER_INS)
    # what the needles stand for is stored, and opens: the search below can fail
    assert records.lookup(ctx, cast.bruno, ALICE_INS).identity.family_name == "Dupont"
    return cast, [
        *(i.value for i in (ALICE_INS, LEA_INS, JEAN_INS, STRANGER_INS)),
        *("Dupont", "Lefèvre", "Moulinier"),
        *("alice@example.org", "lea@example.org", "marc@example.org", "jean.moulinier@"),
        *("+33612345678", "+33698765432", "0612345678", "0698765432"),
    ]


def test_no_health_identifier_name_or_address_in_clear_in_the_data_database(ctx, clock):
    """SPEC §7: a copy of the data database alone (file and log, or every column of every
    table) reveals no INS, no patient's name, no e-mail address, no phone number."""
    cast, needles = _seed_identifiers(ctx, clock)
    engine = ctx.engine
    assert found_in_columns(engine, needles) == []
    # the search finds what is stored in clear: a login, an establishment's name
    assert {
        ("accounts", "login", cast.alice_login),
        ("establishments", "name", "CHU de Nantes"),
    } <= set(found_in_columns(engine, [cast.alice_login, "CHU de Nantes"]))
    if engine.dialect.name != "sqlite":
        return
    url = ctx.settings.database_url
    assert [n for n in needles if n.encode() in sqlite_bytes(url)] == []
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "PRAGMA wal_checkpoint(TRUNCATE)"
        )
    assert b"CHU de Nantes" in sqlite_bytes(url)
    assert [n for n in needles if n.encode() in sqlite_bytes(url)] == []


def test_tampered_content_is_refused(ctx):
    cast = populate(ctx)
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    objects = ctx.settings.blob_dir / "objects"
    [path] = [p for p in objects.rglob("*") if p.is_file()]
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01
    path.write_bytes(bytes(data))
    _, stream = open_content(ctx, Reading(cast.bruno), cast.alice_dmp, doc.id)
    with pytest.raises(IntegrityError):
        b"".join(stream)


def test_tampered_metadata_is_refused(ctx):
    cast = populate(ctx)
    submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    from sqlalchemy import update

    from dmp.adapters.db.tables import documents

    with ctx.engine.begin() as conn:
        row = conn.execute(documents.select()).mappings().first()
        blob = bytearray(row["title_enc"])
        blob[-1] ^= 0x80
        conn.execute(
            update(documents).where(documents.c.id == row["id"]).values(title_enc=bytes(blob))
        )
    with pytest.raises(IntegrityError):
        find_documents(ctx, Reading(cast.bruno), cast.alice_dmp)


def test_destroyed_dmp_stays_unreadable_after_restoring_an_old_backup(ctx, clock):
    cast = populate(ctx)
    submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    backup_rows, backup_files = all_rows(ctx.engine), snapshot_files(ctx.settings.blob_dir)
    assert find_documents(ctx, Reading(cast.bruno), cast.alice_dmp)  # readable before
    alice = PatientActor(cast.alice.account_id, cast.alice_dmp, step_up_at=clock())
    destroy_record(ctx, alice, cast.alice_dmp)
    with pytest.raises(NotFound):
        find_documents(ctx, Reading(cast.bruno), cast.alice_dmp)
    restore_rows(ctx.engine, backup_rows)
    restore_files(backup_files)
    # The rows and ciphertexts are back, and the master key is still configured — but the DMP's
    # keys were shredded in the key store, which backups of the data do not contain.
    with pytest.raises(KeyDestroyed):
        find_documents(ctx, Reading(cast.bruno), cast.alice_dmp)


def test_failed_commit_leaves_no_orphan_and_no_half_document(ctx, monkeypatch):
    cast = populate(ctx)
    blobs_before = files_bytes(ctx.settings.blob_dir)
    keys_before = set(ctx.keys.store.iter_ids())
    from dmp.services import submission

    original = submission._insert

    def crash(*args, **kwargs):
        original(*args, **kwargs)
        raise OSError("disk gone between the content write and the commit")

    monkeypatch.setattr(submission, "_insert", crash)
    with pytest.raises(OSError, match="disk gone"):
        submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    monkeypatch.undo()
    assert find_documents(ctx, Reading(cast.bruno), cast.alice_dmp) == []
    assert files_bytes(ctx.settings.blob_dir) == blobs_before
    assert set(ctx.keys.store.iter_ids()) == keys_before


def test_refused_content_leaves_nothing(ctx):
    cast = populate(ctx)
    before = files_bytes(ctx.settings.blob_dir)
    with pytest.raises(Exception, match="refusé"):
        submit_documents(
            ctx,
            cast.bruno,
            cast.alice_dmp,
            [
                Submission(
                    metadata(), [ContentInput("application/pdf", [b"<ClinicalDocument/>" * 40])]
                )
            ],
        )
    assert files_bytes(ctx.settings.blob_dir) == before
    assert find_documents(ctx, Reading(cast.bruno), cast.alice_dmp) == []
