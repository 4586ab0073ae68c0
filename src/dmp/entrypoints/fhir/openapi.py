"""What the OpenAPI document says of each route: FHIR resources in and out, every error as an
``OperationOutcome`` (the ``4XX`` range), and the raw contents of ITI-68."""

from __future__ import annotations

from typing import Any

from dmp.entrypoints.fhir.bodies import JSON_TYPES, PATCH_TYPES
from dmp.entrypoints.fhir.errors import FHIR_JSON

Json = dict[str, Any]
Responses = dict[int | str, dict[str, Any]]
CONTENT_TYPES = (
    "application/pdf",
    "text/xml",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "text/plain",
)


def resource_schema(*resource_types: str) -> Json:
    return {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": list(resource_types)}},
    }


def _fhir(*resource_types: str) -> Json:
    return {FHIR_JSON: {"schema": resource_schema(*resource_types)}}


ERRORS: Responses = {
    "4XX": {
        "description": "Demande refusée ou invalide : OperationOutcome (texte en français). "
        "401 porte l'en-tête WWW-Authenticate: Bearer.",
        "content": _fhir("OperationOutcome"),
    }
}


def responses(description: str, *resource_types: str, status: int = 200) -> Responses:
    return {status: {"description": description, "content": _fhir(*resource_types)}, **ERRORS}


def binary_responses() -> Responses:
    content: Json = {t: {"schema": {"type": "string", "format": "binary"}} for t in CONTENT_TYPES}
    content.update(_fhir("Binary"))
    description = (
        "Le contenu brut (type MIME du document, ETag et Repr-Digest SHA-256), ou une ressource "
        "Binary (base64) si Accept demande application/fhir+json."
    )
    return {200: {"description": description, "content": content}, **ERRORS}


def request_body(*resource_types: str, media_types: frozenset[str] = JSON_TYPES) -> Json:
    schema = resource_schema(*resource_types)
    return {
        "requestBody": {
            "required": True,
            "content": {media: {"schema": schema} for media in sorted(media_types)},
        }
    }


def patch_body() -> Json:
    json_patch = {"type": "array", "items": {"type": "object", "required": ["op", "path"]}}
    content = {
        media: {"schema": {"oneOf": [json_patch, resource_schema("Parameters")]}}
        for media in sorted(PATCH_TYPES)
    }
    return {"requestBody": {"required": True, "content": content}}


def _parameter_schema(kind: str) -> Json:
    return {"type": "integer", "minimum": 0} if kind == "number" else {"type": "string"}


def search_parameters(table: dict[str, tuple[str, str]]) -> Json:
    """The query parameters of a search, from the table its code reads."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": _parameter_schema(kind),
                "description": text,
            }
            for name, (kind, text) in table.items()
        ]
    }


def form_body(table: dict[str, tuple[str, str]]) -> Json:
    """A search whose parameters come in a form-encoded body."""
    properties = {name: _parameter_schema(kind) for name, (kind, _) in table.items()}
    schema = {"type": "object", "properties": properties}
    media = "application/x-www-form-urlencoded"
    return {"requestBody": {"required": False, "content": {media: {"schema": schema}}}}
