"""Several ``dmp serve`` hosts sharing nothing but the databases (data and keys, PostgreSQL) and
the content store (S3, a local S3-compatible server): each host has its own data folder, hence
its own witness of the audit trail. A document provided on one reads back on the other; a
patient's change of authorizations on one is honoured at once by the other; concurrent writes
through both leave the audit trail whole, as each host's witness sees it."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from dmp.adapters.crypto import generate_master_key_spec
from dmp.bootstrap import build
from dmp.services.audit import AuditSigner
from dmp.services.directory import issue_token
from dmp.settings import load_settings
from tests.conftest import PG_ADMIN_URL, require_postgres
from tests.e2e.authorizations import alice_documents, done, press
from tests.e2e.fhir import Api, created_id, free_port, ins_token, provide_bundle
from tests.e2e.portal import Browser, first_log_in, fresh_code
from tests.e2e.serving import run_cli
from tests.factories import PDF
from tests.integration.mail import Inbox, smtp_server
from tests.objectstore import ObjectServer, object_names
from tests.personas import ALICE_INS, Cast, populate

pytestmark = pytest.mark.postgres
CLI = "from dmp.entrypoints.cli.main import app; app()"
HOLDERS = ("bruno", "chloe", "damien")


@dataclass
class Host:
    env: dict[str, str]
    base: str
    process: subprocess.Popen[bytes]

    @contextmanager
    def api(self, tokens: dict[str, str]) -> Iterator[Api]:
        with httpx.Client(base_url=self.base, timeout=60) as client:
            yield Api(client, tokens)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args)


@dataclass
class Deployment:
    a: Host
    b: Host
    cast: Cast
    tokens: dict[str, str]
    inbox: Inbox
    bucket: str


def _databases() -> Iterator[tuple[str, str]]:
    require_postgres()
    names = [f"dmp_hosts_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("data", "keys")]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _start(env: dict[str, str], log: Path) -> Host:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Host(env, f"http://127.0.0.1:{env['DMP_PORT']}", process)


def _wait_up(host: Host) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert host.process.poll() is None, "a server exited"
        try:
            if httpx.get(f"{host.base}/fhir/metadata", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "a server never answered"
        time.sleep(0.2)


def _stop(host: Host) -> None:
    if host.process.poll() is None:
        host.process.send_signal(signal.SIGTERM)
        try:
            host.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            host.process.kill()
            host.process.wait()


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, s3_server: ObjectServer
) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("hosts")
    bucket = s3_server.new_bucket()
    databases = _databases()
    data_url, keys_url = next(databases)
    with smtp_server() as smtp:
        shared = {
            **os.environ,
            "DMP_DATABASE_URL": data_url,
            "DMP_KEYSTORE_URL": keys_url,
            **s3_server.env(bucket, "dmp/"),
            "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
            "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
            "DMP_HOST": "127.0.0.1",
            "DMP_WORKERS": "1",
            "DMP_WITNESS_INTERVAL": "1",
            "DMP_SMTP_HOST": "127.0.0.1",
            "DMP_SMTP_PORT": str(smtp.port),
            "DMP_SMTP_SECURITY": "none",
            "DMP_MAIL_FROM": "dmp@example.fr",
            "DMP_NOTIFY_INTERVAL": "1",
            "DMP_COOKIE_SECURE": "false",  # plain HTTP on the loopback interface
        }
        envs = [
            {**shared, "DMP_DATA_DIR": str(folder / name), "DMP_PORT": str(free_port())}
            for name in ("a", "b")
        ]
        upgrade = subprocess.run(
            [sys.executable, "-c", CLI, "db", "upgrade"],
            env=envs[0],
            capture_output=True,
            check=False,
        )
        assert upgrade.returncode == 0, upgrade.stderr
        ctx = build(load_settings(envs[0]))
        cast = populate(ctx)
        tokens = {n: issue_token(ctx, cast.professionals[n].rpps).token for n in HOLDERS}
        ctx.engine.dispose()
        ctx.keys.store.engine.dispose()
        hosts = [_start(env, folder / f"{i}.log") for i, env in enumerate(envs)]
        try:
            for host in hosts:
                _wait_up(host)
            yield Deployment(*hosts, cast, tokens, smtp.inbox, bucket)
        finally:
            for host in hosts:
                _stop(host)
            databases.close()


def _provide(api: Api, content: bytes, who: str = "bruno") -> str:
    response = api.post("/fhir", json=provide_bundle(ALICE_INS, content), as_=who)
    assert response.status_code == 200, response.text
    return created_id(response)


def test_a_document_provided_on_one_host_reads_back_on_the_other(deployment, s3_server):
    content = PDF + uuid.uuid4().bytes
    with deployment.a.api(deployment.tokens) as on_a, deployment.b.api(deployment.tokens) as on_b:
        doc_id = _provide(on_a, content)
        found = on_b.get(
            "/fhir/DocumentReference",
            params={"patient.identifier": ins_token(ALICE_INS)},
            as_="chloe",
        ).json()
        assert doc_id in [e["resource"]["id"] for e in found["entry"]]
        raw = on_b.get(f"/fhir/Binary/{doc_id}.0", as_="chloe", headers={"Accept": "*/*"})
    assert raw.status_code == 200
    assert hashlib.sha256(raw.content).digest() == hashlib.sha256(content).digest()
    assert object_names(s3_server, deployment.bucket)  # in the shared store, not a host's disk
    for host in (deployment.a, deployment.b):
        assert not list(Path(host.env["DMP_DATA_DIR"]).glob("blobs/objects/*"))


def _last_code(inbox: Inbox):
    def read() -> str:
        for message in reversed(inbox.received):
            found = re.search(r"\b([0-9]{6})\b", message.body)
            if found:
                return found.group(1)
        raise AssertionError("no code was sent")

    return read


def test_a_change_of_authorizations_on_one_host_is_honoured_at_once_on_the_other(deployment):
    cast, codes = deployment.cast, _last_code(deployment.inbox)
    alice = Browser(deployment.a.base)  # the patient's portal, on host A
    try:
        first_log_in(alice, cast.alice_login, cast.alice_password, codes)
        fresh_code(alice, codes, "/autorisations")
        with deployment.b.api(deployment.tokens) as on_b:
            assert alice_documents(on_b, "chloe") == 200
            assert alice_documents(on_b, "damien") == 404
            alice.get("/autorisations")
            chloe = str(cast.chloe.professional_id)
            assert "Autorisation retirée." in done(
                alice, press(alice, "/autorisations/retirer", id=chloe)
            )
            assert alice_documents(on_b, "chloe") == 404  # the next request, on the other host
            alice.get("/autorisations/rechercher", params={"q": cast.damien.rpps})
            damien = str(cast.damien.professional_id)
            assert "Autorisation enregistrée." in done(
                alice, press(alice, "/autorisations/autoriser", id=damien)
            )
            assert alice_documents(on_b, "damien") == 200
    finally:
        alice.close()


def test_concurrent_writes_through_both_hosts_keep_the_audit_trail_whole(deployment):
    hosts = [deployment.a, deployment.b]
    with hosts[0].api(deployment.tokens) as on_a, hosts[1].api(deployment.tokens) as on_b:
        before = len(_documents(on_a))
        work = [(api, PDF + uuid.uuid4().bytes) for _ in range(6) for api in (on_a, on_b)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            ids = list(pool.map(lambda job: _provide(*job), work))
            reads = list(pool.map(lambda api: len(_documents(api)), [on_a, on_b] * 4))
        assert len(set(ids)) == len(work)
        assert all(before <= count <= before + len(work) for count in reads)
        assert len(_documents(on_a)) == len(_documents(on_b)) == before + len(work)
    for host in hosts:  # each host's witness, against the one database
        assert host.run("audit", "checkpoint").returncode == 0
        verified = host.run("audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "Journal intègre" in verified.stdout


def _documents(api: Api) -> list[str]:
    bundle = api.get(
        "/fhir/DocumentReference",
        params={"patient.identifier": ins_token(ALICE_INS), "_count": "100"},
        as_="bruno",
    ).json()
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
