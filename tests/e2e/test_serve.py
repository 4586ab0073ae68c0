"""``dmp serve`` with several workers, as an operator starts it: every worker gets its share of
the connections (each listens on its own ``SO_REUSEPORT`` socket), a worker that dies is
replaced, and SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from dmp.adapters.crypto import generate_master_key_spec
from dmp.services.audit import AuditSigner

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
        listening = [w for w in workers if _listens(w, port)]
        if len(listening) == count:
            return listening
        assert server.poll() is None, "the server exited"
        time.sleep(0.2)
    raise AssertionError(f"{count} workers never listened on {port}")


def _listens(process: psutil.Process, port: int) -> bool:
    try:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for c in process.net_connections("tcp")
        )
    except psutil.NoSuchProcess:
        return False


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    """An operator's settings for two workers on ``port``."""
    return {
        **os.environ,
        "DMP_DATA_DIR": str(tmp_path / "data"),
        "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
        "DMP_HOST": "127.0.0.1",
        "DMP_PORT": str(port),
        "DMP_WORKERS": "2",
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
