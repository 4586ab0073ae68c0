"""Small HTTP helpers shared by the handlers: reading a JSON body with a size cap and without
characters no one means, checking the media type, running a use case off the event loop."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from dmp.domain.inputs import never_meant
from dmp.entrypoints.fhir.errors import UnsupportedMediaType
from dmp.errors import InvalidInput, TooLarge
from dmp.services.context import Context

JSON_TYPES = frozenset({"application/fhir+json", "application/json"})
PATCH_TYPES = JSON_TYPES | {"application/json-patch+json"}
MAX_JSON_BODY = 1024 * 1024  # a Parameters or a patch; documents go through the transaction
T = TypeVar("T")


def base_url(request: Request) -> str:
    """The base of the FHIR API as the client reached it (``…/fhir``)."""
    return str(request.base_url).rstrip("/") + "/fhir"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_media_type(request: Request, accepted: frozenset[str] = JSON_TYPES) -> None:
    found = media_type(request)
    if found and found not in accepted:
        raise UnsupportedMediaType(
            f"Type de contenu non pris en charge : {found[:60]} "
            f"(attendu : {', '.join(sorted(accepted))})."
        )


async def read_body(request: Request, accepted: frozenset[str]) -> bytes:
    """A small body (a Parameters, a patch, a search form), refused past ``MAX_JSON_BODY``
    before it is all read."""
    check_media_type(request, accepted)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_JSON_BODY:
                raise TooLarge("Le corps de la requête dépasse 1 Mio.")
    except ClientDisconnect:
        raise InvalidInput("Requête interrompue par le client.") from None
    return bytes(body)


async def read_json(request: Request, accepted: frozenset[str] = JSON_TYPES) -> Any:
    """The JSON body, refused past ``MAX_JSON_BODY`` before it is all read."""
    return parse_json(await read_body(request, accepted))


def parse_json(body: bytes, placeholder: Callable[[str], bool] = lambda _: False) -> Any:
    """The JSON document, refused if any of its strings or names holds a character no one means
    (a control character, or half a UTF-16 surrogate pair written ``\\ud800``): the one place
    where such text is stopped, before it reaches a use case, the database or an answer.
    ``placeholder`` tells the strings that stand for something else (see ``spool``)."""
    if not body.strip():
        raise InvalidInput("Le corps de la requête est vide : une ressource FHIR est attendue.")
    try:
        document = json.loads(body)
    except RecursionError:
        raise InvalidInput("JSON trop profondément imbriqué.", code="json") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(json_error(exc), code="json") from None
    except ValueError:  # UnicodeDecodeError
        raise InvalidInput(
            "JSON mal formé : le corps n'est pas encodé en UTF-8. Envoyez du JSON en UTF-8.",
            code="json",
        ) from None
    where = unmeant_text(document, placeholder)
    if where is not None:
        raise InvalidInput(
            f"Caractère non admis dans le JSON ({where}) : caractère de contrôle ou demi-paire "
            "UTF-16 isolée (\\ud800 à \\udfff). Corrigez le texte envoyé.",
            code="character",
        )
    return document


# What the json module says of a malformed document, in French.
_JSON_ERRORS = (
    ("Expecting value", "une valeur est attendue"),
    ("Expecting property name", "un nom de propriété entre guillemets est attendu"),
    ("Expecting ',' delimiter", "une virgule est attendue"),
    ("Expecting ':' delimiter", "deux-points sont attendus"),
    ("Unterminated string", "chaîne non terminée (guillemet fermant manquant)"),
    ("Invalid control character", "caractère de contrôle non échappé dans une chaîne"),
    ("Invalid \\uXXXX escape", "séquence \\uXXXX invalide"),
    ("Invalid \\escape", "séquence d'échappement invalide"),
    ("Extra data", "contenu en trop après la fin du document"),
    ("Illegal trailing comma", "virgule en trop avant la fermeture"),
)


def json_error(exc: json.JSONDecodeError) -> str:
    """Where and why a JSON document does not parse, in French, to say what to fix."""
    why = next((fr for en, fr in _JSON_ERRORS if exc.msg.startswith(en)), "syntaxe invalide")
    return f"JSON mal formé, ligne {exc.lineno}, colonne {exc.colno} : {why}."


def unmeant_text(document: Any, placeholder: Callable[[str], bool]) -> str | None:
    """The JSON path of the first string or name holding a character no one means, or None.
    Iterative (as deep as ``json`` parses, no deeper stack). A clean body costs one quick pass;
    paths are spelled out only once something is found."""

    def unmeant(text: str) -> bool:
        return never_meant(text) and not placeholder(text)

    pending: list[Any] = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if unmeant(value):
                return _path_to(document, unmeant)
        elif isinstance(value, dict):
            if any(unmeant(name) for name in value):
                return _path_to(document, unmeant)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


def _path_to(document: Any, unmeant: Callable[[str], bool]) -> str:
    pending: list[tuple[str, Any]] = [("$", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and unmeant(value):
            return path[:200]
        if isinstance(value, dict):
            for name, item in value.items():
                if unmeant(name):
                    return f"{path[:200]}.<nom>"
                pending.append((f"{path}.{name[:40]}", item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return "$"


def resource_of(body: Any, resource_type: str) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        found = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        raise InvalidInput(
            f"Ressource {resource_type} attendue (reçu : {str(found)[:40]}).", code="resource-type"
        )
    return body


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A use case (blocking: database, files) run in the thread pool."""
    return await run_in_threadpool(function, *args, **kwargs)


async def call_consult(ctx: Context, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A consult's use case (authentication, a search, a read, a content's opening): run
    here, on the event loop, where ``ctx.consult_on_loop`` says so; it is short and waits on
    nothing but the database (at most a row lock that an audit append holds to its commit) and
    local files. The hop to the thread pool and back, with its thread switches, cost more CPU
    than the use case itself (ADR 7). Elsewhere, in the thread pool."""
    if ctx.consult_on_loop:
        return function(*args, **kwargs)
    return await run_in_threadpool(function, *args, **kwargs)
