"""The professional API: FHIR R4 JSON under ``/fhir`` (IHE MHD for documents), and its OpenAPI
description at ``/openapi.json``."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dmp import __version__
from dmp.entrypoints.fhir import bundle, capability, documents, errors, patients
from dmp.services.context import Context

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


class SecurityHeaders:
    """Adds the security headers to every answer; health data are never cached by default."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="DMP — API des professionnels de santé (FHIR R4, IHE MHD)",
        version=__version__,
        description="Toutes les erreurs sont des OperationOutcome. Voir GET /fhir/metadata.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.spool_dir = ctx.settings.data_dir / "spool"
    app.state.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # uploads in transit
    errors.install(app)
    for module in (capability, patients, documents, bundle):
        app.include_router(module.router)
    app.add_middleware(SecurityHeaders)
    return app
