"""What a request asks of the answer besides its format: the ``Prefer`` header (RFC 7240, FHIR
R4 http.html §3.1.0.1.8 and search.html §3.1.1.3), and versions (``ETag``, ``If-Match``,
``If-None-Match``, ``Last-Modified``: http.html §3.1.0.5 and §3.1.0.7).

A DocumentReference's version (``meta.versionId``) counts the changes of its metadata: a
change of a flag or of the status is a new version of the resource, even if the document's
content does not change (a replacement is a new document, with its own id). Its ``ETag`` is
weak, ``W/"<version>"``, as FHIR says.
"""

from __future__ import annotations

import re
from datetime import UTC
from email.utils import format_datetime

from fastapi import Request

from dmp.domain.inputs import ascii_int
from dmp.domain.model import Document

RETURN = ("minimal", "representation", "OperationOutcome")
# An entity tag, weak or strong; a bare version too, as some clients send ``meta.versionId``.
_ETAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*|\s*([!#-~]+)\s*')


def preference(request: Request, name: str) -> str | None:
    """The value of one preference of the ``Prefer`` header(s), e.g. ``return`` or
    ``handling``; None if not given."""
    for header in request.headers.getlist("prefer"):
        for token in re.split("[,;]", header):
            key, _, value = token.partition("=")
            if key.strip().lower() == name:
                return value.strip().strip('"')
    return None


def strict(request: Request) -> bool:
    """``Prefer: handling=strict``: a search parameter the server does not know is an error;
    by default (``lenient``) it is ignored, and left out of the ``self`` link."""
    return (preference(request, "handling") or "").lower() == "strict"


def returned(request: Request, default: str) -> str:
    """``Prefer: return=…``: minimal, representation or OperationOutcome (else ``default``)."""
    wanted = (preference(request, "return") or "").lower()
    return next((r for r in RETURN if r.lower() == wanted), default)


def etag(doc: Document) -> str:
    return f'W/"{doc.meta_version}"'


def version_headers(doc: Document) -> dict[str, str]:
    moment = doc.last_updated.astimezone(UTC)
    return {"ETag": etag(doc), "Last-Modified": format_datetime(moment, usegmt=True)}


def _tag(text: str) -> str | None:
    found = _ETAG.fullmatch(text)
    return None if found is None else found.group(1) if found.group(1) is not None else found[2]


def _tags(header: str) -> list[str]:
    return [tag for part in header.split(",") if (tag := _tag(part)) is not None]


def not_modified(request: Request, tag: str) -> bool:
    """Whether ``If-None-Match`` names this version (or ``*``): the client has it already."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    return header.strip() == "*" or _tag(tag) in _tags(header)


def expected_version(request: Request) -> int | None:
    """The version ``If-Match`` names (None without the header, or with ``*``). A value that is
    not one of our versions names none that exists: 0, which is never current."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    tags = _tags(header)
    number = ascii_int(tags[0]) if len(tags) == 1 else None
    return number or 0
