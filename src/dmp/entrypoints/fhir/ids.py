"""The FHIR ids of what the API shows, and how to read them back.

The services address a document by its DMP and its own id, so a document's FHIR id carries both.
FHIR ids are at most 64 characters of ``[A-Za-z0-9.-]``: two UUIDs in hex (65 characters with a
separator) do not fit, so each UUID is written in lowercase base32 (26 characters, RFC 4648):

- ``Patient/<dmp>`` — the DMP (the patient's record);
- ``DocumentReference/<dmp>.<document>`` — a document of that DMP;
- ``Binary/<dmp>.<document>.<position>`` — one content of that document.

An id that does not parse names nothing: it is answered 404, like a document one may not see.
"""

from __future__ import annotations

import base64
import functools
import re
from uuid import UUID

from dmp.domain.inputs import ascii_int
from dmp.errors import InvalidInput, NotFound

_COMPACT = re.compile(r"[a-z2-7]{26}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_POSITION = 999


# RFC 4648's base32 alphabet, lowercase, and every pair of its digits: a UUID's 128 bits and two
# zero bits of padding are 13 pairs. ``base64.b32encode`` is Python code in the versions we run
# on, and a search's page wrote ~140 ids with it: 2 µs each against 0.7 µs here
# (docs/performance.md, 2026-11-30).
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_PAIRS = tuple(high + low for high in _BASE32 for low in _BASE32)
_SHIFTS = tuple(range(120, -1, -10))


@functools.lru_cache(maxsize=4096)
def compact(value: UUID) -> str:
    """The UUID in lowercase base32 without padding, as ``base64.b32encode`` writes it.
    Remembered for the last few thousand UUIDs: a search's page writes its DMP's id with each
    document, and each document's id three times (its id, its content's, its full URL)."""
    bits = value.int << 2
    return "".join([_PAIRS[(bits >> shift) & 1023] for shift in _SHIFTS])


def expand(text: str) -> UUID | None:
    """The UUID written by :func:`compact` (or in its canonical form); None if it is neither."""
    if _UUID.fullmatch(text):
        return UUID(text)
    if not _COMPACT.fullmatch(text):
        return None
    value = UUID(bytes=base64.b32decode(text.upper() + "======"))
    return value if compact(value) == text else None  # one spelling per UUID


def patient_id(dmp_id: UUID) -> str:
    return compact(dmp_id)


def document_id(dmp_id: UUID, doc_id: UUID) -> str:
    return f"{compact(dmp_id)}.{compact(doc_id)}"


def binary_id(dmp_id: UUID, doc_id: UUID, position: int) -> str:
    return f"{document_id(dmp_id, doc_id)}.{position}"


def _not_found(what: str) -> NotFound:
    return NotFound(f"{what} introuvable ou accès non autorisé.")


def parse_document_id(text: str) -> tuple[UUID, UUID]:
    dmp, _, doc = text.partition(".")
    dmp_id, doc_id = expand(dmp), expand(doc)
    if dmp_id is None or doc_id is None:
        raise _not_found("Document")
    return dmp_id, doc_id


def parse_binary_id(text: str) -> tuple[UUID, UUID, int]:
    """The content's DMP, document and position, this last in ASCII digits, written one way
    (``0``, never ``00``): an id echoed back, in a header for one, is always a canonical one."""
    head, _, written = text.rpartition(".")
    position = ascii_int(written)
    if position is None or position > MAX_POSITION or str(position) != written:
        raise _not_found("Contenu")
    try:
        dmp_id, doc_id = parse_document_id(head)
    except NotFound:
        raise _not_found("Contenu") from None
    return dmp_id, doc_id, position


def parse_patient_reference(text: str) -> UUID:
    """``Patient/<id>``, a full URL ending so, or the bare id (compact or canonical UUID)."""
    raw = text.strip()
    if "Patient/" in raw:
        raw = raw.rsplit("Patient/", 1)[1]
    found = expand(raw)
    if found is None:
        raise InvalidInput(f"Référence de patient invalide : {text[:80]!r}.", code="patient")
    return found
