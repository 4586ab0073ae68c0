"""The application ``dmp serve`` serves: the professional API under ``/fhir`` (FHIR R4, IHE
MHD) and the patient portal at ``/`` (French pages), with the security headers and the error
answers of each: an ``OperationOutcome`` on the API, a French page on the portal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dmp import __version__
from dmp.entrypoints import portal, pro
from dmp.entrypoints.fhir import app as api
from dmp.entrypoints.fhir import errors as api_errors
from dmp.entrypoints.fhir.cors import Cors
from dmp.entrypoints.portal import errors as page_errors
from dmp.errors import DmpError
from dmp.services.context import Context

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _is_api(path: str) -> bool:
    return path == api.PREFIX or path.startswith(api.PREFIX + "/") or path == "/openapi.json"


class SecurityHeaders:
    """Adds the security headers to every answer: the API's strict policy on the API, the
    pages' on the portal (an answer may set its own, e.g. a document shown in a frame); health
    data are never cached unless an answer says otherwise (the portal's static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = api.CONTENT_SECURITY_POLICY if _is_api(scope["path"]) else portal.CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [*_COMMON, (b"x-frame-options", b"DENY")]
                wanted.append((b"content-security-policy", policy))
                wanted.append((b"cache-control", b"no-store"))
                headers += [h for h in wanted if h[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _dispatch(api_handler: Handler, page_handler: Handler) -> Handler:
    """One handler per kind of failure: the API's answer on the API, the portal's elsewhere."""

    async def handle(request: Request, exc: Exception) -> Response:
        if _is_api(request.url.path):
            return await api_handler(request, exc)
        return await page_handler(request, exc)

    return handle


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="DMP — API des professionnels de santé (FHIR R4, IHE MHD)",
        version=__version__,
        description="Toutes les erreurs sont des OperationOutcome. Voir GET /fhir/metadata.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    api.install(app, ctx)
    portal.install(app, ctx)
    pro.install(app, ctx)
    for kind in (DmpError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(
            kind, _dispatch(api_errors.HANDLERS[kind], page_errors.HANDLERS[kind])
        )
    app.add_middleware(Cors, origins=ctx.settings.cors_origins, is_api=_is_api)
    app.add_middleware(SecurityHeaders)
    return app
