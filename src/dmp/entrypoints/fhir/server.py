"""Running the professional API with uvicorn: one process (the app object), or several workers
that each build their own context from the environment (``app_from_env``)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from dmp.bootstrap import build
from dmp.entrypoints.fhir.app import create_app
from dmp.settings import Settings, load_settings

FACTORY = "dmp.entrypoints.fhir.server:app_from_env"


def app_from_env() -> FastAPI:
    """The app of one worker process: settings read from the environment, as ``dmp serve``."""
    return create_app(build(load_settings()))


def run(settings: Settings, workers: int) -> None:
    """Serve on ``settings.host:settings.port``. With several workers, each one reads the
    settings from the environment again (they must be the same as ``settings``)."""
    app: FastAPI | str = FACTORY if workers > 1 else create_app(build(settings))
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        server_header=False,
        timeout_keep_alive=5,
        log_level="info",
        # No access log: request lines carry patients' INS in their query strings, and every
        # access to a DMP is already in its audit trail.
        access_log=False,
    )
