"""The catalogue of synthetic documents, the PNG and the patient's own text document."""

from __future__ import annotations

import io
import random
import struct
import zlib
from datetime import date, datetime

import filetype
import pytest
from defusedxml import ElementTree

from dmp.demo.documents import (
    CATALOGUE,
    CDA_FORMAT,
    MIME_SUFFICIENT_FORMAT,
    DocumentKind,
    advance_directives_text,
    document_kind,
    ecg_png,
)
from dmp.demo.identities import SyntheticPerson, SyntheticProfessional
from dmp.demo.png import PNG_SIGNATURE
from dmp.domain.model import PATIENT_CLASS
from dmp.domain.valuesets import load_valuesets

EXPECTED_TYPES = {
    "consultation": "11488-4",
    "lab": "11502-2",
    "imaging": "18748-4",
    "prescription": "57833-6",
    "discharge": "11490-0",
    "summary": "60591-5",
    "ecg": "11488-4",
    "advance_directives": "DOCPAT01",
}


def _recognised(kind: DocumentKind, content: bytes) -> bool:
    """What a magic-bytes check would say of ``content`` against the declared MIME type."""
    if kind.mime_type == "text/xml":
        root = ElementTree.fromstring(content)
        return bool(root.tag == "{urn:hl7-org:v3}ClinicalDocument")
    if kind.mime_type == "text/plain":
        return b"\x00" not in content and bool(content.decode("utf-8"))
    return bool(filetype.guess_mime(content) == kind.mime_type)


def test_catalogue_maps_each_generator_to_its_type() -> None:
    assert {kind.name: kind.type_code for kind in CATALOGUE} == EXPECTED_TYPES
    assert len({kind.name for kind in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("kind", CATALOGUE, ids=lambda k: k.name)
def test_catalogue_codes_exist_in_the_value_sets(kind: DocumentKind) -> None:
    valuesets = load_valuesets()
    document_type = valuesets.document_type(kind.type_code)
    valuesets.check_format(kind.format_code, kind.mime_type)
    assert kind.mime_type in valuesets.mime_types
    assert kind.format_code == (
        CDA_FORMAT if kind.mime_type == "text/xml" else MIME_SUFFICIENT_FORMAT
    )
    assert kind.by_patient == (document_type.class_code == PATIENT_CLASS)


@pytest.mark.parametrize("kind", CATALOGUE, ids=lambda k: k.name)
def test_every_kind_makes_recognisable_deterministic_content(
    kind: DocumentKind, patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    author = None if kind.by_patient else doctor
    content = kind.generate(random.Random(4), patient, author, when)
    assert _recognised(kind, content)
    assert kind.generate(random.Random(4), patient, author, when) == content
    title = kind.title(author, when)
    assert title.strip()
    assert len(title) <= 128


@pytest.mark.parametrize("kind", [k for k in CATALOGUE if not k.by_patient], ids=lambda k: k.name)
def test_professional_documents_need_an_author(
    kind: DocumentKind, patient: SyntheticPerson, when: datetime
) -> None:
    with pytest.raises(ValueError, match="author"):
        kind.generate(random.Random(0), patient, None, when)


def test_document_kind_looks_up_by_name() -> None:
    assert document_kind("lab").type_code == "11502-2"
    with pytest.raises(KeyError):
        document_kind("horoscope")


def test_advance_directives_are_utf8_text_about_the_patient(patient: SyntheticPerson) -> None:
    content = advance_directives_text(random.Random(1), patient, date(2026, 3, 14))
    text = content.decode("utf-8")
    assert text.startswith("DIRECTIVES ANTICIPÉES\n")
    assert patient.ins in text
    assert patient.family_name.upper() in text
    assert f"Fait à {patient.city}, le 14/03/2026." in text
    assert "FICTIF" in text
    assert advance_directives_text(random.Random(1), patient, date(2026, 3, 14)) == content


def test_advance_directives_without_a_date_are_signed_as_an_adult(
    patient: SyntheticPerson,
) -> None:
    text = advance_directives_text(random.Random(2), patient).decode("utf-8")
    signed = datetime.strptime(text.split(", le ")[-1][:10], "%d/%m/%Y").date()
    assert (signed - patient.birth_date).days > 18 * 365
    assert signed <= date(2026, 1, 1)


def _chunks(content: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset < len(content):
        (length,) = struct.unpack(">I", content[offset : offset + 4])
        tag = content[offset + 4 : offset + 8]
        data = content[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", content[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(tag + data), tag
        chunks.append((tag, data))
        offset += 12 + length
    return chunks


def test_ecg_is_a_valid_png() -> None:
    content = ecg_png(random.Random(1), seconds=4, height=120)
    assert content.startswith(PNG_SIGNATURE)
    chunks = _chunks(content)
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1] == (b"IEND", b"")
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (width, height, depth, colour) == (400, 120, 8, 2)
    raw = zlib.decompress(b"".join(data for tag, data in chunks if tag == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)


def test_ecg_decodes_with_an_imaging_library() -> None:
    image_module = pytest.importorskip("PIL.Image")
    image = image_module.open(io.BytesIO(ecg_png(random.Random(2))))
    image.load()
    assert image.size == (1000, 200)
    pixels = image.convert("RGB").tobytes()
    dark = sum(1 for i in range(0, len(pixels), 3) if sum(pixels[i : i + 3]) < 200)
    assert dark > 1000  # the trace is drawn


def test_ecg_is_deterministic_and_follows_the_heart_rate() -> None:
    assert ecg_png(random.Random(3)) == ecg_png(random.Random(3))
    assert ecg_png(random.Random(3)) != ecg_png(random.Random(4))
    assert b"72/min" in ecg_png(random.Random(3), heart_rate=72)
