"""The crash tests of ``test_crash.py`` on the S3 content store (a local S3-compatible server): a
process killed between writing a content and committing its row leaves an orphan, and a write
left unfinished leaves an incomplete multipart upload; the scheduled jobs remove both."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dmp.services.documents import Reading, find_documents
from dmp.services.jobs import sweep_orphans
from tests.objectstore import incomplete_uploads, object_names
from tests.personas import populate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(request, settings):
    """The test's settings, with the contents in a bucket of their own."""
    server = request.getfixturevalue("s3_server")
    return settings.with_(blob_s3=server.settings(server.new_bucket(), "dmp/"))


def _content_files(ctx, request) -> list[str]:
    """The contents stored, and the writes left unfinished."""
    s3 = ctx.settings.blob_s3
    server = request.getfixturevalue("s3_server")
    return object_names(server, s3.bucket) + incomplete_uploads(server, s3.bucket)


def _store_env(ctx, request) -> dict[str, str]:
    s3 = ctx.settings.blob_s3
    return request.getfixturevalue("s3_server").env(s3.bucket, s3.prefix)


def test_killed_submission_leaves_nothing_once_swept(ctx, clock, request):
    cast = populate(ctx)
    s = ctx.settings
    env = {
        **os.environ,
        "DMP_DATA_DIR": str(s.data_dir),
        "DMP_DATABASE_URL": s.database_url,
        "DMP_KEYSTORE_URL": s.keystore_url,
        **_store_env(ctx, request),
        "DMP_MASTER_KEYS": s.master_keys,
        "DMP_AUDIT_SIGNING_KEY": s.audit_signing_key,
        "DMP_NOTIFICATIONS": "off",
        "PYTHONPATH": str(ROOT),
    }
    keys_before = set(ctx.keys.store.iter_ids())
    died = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.crash_submit",
            cast.bruno.rpps,
            str(cast.alice_dmp),
            "commit",  # dies between the content's write and the commit
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == 17, died.stderr.decode()
    assert find_documents(ctx, Reading(cast.bruno), cast.alice_dmp) == []  # no half document
    assert len(_content_files(ctx, request)) == 1  # the orphan content…
    assert len(set(ctx.keys.store.iter_ids()) - keys_before) == 1  # …and its key
    clock.now = datetime.now(UTC)
    assert sweep_orphans(ctx) == 0  # still within the grace period: it may be an upload
    clock.now = datetime.now(UTC) + timedelta(hours=2)
    assert sweep_orphans(ctx) == 2
    assert _content_files(ctx, request) == []
    assert set(ctx.keys.store.iter_ids()) == keys_before


def test_the_sweep_aborts_uploads_left_unfinished(ctx, clock, request):
    """A process killed in the middle of ``put`` leaves an S3 multipart upload never completed
    (invisible, but stored and billed): the sweep aborts it after the grace period."""
    s3 = ctx.settings.blob_s3
    name = f"{s3.prefix}{uuid.uuid4()}/{uuid.uuid4()}-0"
    request.getfixturevalue("s3_server").client().create_multipart_upload(
        Bucket=s3.bucket, Key=name
    )
    assert len(_content_files(ctx, request)) == 1
    clock.now = datetime.now(UTC) + timedelta(hours=2)
    assert sweep_orphans(ctx) == 1
    assert _content_files(ctx, request) == []
