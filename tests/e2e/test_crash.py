"""Crashes under load (SPEC §7: nothing acknowledged is ever lost; a crash leaves no half
document and no orphan content).

``dmp serve`` with two workers, as in production, receives concurrent ITI-65 uploads of 5 to
50 MiB from three clients. One worker is killed (``kill -9``) while it writes a content to the
blob store; later the whole server (its process group) is killed the instant the client receives
the acknowledgement of a large upload, other uploads in flight. After a restart (on one worker:
it starts faster):

- every upload the client saw acknowledged (201) is there, and its content, read back through
  the API (ITI-67, then ITI-68), is hash-identical to what was sent; whatever else is there is
  whole too (an upload stored but whose answer was cut off by the kill);
- nothing is half-stored: no document without its contents, no content without its blob, no
  document without its key;
- once ``dmp jobs run`` has run past the orphans' grace period, no content file, temporary file
  or key is left that no row refers to;
- ``dmp audit verify`` passes.

Its figures are in the run's « figures » section."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import select, update

from dmp.adapters.db import tables as t
from dmp.adapters.db.repositories import RecordRepository
from dmp.adapters.keystore import INS_INDEX_KEY, data_keys
from dmp.services.context import Context
from dmp.services.directory import issue_token
from dmp.settings import Settings
from tests.conftest import FakeClock
from tests.e2e.fhir import FHIR_JSON, free_port, ins_token
from tests.e2e.serving import MIB, Served, operator_env
from tests.e2e.uploads import Answer, Upload, Uploaders, deposit, half_stored
from tests.personas import ALICE_INS, populate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT n'existe pas sur ce système"
    ),
]
SIZES = (5, 50, 10, 20, 5, 30, 5, 15, 40, 5)  # MiB, cycled: the plan of the uploads
LARGE = 20 * MIB  # the acknowledgement of such an upload kills the server
WAIT = 180  # seconds: a generous bound on each wait, never on what is checked


@pytest.fixture
def clock() -> FakeClock:
    """Now: the server runs on the real clock, and the tokens issued here must be valid there."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    server = Served(operator_env(settings, free_port(), workers=2), tmp_path / "serve.log")
    server.start()
    yield server
    server.stop()


def test_killed_workers_and_server_lose_nothing_acknowledged(ctx, served, settings, figures):
    started = time.monotonic()
    cast = populate(ctx)
    token = issue_token(ctx, cast.bruno.rpps).token
    plan = [Upload(seed, SIZES[seed % len(SIZES)] * MIB) for seed in range(40)]
    expected = {u.master: u for u in plan}
    temp = settings.blob_dir / "tmp"

    armed, killed = threading.Event(), threading.Event()

    def send(client: httpx.Client, upload: Upload) -> Answer:
        answer = deposit(client, token, ALICE_INS, upload)
        if armed.is_set() and answer.acknowledged and upload.size >= LARGE:
            # The whole server, killed the instant a large upload is acknowledged (what the
            # service had still to write after answering would be lost), the other uploads in
            # flight.
            uploads.stop()  # no upload starts any more
            if not killed.is_set():
                killed.set()
                served.kill_all()
        return answer

    with Uploaders(served.base, 3, plan, send) as uploads:
        # A worker killed while it writes a content; the supervisor starts another.
        served.kill_worker(_content_writer(served, temp, uploads, acknowledged=2))
        armed.set()
        assert killed.wait(WAIT), "no large upload was acknowledged after the first kill"
    answers = uploads.answers
    acknowledged = [a for a in answers if a.acknowledged]
    assert all(a.acknowledged or a.status is None for a in answers), [
        (a.status, a.body) for a in answers if not (a.acknowledged or a.status is None)
    ]
    assert acknowledged, "no upload was acknowledged: the test proves nothing"
    assert any(a.status is None for a in answers), "no upload was cut: the test proves nothing"

    served.start(workers=1)  # one process starts faster, and serves the checks as well
    orphans = _orphans(ctx)
    _age_everything(ctx, settings, hours=2)  # as if the jobs ran two hours later
    jobs = served.cli("jobs", "run")
    assert jobs.returncode == 0, jobs.stdout + jobs.stderr

    found = _read_back(served.base, token, expected)
    missing = [a.upload.master for a in acknowledged if a.upload.master not in found]
    assert missing == []  # every acknowledged upload is there…
    for answer in acknowledged:  # …under the id it was acknowledged with
        assert found[answer.upload.master] == _created_id(answer)
    assert half_stored(ctx) == []
    assert _orphans(ctx) == {"files": [], "temporary": [], "keys": []}
    verified = served.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    in_doubt = len(found) - len(acknowledged)
    figures(
        f"[crash {ctx.engine.dialect.name}] uploads attempted {len(answers)}, acknowledged "
        f"{len(acknowledged)}, cut by a kill {sum(a.status is None for a in answers)}; found "
        f"hash-identical {len(found)} (stored but unacknowledged {in_doubt}); orphans after "
        f"the kills: {len(orphans['files'])} content file(s), {len(orphans['temporary'])} "
        f"temporary file(s), {len(orphans['keys'])} key(s), none after dmp jobs run; "
        f"{time.monotonic() - started:.1f} s"
    )


