"""``dmp serve`` in a subprocess, as an operator runs it, for the tests that kill it: the server
in a process group of its own (so that it can be killed whole, workers and all, as a power cut
or the OOM killer would), its workers found with psutil, and the operator's other commands
(``dmp jobs run``, ``dmp audit verify``) run with the same settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from dmp.settings import Settings

CLI = "from dmp.entrypoints.cli.main import app; app()"
MIB = 1024 * 1024
START_SECONDS = 90  # a loaded two-core machine may take this long to start two workers


def operator_env(settings: Settings, port: int, *, workers: int = 2) -> dict[str, str]:
    """The environment an operator gives ``dmp serve`` for the storage of ``settings``."""
    return {
        **os.environ,
        "DMP_DATA_DIR": str(settings.data_dir),
        "DMP_DATABASE_URL": settings.database_url,
        "DMP_KEYSTORE_URL": settings.keystore_url,
        "DMP_BLOB_DIR": str(settings.blob_dir),
        "DMP_MASTER_KEYS": settings.master_keys,
        "DMP_AUDIT_SIGNING_KEY": settings.audit_signing_key,
        "DMP_HOST": "127.0.0.1",
        "DMP_PORT": str(port),
        "DMP_WORKERS": str(workers),
        "DMP_WITNESS_INTERVAL": "1",
        "DMP_MAX_CONTENT_BYTES": str(50 * MIB),
        "DMP_NOTIFICATIONS": "off",  # the messages wait in the outbox: nothing to send here
    }


class Served:
    """One ``dmp serve``, started (and started again) with ``env``, its output in ``log``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = int(env["DMP_PORT"])
        self.workers = int(env["DMP_WORKERS"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, workers: int | None = None) -> None:
        """Start the server (again); ``workers``: another number of workers than before."""
        if workers is not None:
            self.workers = workers
            self.env = {**self.env, "DMP_WORKERS": str(workers)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CLI, "serve"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: see kill_all
            )
        self.wait_ready()

    def wait_ready(self) -> list[psutil.Process]:
        """The workers, once each listens and the API answers."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            assert self.process.poll() is None, self.log_text()
            listening = [w for w in self.worker_processes() if listens(w, self.port)]
            if len(listening) == self.workers and self._answers():
                return listening
            time.sleep(0.2)
        raise AssertionError(f"the server never got ready:\n{self.log_text()}")

    def worker_processes(self) -> list[psutil.Process]:
        """The processes that serve requests: the workers, or the server itself alone."""
        assert self.process is not None
        server = psutil.Process(self.process.pid)
        if self.workers == 1:
            return [server]
        try:
            return [p for p in server.children() if p.name().startswith("python")]
        except psutil.NoSuchProcess:
            return []

    def kill_worker(self, worker: psutil.Process) -> None:
        """``kill -9`` one worker; the server's supervisor starts another."""
        worker.kill()
        worker.wait(timeout=30)

    def kill_all(self) -> None:
        """``kill -9`` the whole server at once: the supervisor and every worker."""
        assert self.process is not None
        group = [psutil.Process(self.process.pid), *self.worker_processes()]
        os.killpg(self.process.pid, signal.SIGKILL)  # the supervisor is ours to reap: not gone yet
        self.process.wait(timeout=30)
        psutil.wait_procs(group, timeout=30)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in group)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """An operator's ``dmp`` command, with the server's settings."""
        return run_cli(self.env, *args)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.base}/fhir/metadata", timeout=30).status_code == 200
        except httpx.HTTPError:
            return False


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """An operator's ``dmp`` command with these settings, its output captured (not checked)."""
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def listens(process: psutil.Process, port: int) -> bool:
    """Whether this process listens on this TCP port."""
    try:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for c in process.net_connections("tcp")
        )
    except psutil.NoSuchProcess:
        return False
