"""Starting and watching the servers under test, each in its own process group on loopback.

* the dmp FHIR server through the ``dmp serve`` command, with the production settings read from
  the environment (PostgreSQL, a separate key store) and ``DMP_WORKERS`` = the number of cores;
* the floor: ``benchmarks.floor_app`` (one route) under the same uvicorn options.

:class:`RssWatch` samples the resident memory of a server and all its children (psutil) on a
thread, keeping the peak of the sum.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx
import psutil
import psycopg

from benchmarks.env import pg_conninfo
from benchmarks.load import LOOPBACK

_DMP = ["-c", "from dmp.entrypoints.cli.main import app; app(['serve'])"]  # = `dmp serve`
_FLOOR = "import sys; from benchmarks.floor_app import run; run(int(sys.argv[1]), int(sys.argv[2]))"


class Server:
    """A server process (with its uvicorn workers), stopped on exit."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.argv, self.env, self.port, self.log = argv, env, port, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited: see {self.log}")
            try:
                if httpx.get(self.base_url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server not ready after {timeout}s: see {self.log}")

    def processes(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mib(self) -> float:
        total = 0
        for process in self.processes():
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / 2**20

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own process group only
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def dmp_server(environ: dict[str, str], port: int, workers: int, log: Path) -> Server:
    env = {
        **_base_env(),
        **environ,
        "DMP_HOST": LOOPBACK,
        "DMP_PORT": str(port),
        "DMP_WORKERS": str(workers),
    }
    return Server([sys.executable, *_DMP], env, port, log)


def floor_server(port: int, workers: int, log: Path) -> Server:
    argv = [sys.executable, "-c", _FLOOR, str(port), str(workers)]
    return Server(argv, _base_env(), port, log)


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    found = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        found[process.pid] = times.user + times.system
    return found


def _postgres() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


class RssWatch:
    """Peak RSS (MiB) of a server's processes, sampled every ``every`` seconds on a thread; and
    the CPU used meanwhile by the server and by PostgreSQL, in cores (1.0 = one core busy)."""

    def __init__(self, server: Server, every: float = 0.05) -> None:
        self.server, self.every = server, every
        self.peak = 0.0
        self.server_cores = self.postgres_cores = 0.0
        self.server_cpu = self.postgres_cpu = 0.0  # seconds of CPU while watched
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_mib())
            self._stop.wait(self.every)

    def _cpu(self) -> tuple[dict[int, float], dict[int, float]]:
        return _cpu_seconds(self.server.processes()), _cpu_seconds(_postgres())

    def __enter__(self) -> RssWatch:
        self.peak = self.server.rss_mib()
        self._started, self._cpu_before = time.perf_counter(), self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.server.rss_mib())
        elapsed = time.perf_counter() - self._started
        after = self._cpu()
        used = [
            sum(v - before.get(pid, 0.0) for pid, v in now.items())
            for before, now in zip(self._cpu_before, after, strict=True)
        ]
        self.server_cpu, self.postgres_cpu = used
        self.server_cores, self.postgres_cores = (u / elapsed for u in used)

    def cpu_note(self, requests: int = 0) -> str:
        """The cores used; and, given the requests served meanwhile, the CPU each one cost the
        server and PostgreSQL (the steady figure on a shared, noisy machine)."""
        note = f"server {self.server_cores:.2f} cores, PostgreSQL {self.postgres_cores:.2f}; "
        if requests:
            server, postgres = (1000 * cpu / requests for cpu in self.cpu_seconds())
            note += f"CPU a request: server {server:.2f} ms, PostgreSQL {postgres:.2f} ms; "
        return note

    def cpu_seconds(self) -> tuple[float, float]:
        return self.server_cpu, self.postgres_cpu


class WaitWatch:
    """What PostgreSQL's backends of one database are doing meanwhile: ``pg_stat_activity``
    sampled every ``every`` seconds on a thread, each active backend counted under its wait event
    (``CPU`` when it waits on none). The mean per sample tells where the statements' time goes:
    on the processor, on a lock (``Lock:transactionid``: a row another transaction holds), on the
    WAL's flush at commit (``IO:WALSync``)… Nothing on SQLite."""

    _SAMPLE = (
        "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*)"
        " FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()"
        " GROUP BY 1"
    )

    def __init__(self, database: str | None, every: float = 0.02) -> None:
        self.database, self.every = database, every
        self.samples = 0
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        with psycopg.connect(pg_conninfo("postgres"), autocommit=True) as conn:
            while not self._stop.is_set():
                for event, count in conn.execute(self._SAMPLE, (self.database,)):
                    self.counts[event] = self.counts.get(event, 0) + count
                self.samples += 1
                self._stop.wait(self.every)

    def __enter__(self) -> WaitWatch:
        if self.database is not None:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def note(self) -> str:
        if not self.counts:  # not sampled, or no statement running in any sample
            return ""
        means = sorted(((n / self.samples, e) for e, n in self.counts.items()), reverse=True)
        busy = sum(mean for mean, _ in means)
        parts = ", ".join(f"{event} {mean:.2f}" for mean, event in means if mean >= 0.01)
        return f"PostgreSQL backends active {busy:.2f} on average ({parts}); "
