"""The content check: magic bytes, CDA root, UTF-8 text, size limit, streaming."""

from __future__ import annotations

import pytest

from dmp.domain.content import inspect
from dmp.errors import TooLarge, UnsupportedContent
from tests.factories import CDA, PDF

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 300
TIFF = b"II*\x00" + b"\x00" * 300


def _run(mime, data, limit=10**6, chunk=7):
    return b"".join(inspect(mime, [data[i : i + chunk] for i in range(0, len(data), chunk)], limit))


@pytest.mark.parametrize(
    ("mime", "data"),
    [
        ("application/pdf", PDF),
        ("text/xml", CDA),
        ("image/png", PNG),
        ("image/jpeg", JPEG),
        ("image/tiff", TIFF),
        ("text/plain", "Directives anticipées : œuvre".encode()),
    ],
)
def test_accepted_contents_pass_unchanged(mime, data):
    assert _run(mime, data) == data


@pytest.mark.parametrize(
    ("mime", "data", "why"),
    [
        ("application/pdf", CDA, "type"),
        ("application/pdf", PNG, "image/png"),
        ("image/png", JPEG, "image/jpeg"),
        ("text/xml", b"<ClinicalDocument>unclosed", "XML"),
        ("text/xml", b'<Other xmlns="urn:hl7-org:v3"/>', "CDA"),
        ("text/xml", b"<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><d>&e;</d>", "XML"),
        ("text/plain", b"abc\x00def", "nul"),
        ("text/plain", "é".encode()[:1], "UTF-8"),
        ("text/plain", b"", "vide"),
        ("application/x-msdownload", b"MZ", "non accepté"),
    ],
)
def test_refused_contents_say_why(mime, data, why):
    with pytest.raises(UnsupportedContent, match=why):
        _run(mime, data)


def test_size_limit_stops_reading():
    consumed = []

    def stream():
        for i in range(100):
            consumed.append(i)
            yield b"%PDF-" + b"0" * 995

    with pytest.raises(TooLarge):
        b"".join(inspect("application/pdf", stream(), 10_000))
    assert len(consumed) == 11  # stopped as soon as the limit was passed


def test_mistyped_binary_is_refused_before_the_rest_is_read():
    consumed = []

    def stream():
        for i in range(100):
            consumed.append(i)
            yield b"x" * 1000

    with pytest.raises(UnsupportedContent):
        b"".join(inspect("application/pdf", stream(), 10**7))
    assert len(consumed) == 1
