"""The floor of the HTTP stack: a FastAPI app with one small JSON route, served by uvicorn with
the same options as ``dmp.entrypoints.fhir.server.run`` (workers, keep-alive, access log)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from benchmarks.load import LOOPBACK

app = FastAPI()


@app.get("/ping")
def ping() -> dict[str, str]:
    """A sync handler, like the dmp handlers: it runs in the thread pool too."""
    return {"resourceType": "OperationOutcome", "status": "ok"}


def run(port: int, workers: int) -> None:
    uvicorn.run(
        "benchmarks.floor_app:app",
        host=LOOPBACK,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
        timeout_keep_alive=5,
        log_level="info",
    )
