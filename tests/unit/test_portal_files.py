"""What the portal reads of a file sent from a browser, how it names a downloaded one, which types
a patient adds, and how it reads a document id."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from dmp.domain.content import declared_type, extension
from dmp.domain.valuesets import load_valuesets
from dmp.entrypoints.portal.document_contents import file_name
from dmp.entrypoints.portal.documents import document_id
from dmp.errors import UnsupportedContent


@pytest.mark.parametrize(
    ("content_type", "filename", "expected"),
    [
        ("application/pdf", "x.bin", "application/pdf"),  # the part's type first
        ("Image/PNG; charset=binary", "", "image/png"),
        ("application/xml", "cda.xml", "text/xml"),
        ("application/octet-stream", "Scan.TIFF", "image/tiff"),
        ("", "note.txt", "text/plain"),
        (None, "photo.jpeg", "image/jpeg"),
    ],
)
def test_the_declared_type_of_a_file(content_type, filename, expected):
    assert declared_type(content_type, filename) == expected


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [("application/msword", "lettre.doc"), ("", "sans-extension"), (None, None), ("", ".")],
)
def test_a_file_of_no_accepted_type(content_type, filename):
    with pytest.raises(UnsupportedContent, match="Ce type de fichier n'est pas accepté"):
        declared_type(content_type, filename)


def test_extensions():
    assert [extension(t) for t in ("application/pdf", "image/jpeg", "text/xml")] == [
        "pdf",
        "jpg",
        "xml",
    ]
    assert extension("application/x-unknown") == "bin"


def test_the_patients_types_are_those_of_class_90():
    types = load_valuesets().patient_types()
    assert [t.code for t in types] == [f"DOCPAT0{n}" for n in range(1, 10)] + [
        "EXPPAT_1",
        "EXPPAT_2",
        "EXPPAT_3",
    ]
    assert types[0].display == "Directives anticipées"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "Compte rendu : hôpital",
            'filename="Compte_rendu_hopital.pdf"; '
            "filename*=UTF-8''Compte%20rendu%20%3A%20h%C3%B4pital.pdf",
        ),
        ('"; evil="1', "filename=\"evil_1.pdf\"; filename*=UTF-8''%22%3B%20evil%3D%221.pdf"),
        ("数据", "filename=\"pdf\"; filename*=UTF-8''%E6%95%B0%E6%8D%AE.pdf"),
        ("   ", "filename=\"document.pdf\"; filename*=UTF-8''document.pdf"),
    ],
)
def test_a_downloaded_file_is_named_after_its_title(title, expected):
    assert file_name(title, "application/pdf") == expected


def test_a_document_id():
    known = uuid4()
    assert document_id(str(known)) == known
    assert document_id(str(known).upper()) == known
    nil = UUID(int=0)
    for text in (
        "",
        "x",
        str(known)[:-1],
        "１" * 36,
        f"{{{known}}}",
        known.hex,
        f"urn:uuid:{known}",
    ):
        assert document_id(text) == nil, text
