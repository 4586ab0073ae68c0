"""CORS for the API, and for it only: the browser pages of the origins the operator allowed
(``DMP_CORS_ORIGINS``: SMART apps, web software of professionals) may call ``/fhir``; no other
origin may, and the portal's pages never answer another site's page (its sessions are cookies).

Off by default (no origin allowed). A preflight (``OPTIONS`` with
``Access-Control-Request-Method``) from an allowed origin is answered here, 204, without
reaching the API; every answer to an allowed origin names it, and exposes the headers an
integrator reads (versions, locations, digests).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = b"GET, POST, PATCH, OPTIONS"
HEADERS = (
    b"Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, "
    b"X-DMP-Access-Mode, X-DMP-Justification"
)
EXPOSED = (
    b"ETag, Last-Modified, Location, Content-Location, Content-Disposition, Repr-Digest, "
    b"WWW-Authenticate"
)
MAX_AGE = b"600"


class Cors:
    """The CORS answers of the API, for the allowed origins only."""

    def __init__(
        self, app: ASGIApp, origins: tuple[str, ...], is_api: Callable[[str], bool]
    ) -> None:
        self.app, self.origins, self.is_api = app, frozenset(origins), is_api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.origins or not self.is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin not in self.origins:
            await self.app(scope, receive, send)
            return
        allowed = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(send, allowed)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [*allowed, (b"access-control-expose-headers", EXPOSED)]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(send: Send, allowed: list[tuple[bytes, bytes]]) -> None:
    headers = [
        *allowed,
        (b"access-control-allow-methods", METHODS),
        (b"access-control-allow-headers", HEADERS),
        (b"access-control-max-age", MAX_AGE),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
