"""How the portal answers a failure: a French page saying what to do, never a stack trace;
an expired session goes back to the login page."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dmp.entrypoints.portal import web
from dmp.errors import DmpError
from dmp.services.sessions import SignInRequired, StepUpRequired

log = logging.getLogger("dmp.portal")
_HTTP = {
    404: "Cette page n'existe pas, ou vous n'y avez pas accès.",
    405: "Cette action ne se fait pas ainsi : revenez à la page précédente.",
}


def _is_pro(request: Request) -> bool:
    path = request.url.path
    return path == "/pro" or path.startswith("/pro/")


def _error_page(request: Request, status: int, message: str) -> Response:
    if _is_pro(request):
        from dmp.entrypoints.pro.web import page as pro_page

        return pro_page(request, "pro/error.html", status=status, message=message)
    return web.page(request, "error.html", status=status, message=message)


async def _dmp_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DmpError)
    if isinstance(exc, SignInRequired) and _is_pro(request):
        return RedirectResponse("/pro/connexion", status_code=303)
    if isinstance(exc, SignInRequired):
        web.forget(request)
        target = request.url.path if request.method == "GET" else "/tableau-de-bord"
        return RedirectResponse(f"/connexion?suite={quote(target)}", status_code=303)
    if isinstance(exc, StepUpRequired):
        # A fresh code first, then back to the page (a form posts to its own page's address).
        return RedirectResponse(f"/confirmer?suite={quote(request.url.path)}", status_code=303)
    if exc.status >= 500:
        log.error("dmp error %s on %s %s", exc.code, request.method, request.url.path)
    return _error_page(request, exc.status, exc.message)


async def _validation_error(request: Request, exc: Exception) -> Response:
    return _error_page(request, 400, "Les informations envoyées sont incomplètes ou invalides.")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    text = _HTTP.get(exc.status_code, "La demande n'a pas pu être traitée.")
    return _error_page(request, exc.status_code, text)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _error_page(request, 500, "Une erreur est survenue. Réessayez dans quelques instants.")


HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    DmpError: _dmp_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    Exception: _unexpected,
}
