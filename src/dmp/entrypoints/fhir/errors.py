"""The one place where failures become HTTP: every error is an ``OperationOutcome``.

``DmpError`` (raised by the services and by the parsing here) keeps its status and its French
message; FastAPI's request validation (its messages put in French), unknown routes and methods,
and anything unexpected are translated too, so a client never meets an HTML page, a stack trace
or a word of English.

A search is answered with a searchset, whatever it finds: a DMP that does not exist, or that
the reader may not open (``NotFound``, the same answer for both), gives an empty searchset with
an information ``OperationOutcome``, as the Patient look-up of an INS without DMP does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dmp.errors import DmpError, NotFound

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
ERROR_SYSTEM = "https://dmp.example.org/fhir/CodeSystem/dmp-error"
log = logging.getLogger("dmp.fhir")

# FHIR issue types (http://hl7.org/fhir/issue-type) by HTTP status.
_ISSUE_TYPE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    503: "transient",
}


class FhirResponse(JSONResponse):
    """FHIR JSON: ``application/fhir+json``, UTF-8, French text kept as is."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class UnprocessablePatch(DmpError):
    code = "patch"
    status = 422
    message = "Cette modification n'est pas prise en charge."


class UnsupportedMediaType(DmpError):
    code = "media-type"
    status = 415
    message = "Type de contenu non pris en charge : envoyez application/fhir+json."


class NotAcceptable(DmpError):
    code = "not-acceptable"
    status = 406
    message = "Aucune des représentations demandées (en-tête Accept) n'est disponible."


def outcome(status: int, text: str, code: str, severity: str = "error") -> dict[str, Any]:
    issue_type = _ISSUE_TYPE.get(status, "exception" if status >= 500 else "processing")
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": issue_type if severity != "information" else "informational",
                "details": {"coding": [{"system": ERROR_SYSTEM, "code": code}], "text": text},
            }
        ],
    }


def error_response(
    status: int, text: str, code: str, headers: dict[str, str] | None = None
) -> FhirResponse:
    return FhirResponse(outcome(status, text, code), status_code=status, headers=headers)


def _challenge(request: Request) -> dict[str, str]:
    presented = request.headers.get("authorization", "").lower().startswith("bearer ")
    value = 'Bearer realm="dmp"' + (', error="invalid_token"' if presented else "")
    return {"WWW-Authenticate": value}


async def _dmp_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DmpError)
    if exc.status >= 500:
        log.error("dmp error %s on %s %s", exc.code, request.method, request.url.path)
    searchset = getattr(request.state, "searchset", None)
    if isinstance(exc, NotFound) and searchset is not None:
        answer: Response = searchset(outcome(200, exc.message, exc.code, "information"))
        return answer
    headers = _challenge(request) if exc.status == 401 else None
    return error_response(exc.status, exc.message, exc.code, headers)


# Pydantic's error types, in French: what is wrong, and so what to send instead.
_VALIDATION = {
    "missing": "paramètre obligatoire absent",
    "int_parsing": "un nombre entier (chiffres ASCII) est attendu",
    "int_type": "un nombre entier est attendu",
    "float_parsing": "un nombre est attendu",
    "bool_parsing": "true ou false est attendu",
    "string_type": "une chaîne est attendue",
    "string_too_short": "valeur trop courte",
    "string_too_long": "valeur trop longue",
    "uuid_parsing": "un identifiant UUID est attendu",
    "json_invalid": "JSON mal formé",
    "list_type": "une liste est attendue",
    "dict_type": "un objet est attendu",
}


def validation_text(error: Any) -> str:
    """One validation error of FastAPI or pydantic, in French."""
    kind, limits = error.get("type", ""), error.get("ctx") or {}
    if kind in ("greater_than_equal", "greater_than"):
        return f"doit être supérieur{' ou égal' if kind.endswith('equal') else ''} à " + str(
            limits.get("ge", limits.get("gt"))
        )
    if kind in ("less_than_equal", "less_than"):
        return f"doit être inférieur{' ou égal' if kind.endswith('equal') else ''} à " + str(
            limits.get("le", limits.get("lt"))
        )
    return _VALIDATION.get(kind, "valeur invalide")


async def _validation_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:5]:
        parts = error.get("loc", ())
        where = ".".join(str(p) for p in parts if p not in ("query", "header", "path", "body"))
        problems.append(f"{where or 'requête'} : {validation_text(error)}")
    return error_response(400, "Paramètre invalide — " + " ; ".join(problems), "invalid")


async def _http_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, StarletteHTTPException)
    texts = {
        404: "Ressource ou opération inconnue de ce serveur.",
        405: "Méthode HTTP non prise en charge sur cette ressource.",
    }
    text = texts.get(exc.status_code, f"Requête refusée (HTTP {exc.status_code}).")
    return error_response(exc.status_code, text, "http", dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> FhirResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "Erreur interne du serveur.", "internal")


# How the API answers each kind of failure (``dmp.entrypoints.app`` installs them).
HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    DmpError: _dmp_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    Exception: _unexpected,
}
