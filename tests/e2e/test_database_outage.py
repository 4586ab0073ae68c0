"""The database goes down under load, and comes back (SPEC §7: nothing acknowledged is ever
lost; bad news is a clear answer, never a 500).

A PostgreSQL cluster of the test's own serves ``dmp serve`` (two workers) while clients deposit
small documents (ITI-65) one after the other. The cluster is stopped as a crash would stop it
(``pg_ctl stop -m immediate``), then started again. Meanwhile:

- every answer is an acknowledged deposit or a 503 ``OperationOutcome`` in French, never a 500
  and never a broken connection; searches (ITI-67) answer 503 too, and the patient portal a
  French page with the status 503;
- once the cluster is back the server serves again, without a restart (the same processes);
- every deposit acknowledged, before, during or after the outage, is stored, with its content;
  nothing is half-stored; ``dmp audit verify`` passes.

Its figures are in the run's « figures » section."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db import tables as t
from dmp.bootstrap import build
from dmp.services.audit import AuditSigner
from dmp.services.context import Context
from dmp.services.directory import issue_token
from dmp.settings import DeliverySettings, Settings
from tests.conftest import IN_CI, FakeClock
from tests.e2e import pgcluster
from tests.e2e.fhir import ENGLISH, FHIR_JSON, free_port, ins_token
from tests.e2e.serving import Served, operator_env
from tests.e2e.uploads import Answer, Upload, Uploaders, deposit, half_stored
from tests.personas import ALICE_INS, populate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT n'existe pas sur ce système"
    ),
]
SIZE = 64 * 1024  # small documents: the load is in the number of writes
WAIT = 180  # seconds: a generous bound on each wait, never on what is checked
OUTAGE_ANSWERS = 6  # refused deposits to see while the database is down…
OUTAGE_SECONDS = 3  # …for this long at least


@pytest.fixture
def cluster() -> Iterator[pgcluster.Cluster]:
    problem = pgcluster.missing()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem}: this test is mandatory when CI=true")
        pytest.skip(problem)
    started = pgcluster.Cluster()
    try:
        started.init()
        started.start()
        admin = create_engine(started.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE dmp"))
        admin.dispose()
        yield started
    finally:
        started.remove()


@pytest.fixture
def outage_ctx(cluster: pgcluster.Cluster, tmp_path: Path) -> Iterator[Context]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=cluster.url("dmp"),
        keystore_url=f"sqlite:///{tmp_path / 'keys.sqlite3'}",
        blob_dir=tmp_path / "blobs",
        master_keys=generate_master_key_spec("test-1"),
        audit_signing_key=AuditSigner.generate(),
        delivery=DeliverySettings(enabled=False),
    )
    ctx = build(settings, clock=FakeClock(datetime.now(UTC)), migrate=True)
    yield ctx
    ctx.engine.dispose()


def test_the_database_stops_under_load_and_comes_back(cluster, outage_ctx, tmp_path, figures):
    ctx, started = outage_ctx, time.monotonic()
    cast = populate(ctx)
    token = issue_token(ctx, cast.bruno.rpps).token
    served = Served(operator_env(ctx.settings, free_port(), workers=2), tmp_path / "serve.log")
    served.start()
    try:
        processes = {p.pid for p in served.worker_processes()} | {served.process.pid}
        answers, probes, times = _outage(served, cluster, token)
        assert {p.pid for p in served.worker_processes()} | {served.process.pid} == processes
    finally:
        served.stop()

    assert [a for a in answers if _broken(a)] == []  # never a 500, never a broken connection
    for name, answer in probes.items():
        assert answer.status_code == 503, (name, answer.status_code, answer.text[:300])
    _check_api_outcome(probes["search"])
    _check_page(probes["portal, signed in"])
    _check_page(probes["portal, login"])

    acknowledged = {a.upload.master: a for a in answers if a.acknowledged}
    with ctx.engine.connect() as conn:
        stored = set(
            conn.execute(
                select(t.documents.c.master_identifier).where(
                    t.documents.c.dmp_id == cast.alice_dmp
                )
            ).scalars()
        )
    assert set(acknowledged) - stored == set()  # no acknowledged write lost
    assert half_stored(ctx) == []
    verified = served.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    down, up = times["down"], times["up"]
    during = [a for a in acknowledged.values() if down <= a.at <= times["restart"]]
    refused = [a for a in answers if _unavailable(a)]
    figures(
        f"[outage] deposits attempted {len(answers)}, acknowledged {len(acknowledged)} "
        f"({len(during)} answered while the database was down), found {len(stored)} "
        f"(stored, answered 503: {len(stored - set(acknowledged))}); answered 503: "
        f"{len(refused)}; database down {times['restart'] - down:.1f} s, restarted in "
        f"{up - times['restart']:.1f} s, first deposit acknowledged "
        f"{times['recovered'] - times['restart']:.1f} s after the restart began; "
        f"{time.monotonic() - started:.1f} s"
    )


def _outage(
    served: Served, cluster: pgcluster.Cluster, token: str
) -> tuple[list[Answer], dict[str, httpx.Response], dict[str, float]]:
    """Deposits from two clients; the database crashed, probed, started again; the deposits
    stopped once some were acknowledged after the restart."""
    plan = [Upload(seed, SIZE) for seed in range(100_000, 102_000)]

    def send(client: httpx.Client, upload: Upload) -> Answer:
        time.sleep(0.05)  # a bounded load: a deposit at most every 50 ms per client
        return deposit(client, token, ALICE_INS, upload)

    times: dict[str, float] = {}
    with Uploaders(served.base, 2, plan, send) as uploads:
        _wait(lambda: len(uploads.acknowledged()) >= 5, uploads)
        times["down"] = time.monotonic()
        cluster.crash()
        _wait(lambda: sum(_unavailable(a) for a in uploads.answers) >= OUTAGE_ANSWERS, uploads)
        probes = _probe(served.base, token)
        time.sleep(max(0.0, times["down"] + OUTAGE_SECONDS - time.monotonic()))
        times["restart"] = time.monotonic()
        cluster.start()
        times["up"] = time.monotonic()
        _wait(lambda: len([a for a in uploads.acknowledged() if a.at > times["up"]]) >= 5, uploads)
        times["recovered"] = min(a.at for a in uploads.acknowledged() if a.at > times["restart"])
    return uploads.answers, probes, times


def _wait(condition: object, uploads: Uploaders) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert uploads.running, [(a.status, a.error, a.body) for a in uploads.answers[-3:]]
        broken = [(a.status, a.error, a.body) for a in uploads.answers if _broken(a)]
        assert broken == [], broken[:3]  # never a 500, never a broken connection
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {WAIT} s: {[(a.status, a.body) for a in uploads.answers[-3:]]}")


def _probe(base: str, token: str) -> dict[str, httpx.Response]:
    """A search, and the portal's pages, while the database is down."""
    with httpx.Client(base_url=base, timeout=60) as client:
        return {
            "search": client.get(
                "/fhir/DocumentReference",
                params={"patient.identifier": ins_token(ALICE_INS)},
                headers={"Authorization": f"Bearer {token}", "Accept": FHIR_JSON},
            ),
            # A patient's browser with a session cookie: the session is looked up first.
            "portal, signed in": client.get(
                "/tableau-de-bord", headers={"Cookie": f"dmp_session={os.urandom(16).hex()}"}
            ),
            # A new visitor: the login page opens a session.
            "portal, login": client.get("/connexion"),
        }


def _broken(answer: Answer) -> bool:
    return not (answer.acknowledged or _unavailable(answer))


def _unavailable(answer: Answer) -> bool:
    if answer.status != 503 or answer.body is None:
        return False
    [issue] = answer.body["issue"]
    return issue["code"] == "transient" and "base de données" in issue["details"]["text"]


def _check_api_outcome(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    text = body["issue"][0]["details"]["text"]
    assert "indisponible" in text
    assert not ENGLISH.search(text)


def _check_page(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(r'<html[^>]* lang="fr"', response.text)
    assert "momentanément indisponible" in response.text
    assert "Traceback" not in response.text
