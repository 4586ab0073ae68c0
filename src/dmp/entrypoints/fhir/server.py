"""Running the professional API with uvicorn: one process (the app object), or several workers
that each build their own context from the environment (``app_from_env``). The process started
by ``dmp serve`` also writes the audit trail's witness, every ``DMP_WITNESS_INTERVAL`` seconds,
and delivers the queued notifications, every ``DMP_NOTIFY_INTERVAL`` seconds.

Several workers each listen on their own socket bound with ``SO_REUSEPORT``, so that the kernel
spreads connections evenly over them. With one shared socket (uvicorn's own ``workers``), the
first worker to wake accepts a whole burst of keep-alive connections and may serve all of them
alone while the others idle: measured on two cores, one worker at 0.9 cores and the other at 0.
Where ``SO_REUSEPORT`` does not exist, uvicorn's workers are used instead.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from dmp.adapters.files import private_umask
from dmp.bootstrap import build
from dmp.entrypoints.app import create_app
from dmp.entrypoints.fhir.protocol import LimitedHttpToolsProtocol
from dmp.errors import ConfigurationError
from dmp.services.context import Context
from dmp.services.delivery import dispatch
from dmp.services.witness import checkpoint
from dmp.settings import Settings, load_settings

FACTORY = "dmp.entrypoints.fhir.server:app_from_env"
STARTUP_FAILURE = 3  # uvicorn's exit code when a worker cannot start
_OPTIONS: dict[str, Any] = {
    "http": LimitedHttpToolsProtocol,  # httptools, with a bounded request head
    "proxy_headers": True,
    "server_header": False,
    "timeout_keep_alive": 5,
    "log_level": "info",
    # No access log: request lines carry patients' INS in their query strings, and every
    # access to a DMP is already in its audit trail.
    "access_log": False,
}
log = logging.getLogger("dmp.server")


def addresses(settings: Settings) -> list[str]:
    """What a newcomer needs to start: where the API, the portal and the OpenAPI document are."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    root = f"http://{host}:{settings.port}"
    return [
        f"API FHIR des professionnels (base) : {root}/fhir  (CapabilityStatement : "
        f"{root}/fhir/metadata)",
        f"Portail des patients : {root}/",
        f"Portail des professionnels : {root}/pro",
        f"Description OpenAPI : {root}/openapi.json",
    ]


def app_from_env() -> FastAPI:
    """The app of one worker process: settings read from the environment, as ``dmp serve``
    (and its files private, should it be started by ``uvicorn`` itself)."""
    private_umask()
    return create_app(build(load_settings()))


def run(settings: Settings, workers: int) -> None:
    """Serve on ``settings.host:settings.port``. With several workers, each one reads the
    settings from the environment again (they must be the same as ``settings``). Either way,
    this process writes the witness's checkpoints (``Checkpoints``) and delivers the
    notifications (``Deliveries``)."""
    several = workers > 1 and hasattr(socket, "SO_REUSEPORT")
    if several:  # fail here, once, with a clear message, rather than in every worker
        _listener(settings.host, settings.port).close()
    ctx = build(settings)
    deliveries = Deliveries(ctx, settings.delivery.interval_seconds)
    with Checkpoints(ctx, settings.witness_interval_seconds), deliveries:
        if workers <= 1:
            with _sigterm_exits():
                uvicorn.run(create_app(ctx), host=settings.host, port=settings.port, **_OPTIONS)
        elif several:
            Supervisor(settings.host, settings.port, workers).run()
        else:  # pragma: no cover - platforms without SO_REUSEPORT
            uvicorn.run(
                FACTORY,
                factory=True,
                workers=workers,
                host=settings.host,
                port=settings.port,
                **_OPTIONS,
            )


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """uvicorn stops gracefully on SIGTERM, then raises it again under the handler it found:
    let that handler be a plain exit, so that what follows the server (the witness's last
    checkpoint) still runs, and the exit code is 0 as with several workers."""
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)


