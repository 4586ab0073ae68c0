"""Builders of test inputs: document metadata and contents."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from dmp.domain.model import Confidentiality, ContentInput, DocumentMetadata
from dmp.services.documents import Submission

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n" + b"0" * 400 + b"\n%%EOF\n"
CDA = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">'
    b"<title>Lettre de liaison</title></ClinicalDocument>"
)


def sized_pdf(size: int) -> bytes:
    """A PDF of exactly ``size`` bytes, its body every byte value in turn."""
    body = bytes(range(256)) * (size // 256 + 1)
    return (b"%PDF-1.4\n" + body)[: size - 6] + b"%%EOF\n"


def metadata(**overrides: object) -> DocumentMetadata:
    values: dict[str, object] = {
        "master_identifier": f"urn:oid:1.2.250.1.999.{uuid4().int % 10**12}",
        "type_code": "11488-4",
        "title": "Compte rendu de consultation",
        "creation_time": datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        "format_code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
        "confidentiality": Confidentiality.NORMAL,
    }
    values.update(overrides)
    return DocumentMetadata(**values)  # type: ignore[arg-type]


def pdf_submission(content: bytes = PDF, **overrides: object) -> Submission:
    return Submission(metadata(**overrides), [ContentInput("application/pdf", [content])])
