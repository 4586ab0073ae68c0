"""A process killed between writing a content and committing its row, or half-way through the
content's write, leaves an orphan that the scheduled jobs remove; nothing half-written is ever
visible."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.model import ContactChannels, PatientIdentity, RecordState
from dmp.errors import CommitInDoubt
from dmp.services.documents import Reading, find_documents, open_content
from dmp.services.jobs import sweep_orphans
from dmp.services.records import create_record, lookup
from dmp.services.submission import submit_documents
from tests.factories import PDF, pdf_submission
from tests.personas import consent, ins, populate

ROOT = Path(__file__).resolve().parents[2]
JEAN = PatientIdentity("Moulin", "Jean", date(1970, 1, 1), "male")
JEAN_INS = ins("1700175123457")


def _content_files(ctx) -> list[Path]:
    return [p for p in (ctx.settings.blob_dir / "objects").rglob("*") if p.is_file()]


def _temporary_files(ctx) -> list[Path]:
    return list((ctx.settings.blob_dir / "tmp").iterdir())


def _killed_submission(ctx, cast, moment: str) -> None:
    """A submission by Bruno to Alice's DMP, in a process that dies at ``moment``."""
    s = ctx.settings
    env = {
        **os.environ,
        "DMP_DATA_DIR": str(s.data_dir),
        "DMP_DATABASE_URL": s.database_url,
        "DMP_KEYSTORE_URL": s.keystore_url,
        "DMP_BLOB_DIR": str(s.blob_dir),
        "DMP_MASTER_KEYS": s.master_keys,
        "DMP_AUDIT_SIGNING_KEY": s.audit_signing_key,
        "DMP_NOTIFICATIONS": "off",
        "PYTHONPATH": str(ROOT),
    }
    died = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.crash_submit",
            cast.bruno.rpps,
            str(cast.alice_dmp),
            moment,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == 17, died.stderr.decode()


def test_killed_submission_leaves_nothing_once_swept(ctx, clock):
    cast = populate(ctx)
    keys_before = set(ctx.keys.store.iter_ids())
    _killed_submission(ctx, cast, "commit")
    assert find_documents(ctx, Reading(cast.bruno), cast.alice_dmp) == []  # no half document
    assert len(_content_files(ctx)) == 1  # the orphan content…
    assert len(set(ctx.keys.store.iter_ids()) - keys_before) == 1  # …and its key
    clock.now = datetime.now(UTC)
    assert sweep_orphans(ctx) == 0  # still within the grace period: it may be an upload
    clock.now = datetime.now(UTC) + timedelta(hours=2)
    assert sweep_orphans(ctx) == 2
    assert _content_files(ctx) == []
    assert set(ctx.keys.store.iter_ids()) == keys_before


def test_submission_killed_mid_write_leaves_nothing_once_swept(ctx, clock):
    cast = populate(ctx)
    keys_before = set(ctx.keys.store.iter_ids())
    _killed_submission(ctx, cast, "write")
    assert find_documents(ctx, Reading(cast.bruno), cast.alice_dmp) == []
    assert _content_files(ctx) == []  # never a partial content in place…
    assert len(_temporary_files(ctx)) == 1  # …but the temporary file it was written to
    assert len(set(ctx.keys.store.iter_ids()) - keys_before) == 1
    clock.now = datetime.now(UTC)
    assert sweep_orphans(ctx) == 0  # within the grace period: it may be an upload in progress
    clock.now = datetime.now(UTC) + timedelta(hours=2)
    assert sweep_orphans(ctx) == 2
    assert _temporary_files(ctx) == []
    assert set(ctx.keys.store.iter_ids()) == keys_before


def test_a_commit_left_unconfirmed_keeps_the_content_it_may_have_stored(ctx, monkeypatch):
    """The database applied the commit, and the connection broke before it said so: the
    submission answers 503, and the document, which is stored, keeps its content and key."""
    cast = populate(ctx)
    applied = UnitOfWork.commit

    def applied_then_lost(uow: UnitOfWork) -> None:
        applied(uow)
        raise CommitInDoubt()

    monkeypatch.setattr(UnitOfWork, "commit", applied_then_lost)
    with pytest.raises(CommitInDoubt):
        submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    monkeypatch.setattr(UnitOfWork, "commit", applied)
    [stored] = find_documents(ctx, Reading(cast.bruno), cast.alice_dmp)
    _, chunks = open_content(ctx, Reading(cast.bruno), cast.alice_dmp, stored.id)
    assert b"".join(chunks) == PDF


def test_a_creation_left_unconfirmed_keeps_the_keys_of_the_dmp_it_may_have_created(
    ctx, monkeypatch
):
    cast = populate(ctx)
    applied = UnitOfWork.commit

    def applied_then_lost(uow: UnitOfWork) -> None:
        applied(uow)
        raise CommitInDoubt()

    monkeypatch.setattr(UnitOfWork, "commit", applied_then_lost)
    with pytest.raises(CommitInDoubt):
        create_record(
            ctx,
            cast.damien,
            ins=JEAN_INS,
            identity=JEAN,
            contacts=ContactChannels(phone="06 12 34 56 78"),
            consent=consent(ctx),
        )
    monkeypatch.setattr(UnitOfWork, "commit", applied)
    found = lookup(ctx, cast.damien, JEAN_INS)  # the DMP was created, and opens: its key is there
    assert (found.state, found.identity) == (RecordState.ACTIVE, JEAN)