class Periodic:
    """A thread of the server that does its work at start, then every ``interval`` seconds, and
    (``last``) once more on the way out. In the supervisor process when there are several
    workers, so that there is one per server whatever the number of workers; never on a
    request's path."""

    name = "dmp-periodic"
    last = False

    def __init__(self, ctx: Context, interval: float) -> None:
        self._ctx, self._interval = ctx, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def __enter__(self) -> Periodic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        self._work()
        while not self._stop.wait(self._interval):
            self._work()
        if self.last:
            self._work()

    def _work(self) -> None:
        raise NotImplementedError


class Checkpoints(Periodic):
    """The server's one writer of the audit trail's witness, with a last checkpoint on the way
    out."""

    name = "dmp-witness"
    last = True

    def _work(self) -> None:
        try:
            checkpoint(self._ctx)
        except Exception as error:  # keep going: the next checkpoint covers what this one missed
            log.error("dmp: witness checkpoint failed: %s", getattr(error, "message", error))


class Deliveries(Periodic):
    """The server's sender of the queued notifications, a few seconds after they are queued.
    It stops between two messages when the server stops (a message cut mid-send would be
    uncertain); what is left waits in the outbox for the next server or ``dmp jobs run``."""

    name = "dmp-notify"

    def _work(self) -> None:
        try:
            report = dispatch(self._ctx, should_stop=self._stop.is_set)
        except Exception as error:  # keep going: the messages wait in the outbox
            log.error("dmp: notification delivery failed: %s", getattr(error, "message", error))
            return
        for problem in report.problems:
            log.error("dmp: %s", problem.line())


def _listener(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise ConfigurationError(f"Impossible d'écouter sur {host}:{port} : {error}") from None
    return sock


def _worker(host: str, port: int, factory: str) -> None:
    """One worker process: its own listening socket, its own app and context."""
    try:
        sock = _listener(host, port)
    except ConfigurationError as error:
        print(error.message, file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    config = uvicorn.Config(factory, factory=True, host=host, port=port, **_OPTIONS)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts the workers, restarts one that dies, and stops them all on SIGINT or SIGTERM
    (each finishes its requests in flight: uvicorn's graceful shutdown). ``factory``: the
    import path of the function that builds a worker's app."""

    def __init__(
        self, host: str, port: int, workers: int, *, factory: str = FACTORY, grace: float = 30.0
    ) -> None:
        self.host, self.port, self.count, self.grace = host, port, workers, grace
        self.factory = factory
        self.processes: list[BaseProcess] = []
        self.stopping = False
        self._spawn = multiprocessing.get_context("spawn")

    def run(self) -> None:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.processes = [self._start() for _ in range(self.count)]
            log.warning("dmp: %d workers on %s:%d", self.count, self.host, self.port)
            self._watch()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self) -> BaseProcess:
        process = self._spawn.Process(
            target=_worker, args=(self.host, self.port, self.factory), name="dmp-worker"
        )
        process.start()
        return process

    def _watch(self) -> None:
        started = [time.monotonic()] * len(self.processes)
        quick_deaths = 0
        while not self.stopping:
            wait([p.sentinel for p in self.processes], timeout=0.5)
            for n, process in enumerate(self.processes):
                if self.stopping or process.is_alive():
                    continue
                quick = time.monotonic() - started[n] < 10
                quick_deaths = quick_deaths + 1 if quick else 0
                if process.exitcode == STARTUP_FAILURE or quick_deaths >= 3:
                    raise ConfigurationError("Les processus du serveur n'arrivent pas à démarrer.")
                log.warning("dmp: worker %s exited (%s), restarting", process.pid, process.exitcode)
                self.processes[n], started[n] = self._start(), time.monotonic()

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _shutdown(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn stops accepting and drains
        deadline = time.monotonic() + self.grace
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
