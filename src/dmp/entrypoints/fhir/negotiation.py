"""Content negotiation (FHIR R4 http.html §3.1.0.1.5): which representation a client asked for.

- ``_format`` (``json``, ``xml`` or a media type) wins over ``Accept``, as FHIR says;
- ``Accept`` is read with its quality values (RFC 9110 §12.5.1): each offer takes the quality of
  the most specific range that matches it, the best offer wins, and a tie goes to the first
  offer (FHIR JSON for a resource; the document's own type for ITI-68);
- a range naming another ``fhirVersion`` than 4.0 matches nothing: asked for alone, the answer is
  406, like a request for a representation the server does not have.

Resources are written as JSON, or as XML through the R4B models of ``fhir.resources`` (which
also checks them on the way out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fhir.resources.R4B import get_fhir_model_class

from dmp.entrypoints.fhir import mapping
from dmp.entrypoints.fhir.errors import FHIR_JSON, FHIR_XML, FhirResponse, NotAcceptable

JSON = "json"
XML = "xml"
# The media types each FHIR format answers to.
FHIR_TYPES: dict[str, frozenset[str]] = {
    JSON: frozenset({FHIR_JSON, "application/json"}),
    XML: frozenset({FHIR_XML, "application/xml"}),
}
_FORMATS = {
    JSON: JSON,
    XML: XML,
    **dict.fromkeys(FHIR_TYPES[JSON], JSON),
    **dict.fromkeys(FHIR_TYPES[XML], XML),
    "text/xml": XML,
}
FHIR_VERSION = "4.0"


@dataclass(frozen=True, slots=True)
class Range:
    """One media range of an ``Accept`` header."""

    kind: str  # "text", or "*"
    subtype: str  # "plain", or "*"
    quality: float

    def specificity(self, media: str) -> int:
        """How closely this range names ``media`` (2 exactly, 1 by its type, 0 by ``*/*``), or
        -1 if it does not match it."""
        kind, _, subtype = media.partition("/")
        if (self.kind, self.subtype) == (kind, subtype):
            return 2
        if self.kind == kind and self.subtype == "*":
            return 1
        return 0 if (self.kind, self.subtype) == ("*", "*") else -1


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value <= 1.0 else 0.0


def _range(part: str) -> Range | None:
    media, *params = (p.strip() for p in part.split(";"))
    kind, slash, subtype = media.lower().partition("/")
    if not slash or not kind or not subtype:
        return None
    quality = 1.0
    for param in params:
        name, _, value = param.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name == "q":
            quality = _quality(value)
        elif name == "fhirversion" and not value.startswith(FHIR_VERSION):
            return None  # another FHIR version: this range offers nothing we have
    return Range(kind, subtype, quality)


def accept_ranges(header: str | None) -> list[Range] | None:
    """The ranges of an ``Accept`` header; None when there is none (anything is acceptable)."""
    if header is None or not header.strip():
        return None
    return [r for r in (_range(part) for part in header.split(",")) if r is not None]


def _offer_quality(ranges: list[Range], medias: frozenset[str]) -> float:
    best = (-1, 0.0)
    for media in medias:
        for one in ranges:
            found = one.specificity(media)
            if found > best[0] or (found == best[0] and one.quality > best[1]):
                best = (found, one.quality)
    return best[1] if best[0] >= 0 else 0.0


def choose(request: Request, offers: Sequence[tuple[str, frozenset[str]]]) -> str:
    """The name of the offer the request asks for (``offers``: name and media types, in the
    server's order of preference); 406 if none is acceptable."""
    wanted = request.query_params.get("_format")
    if wanted is not None:
        return _by_format(wanted, offers)
    ranges = accept_ranges(request.headers.get("accept"))
    if ranges is None:
        return offers[0][0]
    qualities = [(_offer_quality(ranges, medias), -n) for n, (_, medias) in enumerate(offers)]
    best, order = max(qualities)
    if best <= 0:
        raise NotAcceptable(
            "Aucune des représentations demandées (en-tête Accept) n'est disponible : "
            f"{', '.join(sorted({m for _, ms in offers for m in ms}))}, FHIR {FHIR_VERSION}."
        )
    return offers[-order][0]


def _by_format(wanted: str, offers: Sequence[tuple[str, frozenset[str]]]) -> str:
    name = _FORMATS.get(wanted.split(";", 1)[0].strip().lower())
    if name is None or name not in {n for n, _ in offers}:
        raise NotAcceptable(
            f"Format demandé inconnu (_format={wanted[:40]}) : json ou xml "
            "(application/fhir+json, application/fhir+xml)."
        )
    return name


RESOURCE_OFFERS = ((JSON, FHIR_TYPES[JSON]), (XML, FHIR_TYPES[XML]))


def resource_format(request: Request) -> str:
    """JSON or XML, for an answer that is a FHIR resource."""
    return choose(request, RESOURCE_OFFERS)


def to_xml(resource: dict[str, Any]) -> bytes:
    """A resource in FHIR XML, through its R4B model."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    xml: str | bytes = model.model_dump_xml()
    return xml if isinstance(xml, bytes) else xml.encode("utf-8")


def respond(
    request: Request,
    resource: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A FHIR resource, in the format the request asked for."""
    if resource_format(request) == XML:
        return Response(to_xml(resource), status_code, headers, media_type=FHIR_XML)
    return FhirResponse(resource, status_code, headers)


def empty_searchset(request: Request, self_link: str) -> Callable[[dict[str, Any]], Response]:
    """How a search that may open no DMP answers (``errors``): an empty searchset, with the
    refusal's text as an information ``OperationOutcome``, in the format asked for."""

    def answer(outcome: dict[str, Any]) -> Response:
        return respond(request, mapping.searchset([], 0, {"self": self_link}, outcome))

    return answer
