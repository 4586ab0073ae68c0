"""``dmp backup`` and ``dmp restore`` on both backends: every document reads back hash-identical
after a restore into fresh locations and into the same place; what was destroyed after the
backup stays destroyed (rows, tombstones, files); the audit trail verifies against the witness,
which says what the restore lost; a backup taken while documents are being written restores
whole; an altered backup, or one that is not an earlier state of this install, is refused."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import create_engine, func, select, text

from dmp.adapters.db.tables import audit_entries, document_contents, documents, records, tombstones
from dmp.bootstrap import build
from dmp.domain.model import ContactChannels, PatientActor, PatientIdentity, RecordState
from dmp.errors import IntegrityError, InvalidInput, NotFound
from dmp.services.backup import restore_backup, take_backup
from dmp.services.documents import Reading, find_documents, open_content
from dmp.services.jobs import sweep_orphans
from dmp.services.operations import verify_audit
from dmp.services.records import create_record, destroy_record, lookup
from dmp.services.submission import destroy_documents, submit_documents
from dmp.services.witness import checkpoint, record_restore
from tests.conftest import PG_ADMIN_URL
from tests.factories import pdf_submission
from tests.personas import consent, ins, populate

JEAN_INS = ins("1700175123457")
KEVIN_INS = ins("1900375123458")

pytestmark = pytest.mark.slow


@pytest.fixture
def elsewhere(tmp_path: Path, settings, database_url):
    """Settings for a restore into fresh places: a new empty database (on PostgreSQL, a new
    database) and a new content folder; the same key store, witness and keys."""
    if database_url.startswith("sqlite"):
        url, drop = f"sqlite:///{tmp_path / 'restored.sqlite3'}", None
    else:
        name = f"dmp_restored_{tmp_path.name[-20:].replace('-', '_').lower()}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url, drop = database_url.rsplit("/", 1)[0] + f"/{name}", (admin, name)
    yield settings.with_(
        database_url=url, blob_dir=tmp_path / "restored-blobs", witness_dir=settings.witness_path
    )
    if drop is not None:
        admin, name = drop
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def other(elsewhere, clock):
    """The context of the fresh places."""
    context = build(elsewhere, clock=clock)
    yield context
    context.engine.dispose()


def _patient(ctx, cast, ins_value=JEAN_INS, name=("Moulin", "Jean")):
    identity = PatientIdentity(*name, date(1970, 1, 1), "male")
    contacts = ContactChannels(phone="06 12 34 56 78")
    return create_record(
        ctx, cast.bruno, ins=ins_value, identity=identity, contacts=contacts, consent=consent(ctx)
    )


def _content(number: int) -> bytes:
    return b"%PDF-1.4\n" + f"document n. {number} ".encode() * 50 + b"\n%%EOF\n"


def _submit(ctx, cast, dmp_id, number: int) -> UUID:
    [doc] = submit_documents(ctx, cast.bruno, dmp_id, [pdf_submission(_content(number))])
    return doc.id


def _digests(ctx, cast, dmp_id) -> dict[UUID, str]:
    """Every document of a DMP, read back through the services: the SHA-256 of its content."""
    found = {}
    for doc in find_documents(ctx, Reading(cast.bruno), dmp_id):
        _, chunks = open_content(ctx, Reading(cast.bruno), dmp_id, doc.id)
        found[doc.id] = hashlib.sha256(b"".join(chunks)).hexdigest()
    return found


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _files(blob_dir: Path) -> set[str]:
    return {
        str(p.relative_to(blob_dir / "objects"))
        for p in (blob_dir / "objects").rglob("*")
        if p.is_file()
    }


def test_round_trip_into_fresh_places_and_into_the_same_place(
    ctx, cast_and_docs, other, tmp_path, clock, figures
):
    cast, before = cast_and_docs
    taken = take_backup(ctx, tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["census"]["documents"] == sum(len(d) for d in before.values())
    assert manifest["blobs"]["files"] == taken.blobs == len(_files(ctx.settings.blob_dir))
    assert not list((tmp_path / "backup").rglob("keys*"))  # never the key store
    later = _submit(ctx, cast, cast.alice_dmp, 99)  # written after the backup: lost by a restore
    _digests(ctx, cast, cast.alice_dmp)  # reads after the backup: audit entries lost too
    checkpoint(ctx)

    restored = restore_backup(other, tmp_path / "backup")
    after = {dmp: _digests(other, cast, dmp) for dmp in before}
    identical = sum(after[d][i] == h for d in before for i, h in before[d].items() if i in after[d])
    figures(
        f"fresh place: {sum(len(d) for d in before.values())} document(s) backed up, "
        f"{restored.blobs} file(s) restored, {identical} hash-identical"
    )
    assert after == before
    assert later not in after[cast.alice_dmp]
    verification = verify_audit(other)
    assert verification.ok, verification.breaks
    [restoration] = verification.restorations
    assert restoration.chains_behind >= 1
    assert restoration.entries_lost >= 2
    figures(f"verify: {restoration}")

    restored = restore_backup(ctx, tmp_path / "backup")  # the same place, over the live data
    assert {dmp: _digests(ctx, cast, dmp) for dmp in before} == before
    with pytest.raises(NotFound):
        open_content(ctx, Reading(cast.bruno), cast.alice_dmp, later)
    verification = verify_audit(ctx)
    assert verification.ok, verification.breaks
    assert len(verification.restorations) == 2
    figures(f"same place: {restored.blobs} file(s) restored")
    figures(f"verify: {verification.restorations[-1]}")
    # The content and key of the document written after the backup are orphans now: swept.
    [orphan] = list((ctx.settings.blob_dir / "objects").rglob(f"{later}-0"))
    clock.advance(hours=2)
    past = (clock() - timedelta(hours=2)).timestamp()
    os.utime(orphan, (past, past))
    assert sweep_orphans(ctx) >= 2
    assert not orphan.exists()
    assert not ctx.keys.store.has(later)


@pytest.fixture
def cast_and_docs(ctx):
    cast = populate(ctx)
    jean = _patient(ctx, cast)
    for number in range(3):
        _submit(ctx, cast, cast.alice_dmp, number)
    for number in range(3, 5):
        _submit(ctx, cast, jean.dmp_id, number)
    cast.jean_dmp = jean.dmp_id  # type: ignore[attr-defined]
    cast.jean_account = jean.patient.account_id  # type: ignore[attr-defined]
    checkpoint(ctx)
    before = {cast.alice_dmp: _digests(ctx, cast, cast.alice_dmp)}
    before[jean.dmp_id] = _digests(ctx, cast, jean.dmp_id)
    checkpoint(ctx)
    return cast, before


@pytest.mark.parametrize("place", ["fresh", "same"])
def test_what_was_destroyed_after_the_backup_stays_destroyed(
    ctx, cast_and_docs, clock, tmp_path, place, request, figures
):
    cast, before = cast_and_docs
    take_backup(ctx, tmp_path / "backup")
    jean = cast.jean_dmp
    doomed = sorted(before[cast.alice_dmp])[0]
    with ctx.engine.connect() as conn:
        doomed_blob = conn.execute(
            select(document_contents.c.blob_key).where(document_contents.c.document_id == doomed)
        ).scalar_one()
    fresh = PatientActor(cast.alice.account_id, cast.alice_dmp, clock())
    destroy_documents(ctx, fresh, cast.alice_dmp, [doomed])
    clock.advance(minutes=1)
    destroyed_at = clock()
    destroy_record(ctx, PatientActor(cast.jean_account, jean, clock()), jean)
    # Kevin's DMP is created after the backup, and destroyed: only its tombstone must come back.
    kevin = _patient(ctx, cast, KEVIN_INS, ("Roux", "Kevin"))
    _submit(ctx, cast, kevin.dmp_id, 7)
    destroy_record(ctx, PatientActor(kevin.patient.account_id, kevin.dmp_id, clock()), kevin.dmp_id)
    checkpoint(ctx)

    target = ctx if place == "same" else request.getfixturevalue("other")
    restored = restore_backup(target, tmp_path / "backup")
    engine, blob_dir = target.engine, target.settings.blob_dir
    figures(
        f"{place}: {restored.blobs} file(s) restored, {restored.blobs_skipped} skipped, "
        f"{restored.records_destroyed} DMP and {restored.documents_destroyed} document(s) "
        f"destroyed again, {restored.files_removed} file(s) removed"
    )
    # Nothing of Jean's DMP came back: no row, no audit chain, no file; its tombstone is there.
    for table in (records, documents, document_contents, audit_entries):
        assert _count(engine, table, table.c.dmp_id == jean) == 0, table.name
    assert not any(
        name.startswith(f"{str(jean)[:2]}/{str(jean)[2:4]}/{jean}") for name in _files(blob_dir)
    )
    with engine.connect() as conn:
        tomb = conn.execute(select(tombstones).where(tombstones.c.dmp_id == jean)).one()
    assert tomb.requested_by == "patient"
    assert tomb.destroyed_at.replace(tzinfo=None) == destroyed_at.replace(tzinfo=None)
    assert lookup(target, cast.bruno, JEAN_INS).state is RecordState.DESTROYED
    assert lookup(target, cast.bruno, KEVIN_INS).state is RecordState.DESTROYED
    assert _count(engine, records, records.c.dmp_id == kevin.dmp_id) == 0
    assert _count(engine, tombstones, tombstones.c.dmp_id == kevin.dmp_id) == 1
    # Nor did Alice's destroyed document: no row, no file; her other documents read back.
    assert _count(engine, documents, documents.c.id == doomed) == 0
    assert _count(engine, document_contents, document_contents.c.document_id == doomed) == 0
    dmp_dir, _name = doomed_blob.split("/")
    assert f"{dmp_dir[:2]}/{dmp_dir[2:4]}/{doomed_blob}" not in _files(blob_dir)
    assert restored.documents_destroyed == 1
    assert restored.records_destroyed == 1
    assert restored.tombstones_added == 2  # Jean's, with his DMP destroyed again; Kevin's
    expected = {i: h for i, h in before[cast.alice_dmp].items() if i != doomed}
    assert _digests(target, cast, cast.alice_dmp) == expected
    verification = verify_audit(target)
    assert verification.ok, verification.breaks


def test_a_backup_taken_while_documents_are_written_restores_whole(ctx, other, tmp_path, figures):
    cast = populate(ctx)
    stop, written = threading.Event(), []

    def writer() -> None:
        number = 0
        while not stop.is_set() and number < 60:
            written.append(_submit(ctx, cast, cast.alice_dmp, number))
            number += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:
            stop.wait(0.01)
        take_backup(ctx, tmp_path / "backup")
    finally:
        stop.set()
        thread.join()
    restore_backup(other, tmp_path / "backup")
    restored = _digests(other, cast, cast.alice_dmp)  # every content the snapshot refers to
    figures(
        f"online: {len(written)} document(s) written during the run, {len(restored)} in "
        "the backup, every one readable"
    )
    assert 5 <= len(restored) <= len(written)
    assert set(restored) <= set(written)
    with other.engine.connect() as conn:
        sums = {
            row.document_id: row.sha256
            for row in conn.execute(
                select(document_contents.c.document_id, document_contents.c.sha256)
            )
        }
    assert {i: sums[i] for i in restored} == restored  # the stored hash of the plaintext


def test_an_altered_backup_is_refused_before_anything_is_touched(ctx, cast_and_docs, tmp_path):
    cast, _before = cast_and_docs
    take_backup(ctx, tmp_path / "backup")
    later = _submit(ctx, cast, cast.alice_dmp, 42)
    backup = tmp_path / "backup"
    database = backup / json.loads((backup / "manifest.json").read_text())["database"]["file"]
    victims = [sorted(p for p in (backup / "blobs").rglob("*") if p.is_file())[0], database]
    for victim in victims:
        original = victim.read_bytes()
        altered = bytearray(original)
        altered[len(altered) // 2] ^= 1
        victim.write_bytes(bytes(altered))
        with pytest.raises(IntegrityError, match="altérée"):
            restore_backup(ctx, backup)
        victim.write_bytes(original)
        # Nothing was replaced: the document written after the backup is still there.
        assert later in _digests(ctx, cast, cast.alice_dmp)
    assert json.loads(ctx.witness.path.read_text().splitlines()[-1]).get("restore") is None


def _restore_line(ctx) -> int:
    lines = ctx.witness.path.read_bytes().splitlines()
    return next(i for i, line in enumerate(lines) if b'"restore"' in line)


def test_attack_a_restore_line_cannot_be_edited_nor_forged(ctx, cast_and_docs, tmp_path):
    """The restore lines are what lets verify accept a shorter trail: editing one (to hide a
    rollback behind it), or writing one without the audit key, is a break."""
    cast, _before = cast_and_docs
    take_backup(ctx, tmp_path / "backup")
    _submit(ctx, cast, cast.alice_dmp, 8)
    checkpoint(ctx)
    restore_backup(ctx, tmp_path / "backup")
    assert verify_audit(ctx).ok
    path = ctx.witness.path
    original = path.read_bytes()
    lines = original.splitlines()
    index = _restore_line(ctx)
    edited = json.loads(lines[index])
    edited["restore"]["backup_at"] = "2020-01-01T00:00:00.000000+00:00"
    path.write_bytes(
        b"\n".join([*lines[:index], json.dumps(edited).encode(), *lines[index + 1 :]]) + b"\n"
    )
    breaks = [str(b) for b in verify_audit(ctx).breaks]
    assert any(f"ligne {index + 1}" in b for b in breaks), breaks
    # Forged: a restore line whose heads say the chains were always this short, signed with
    # another key, appended as if a restore had happened.
    path.write_bytes(original)
    _submit(ctx, cast, cast.alice_dmp, 9)
    checkpoint(ctx)
    forger = ctx.signer.__class__(ctx.signer.generate())
    forged_ctx = dataclasses.replace(ctx, signer=forger)
    record_restore(forged_ctx, ctx.now(), "0" * 64)
    breaks = [str(b) for b in verify_audit(ctx).breaks]
    assert any("signature invalide" in b for b in breaks), breaks


def test_attack_a_backup_from_an_abandoned_history_is_refused(ctx, cast_and_docs, tmp_path):
    """Backup B2 holds entries that a restore of an older backup B1 replaced, under the same
    numbers, by others that the witness then saw: B2 is no earlier state of the trail as it
    now stands, and its restore stops before the witness is written or anything destroyed."""
    cast, _before = cast_and_docs
    take_backup(ctx, tmp_path / "b1")
    _submit(ctx, cast, cast.alice_dmp, 10)
    take_backup(ctx, tmp_path / "b2")
    restore_backup(ctx, tmp_path / "b1")
    _submit(ctx, cast, cast.alice_dmp, 11)  # the same numbers of Alice's chain, other entries
    checkpoint(ctx)
    witness = ctx.witness.path.read_bytes()
    with pytest.raises(IntegrityError, match="ne concorde pas avec le témoin"):
        restore_backup(ctx, tmp_path / "b2")
    assert ctx.witness.path.read_bytes() == witness


def test_attack_a_manifest_naming_another_file_is_refused(ctx, cast_and_docs, tmp_path):
    """The database copy a restore loads is the backup's own file, never one a forged
    manifest points to elsewhere."""
    take_backup(ctx, tmp_path / "backup")
    path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(path.read_text())
    for name in ("../../etc/passwd", str(ctx.settings.blob_dir), None):
        manifest["database"]["file"] = name
        path.write_text(json.dumps(manifest))
        with pytest.raises(InvalidInput, match="Manifeste de sauvegarde incomplet"):
            restore_backup(ctx, tmp_path / "backup")
    del manifest["database"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(InvalidInput):
        restore_backup(ctx, tmp_path / "backup")
