"""``dmp serve`` with several workers, as an operator starts it: every worker gets its share of
the connections (each listens on its own ``SO_REUSEPORT`` socket), a worker that dies is
replaced, and SIGTERM stops them all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psutil
import pytest

from dmp.adapters.crypto import generate_master_key_spec
from dmp.services.audit import AuditSigner
from tests.e2e.serving import listens

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT n'existe pas sur ce système"
)
CLI = "from dmp.entrypoints.cli.main import app; app()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _workers(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [p for p in psutil.Process(server.pid).children() if p.name().startswith("python")]


def _wait_workers(server: subprocess.Popen[bytes], port: int, count: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = _workers(server)
        listening = [w for w in workers if listens(w, port)]
        if len(listening) == count:
            return listening
        assert server.poll() is None, "the server exited"
        time.sleep(0.2)
    raise AssertionError(f"{count} workers never listened on {port}")


def _env(tmp_path: Path, port: int, workers: int = 2) -> dict[str, str]:
    """An operator's settings for ``workers`` workers on ``port``, writing the witness every
    second."""
    return {
        **os.environ,
        "DMP_DATA_DIR": str(tmp_path / "data"),
        "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
        "DMP_HOST": "127.0.0.1",
        "DMP_PORT": str(port),
        "DMP_WORKERS": str(workers),
        "DMP_WITNESS_INTERVAL": "1",
        "DMP_NOTIFICATIONS": "off",  # tests/e2e/test_serve_notify.py sends them
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    env = _env(tmp_path, port)
    subprocess.run([sys.executable, "-c", CLI, "db", "upgrade"], env=env, check=True)
    log = (tmp_path / "serve.log").open("wb")  # what the operator's log collector would keep
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.wait()
        log.close()


def test_connections_spread_over_the_workers_and_sigterm_stops_them(server):
    process, port = server
    workers = _wait_workers(process, port, 2)
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(24)]
    try:
        for client in clients:  # 24 keep-alive connections, opened at once
            assert client.get("/fhir/metadata").status_code == 200
        served = {w.pid: len(w.net_connections("tcp")) - 1 for w in workers}
        # Each worker holds its listening socket plus the connections it accepted.
        assert all(count > 0 for count in served.values()), served
    finally:
        for client in clients:
            client.close()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def test_a_worker_that_dies_is_replaced(server):
    process, port = server
    first, second = _wait_workers(process, port, 2)
    first.kill()
    first.wait(timeout=10)  # gone once the supervisor has reaped it
    replaced = _wait_workers(process, port, 2)
    assert second.pid in {w.pid for w in replaced}
    assert first.pid not in {w.pid for w in replaced}
    assert httpx.get(f"http://127.0.0.1:{port}/fhir/metadata").status_code == 200


def test_request_lines_with_a_patients_ins_stay_out_of_the_server_log(server, tmp_path):
    process, port = server
    _wait_workers(process, port, 2)
    ins = "2850312345678"  # an INS-shaped value in the query string, as ITI-67 sends it
    url = f"http://127.0.0.1:{port}/fhir/DocumentReference"
    params = {"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ins}"}
    assert httpx.get(url, params=params).status_code == 401  # answered, so it was seen
    assert httpx.get(f"http://127.0.0.1:{port}/fhir/metadata").status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    log = (tmp_path / "serve.log").read_text()
    assert "Application startup complete" in log  # the log is the server's
    assert ins not in log
    assert "/fhir/DocumentReference" not in log


def test_a_port_already_taken_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = _env(tmp_path, taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-c", CLI, "serve"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 2
    assert "Impossible d'écouter" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def _checkpoints(witness: Path) -> list[dict[str, Any]]:
    if not witness.exists():
        return []
    return [json.loads(line) for line in witness.read_bytes().splitlines()]


def _wait_for(predicate: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not predicate():
        assert process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)


class Operator:
    """Runs ``dmp`` commands against one install, and its server."""

    def __init__(self, tmp_path: Path, workers: int, interval: int) -> None:
        self.env = {**_env(tmp_path, _free_port(), workers), "DMP_WITNESS_INTERVAL": str(interval)}
        self.witness = tmp_path / "data" / "witness" / "checkpoints.jsonl"
        self.server: subprocess.Popen[bytes] | None = None

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", CLI, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def serve(self) -> subprocess.Popen[bytes]:
        self.server = subprocess.Popen([sys.executable, "-c", CLI, "serve"], env=self.env)
        return self.server

    def checkpoints(self) -> list[dict[str, Any]]:
        if not self.witness.exists():
            return []
        return [json.loads(line) for line in self.witness.read_bytes().splitlines()]

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not predicate():
            assert self.server is None or self.server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, f"never: {what}"
            time.sleep(0.2)

    def system_head_witnessed(self) -> bool:
        """The new install's first entry (the establishment's) is in a checkpoint."""
        system = str(UUID(int=0))
        return any([system, 1] == h[:2] for c in self.checkpoints() for h in c["heads"])

    def stop(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGTERM)
        assert self.server.wait(timeout=40) == 0

    def kill(self) -> None:
        if self.server is not None and self.server.poll() is None:
            for child in psutil.Process(self.server.pid).children(recursive=True):
                child.kill()
            self.server.kill()
            self.server.wait()


@pytest.fixture
def operator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Operator]:
    workers, interval = request.param
    operator = Operator(tmp_path, workers, interval)
    operator.run("db", "upgrade")  # checkpoint 1
    try:
        yield operator
    finally:
        operator.kill()


@pytest.mark.parametrize("operator", [(1, 1), (2, 1)], indirect=True, ids=["1-worker", "2-workers"])
def test_the_server_writes_the_witness_every_interval(operator):
    """One writer per server (the supervisor, or a thread of the only process), every
    DMP_WITNESS_INTERVAL seconds; a cron job's checkpoints in between keep the sequence whole."""
    operator.serve()
    operator.wait_for(lambda: len(operator.checkpoints()) >= 4, "three checkpoints of the server")
    operator.run(
        "establishment", "add", "--finess", "440000289", "--nom", "CHU", "--type", "clinic"
    )
    operator.run("audit", "checkpoint")  # a cron job, writing while the server does
    operator.wait_for(operator.system_head_witnessed, "the establishment's entry witnessed")
    operator.stop()
    numbers = [c["n"] for c in operator.checkpoints()]
    assert numbers == list(range(1, len(numbers) + 1))
    assert "Journal intègre" in operator.run("audit", "verify")


@pytest.mark.parametrize(
    "operator", [(1, 3600), (2, 3600)], indirect=True, ids=["1-worker", "2-workers"]
)
def test_the_server_writes_a_last_checkpoint_when_it_stops(operator):
    operator.serve()
    operator.wait_for(lambda: len(operator.checkpoints()) == 2, "the server's first checkpoint")
    operator.run(
        "establishment", "add", "--finess", "440000289", "--nom", "CHU", "--type", "clinic"
    )
    assert not operator.system_head_witnessed()
    operator.stop()  # no checkpoint for an hour, and no cron: only the last one can see it
    assert len(operator.checkpoints()) == 3
    assert operator.system_head_witnessed()
