"""The professional API: FHIR R4 JSON under ``/fhir`` (IHE MHD for documents), and its OpenAPI
description at ``/openapi.json``."""

from __future__ import annotations

from fastapi import FastAPI

from dmp.entrypoints.fhir import (
    binary,
    bundle,
    capability,
    documents,
    finding,
    lookup,
    patients,
)
from dmp.services.context import Context

PREFIX = "/fhir"
# What the API's answers carry: nothing of them is a page, so nothing may load or frame them.
CONTENT_SECURITY_POLICY = b"default-src 'none'; frame-ancestors 'none'"


def install(app: FastAPI, ctx: Context) -> None:
    """Add the API's operations to the application."""
    app.state.spool_dir = ctx.settings.data_dir / "spool"
    app.state.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # uploads in transit
    for module in (capability, lookup, patients, finding, documents, binary, bundle):
        app.include_router(module.router)
