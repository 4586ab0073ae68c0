"""The professional portal at ``/pro``, in French (SPEC §6.2): for professionals whose software
does not speak the API. Server-rendered pages on the patient portal's foundations (the session
middleware, CSRF, the security headers, the styles); each handler parses, calls one service,
the same the FHIR API calls, and renders: the same rules and the same audit apply."""

from __future__ import annotations

from fastapi import FastAPI

from dmp.services.context import Context

PREFIX = "/pro"


def install(app: FastAPI, ctx: Context) -> None:
    """Add the professional portal's pages (after the patient portal: its middleware loads the
    session of every page, these ones included)."""
    from dmp.entrypoints.pro.activity import router as activity
    from dmp.entrypoints.pro.administer import router as administer
    from dmp.entrypoints.pro.consult import router as consult
    from dmp.entrypoints.pro.feed import router as feed
    from dmp.entrypoints.pro.login import router as login
    from dmp.entrypoints.pro.patients import router as patients
    from dmp.entrypoints.pro.tokens import router as tokens

    for router in (login, patients, consult, feed, administer, tokens, activity):
        app.include_router(router, prefix=PREFIX)