def _content_writer(
    served: Served, temp: Path, uploads: Uploaders, *, acknowledged: int
) -> psutil.Process:
    """The worker writing a content to the blob store (a temporary file of at least 1 MiB
    open), once ``acknowledged`` uploads at least were acknowledged."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert uploads.running, [(a.status, a.error, a.body) for a in uploads.answers][:3]
        if len(uploads.acknowledged()) >= acknowledged:
            for worker in served.worker_processes():
                if _writes_content(worker, temp):
                    return worker
        time.sleep(0.01)
    raise AssertionError("no worker was seen writing a content")


def _writes_content(worker: psutil.Process, temp: Path) -> bool:
    try:
        files = worker.open_files()
    except psutil.NoSuchProcess:
        return False
    for opened in files:
        path = Path(opened.path)
        if path.parent == temp and path.name.endswith(".part"):
            try:
                return path.stat().st_size >= MIB
            except FileNotFoundError:
                return False
    return False


def _created_id(answer: Answer) -> str:
    assert answer.body is not None
    for entry in answer.body["entry"]:
        location = entry["response"].get("location", "")
        if location.startswith("DocumentReference/"):
            return str(location.split("/")[1])
    raise AssertionError(answer.body)


def _read_back(base: str, token: str, expected: dict[str, Upload]) -> dict[str, str]:
    """Every document of Alice's DMP, found (ITI-67) and read (ITI-68) through the API, each
    content held to the SHA-256 of the upload it came from; master identifier → id."""
    headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
    found: dict[str, str] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        search = client.get(
            "/fhir/DocumentReference",
            params={"patient.identifier": ins_token(ALICE_INS), "_count": "100"},
        )
        assert search.status_code == 200, search.text
        bundle = search.json()
        assert bundle["total"] < 100
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            if resource["resourceType"] != "DocumentReference":
                continue
            upload = expected[resource["masterIdentifier"]["value"]]
            [content] = resource["content"]
            assert content["attachment"]["size"] == upload.size
            assert _sha256(client, content["attachment"]["url"]) == upload.sha256()
            found[upload.master] = resource["id"]
    return found


def _sha256(client: httpx.Client, url: str) -> str:
    digest = hashlib.sha256()
    with client.stream("GET", url, headers={"Accept": "application/pdf"}) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            digest.update(chunk)
    return digest.hexdigest()


def _orphans(ctx: Context) -> dict[str, list[str]]:
    """Content files and keys no row refers to, and temporary files of the blob store."""
    root = ctx.settings.blob_dir
    with ctx.engine.connect() as conn:
        referenced = set(conn.execute(select(t.document_contents.c.blob_key)).scalars())
    files = {f"{p.parent.name}/{p.name}" for p in (root / "objects").rglob("*") if p.is_file()}
    keys = [k for k in ctx.keys.store.iter_ids() if k != INS_INDEX_KEY]
    with ctx.engine.connect() as conn:
        owned = RecordRepository(conn).key_owners(keys) if keys else set()
    return {
        "files": sorted(files - referenced),
        "temporary": sorted(p.name for p in (root / "tmp").iterdir()),
        "keys": sorted(str(k) for k in keys if k not in owned),
    }


def _age_everything(ctx: Context, settings: Settings, *, hours: int) -> None:
    """Move the blob store's files and the key store's keys ``hours`` back in time, as if
    ``dmp jobs run`` came that much later (the orphan sweep spares what is younger than its
    grace period: it may be an upload in progress)."""
    shift = timedelta(hours=hours)
    for path in settings.blob_dir.rglob("*"):
        if path.is_file():
            stat = path.stat()
            os.utime(path, (stat.st_atime, stat.st_mtime - shift.total_seconds()))
    with ctx.keys.store.engine.begin() as conn:
        for key, created in conn.execute(select(data_keys.c.dmp_id, data_keys.c.created_at)).all():
            moved = update(data_keys).where(data_keys.c.dmp_id == key)
            conn.execute(moved.values(created_at=created - shift))
