"""The patient portal at ``/``, in French (SPEC §5): server-rendered pages (Jinja2), a little
JavaScript of our own, nothing loaded from elsewhere. Each handler parses, calls one service
and renders; the rules are the policy's, asked by the services."""

from __future__ import annotations

from fastapi import FastAPI

from dmp.services.context import Context

# The pages' policy: everything from this server only; documents shown in a frame of ours.
CSP = (
    b"default-src 'self'; img-src 'self' data:; object-src 'none'; frame-src 'self'; "
    b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def install(app: FastAPI, ctx: Context) -> None:
    """Add the portal's pages, its static files and its sessions to the application. The
    history's sentences and the table of notices are loaded now: a malformed table stops the
    start, not a page."""
    from dmp.entrypoints.portal import (
        account,
        closing,
        demo,
        document_add,
        document_contents,
        document_destroy,
        export,
    )
    from dmp.entrypoints.portal.authorizations import router as authorizations
    from dmp.entrypoints.portal.documents import router as documents
    from dmp.entrypoints.portal.history import router as history
    from dmp.entrypoints.portal.home import router as home
    from dmp.entrypoints.portal.login import router as login
    from dmp.entrypoints.portal.notices import router as notices
    from dmp.entrypoints.portal.security import router as security
    from dmp.entrypoints.portal.web import install as install_web
    from dmp.services.notices import notice_table
    from dmp.services.wording import wording

    wording()
    notice_table()
    install_web(app)
    app.state.spool_dir = ctx.settings.data_dir / "spool"
    app.state.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # uploads in transit
    # The pages of fixed addresses before /documents/{id}, which would take them for an id.
    pages = (document_add.router, document_destroy.router, documents, document_contents.router)
    mine = (account.router, closing.router, export.router, demo.router)
    for router in (home, login, security, authorizations, history, notices, *mine, *pages):
        app.include_router(router)
