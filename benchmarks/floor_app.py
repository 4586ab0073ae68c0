"""The floor of the HTTP stack: a FastAPI app with one small JSON route, served exactly as
``dmp serve`` serves the API (``dmp.entrypoints.fhir.server``: one ``SO_REUSEPORT`` socket per
worker, the same uvicorn options)."""

from __future__ import annotations

from fastapi import FastAPI

from benchmarks.load import LOOPBACK
from dmp.entrypoints.fhir.server import Supervisor


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        """A sync handler, like the dmp handlers: it runs in the thread pool too."""
        return {"resourceType": "OperationOutcome", "status": "ok"}

    return app


def run(port: int, workers: int) -> None:
    Supervisor(LOOPBACK, port, workers, factory="benchmarks.floor_app:create_app").run()
