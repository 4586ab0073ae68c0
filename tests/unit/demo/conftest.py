"""Shared synthetic people for the demo content tests."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

import pytest

from dmp.demo.identities import (
    SyntheticPerson,
    SyntheticProfessional,
    fake_person,
    fake_professional,
)

WHEN = datetime(2026, 11, 3, 14, 30, tzinfo=timezone(timedelta(hours=1)))


@pytest.fixture
def when() -> datetime:
    return WHEN


@pytest.fixture
def patient() -> SyntheticPerson:
    return fake_person(random.Random(11))


@pytest.fixture
def child() -> SyntheticPerson:
    return fake_person(random.Random(12), minor=True)


@pytest.fixture
def doctor() -> SyntheticProfessional:
    return fake_professional(random.Random(13), specialty="Médecine générale")


def pdf_pages(content: bytes) -> int:
    """The number of page objects, checked against the /Count of the page tree."""
    pages = len(re.findall(rb"/Type /Page\b", content))
    counts = [int(n) for n in re.findall(rb"/Count (\d+)", content)]
    assert counts == [pages]
    return pages


def assert_pdf_structure(content: bytes) -> None:
    """Header, trailer, and every in-use cross-reference entry pointing at its object."""
    assert content.startswith(b"%PDF-")
    assert content.rstrip().endswith(b"%%EOF")
    start = int(re.findall(rb"startxref\s+(\d+)", content)[-1])
    assert content[start:].startswith(b"xref")
    header = re.match(rb"xref\s+(\d+) (\d+)\s+", content[start:])
    assert header is not None
    first, count = int(header.group(1)), int(header.group(2))
    entries = re.findall(rb"(\d{10}) (\d{5}) ([nf])", content[start:])[:count]
    assert len(entries) == count
    for number, (offset, _, kind) in enumerate(entries, start=first):
        if kind == b"n":
            assert content[int(offset) :].startswith(f"{number} 0 obj".encode()), number
