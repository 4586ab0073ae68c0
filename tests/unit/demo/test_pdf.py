"""Synthetic PDFs: real, deterministic, latin-1 safe, and of the requested size."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import filetype
import pytest

from dmp.demo.documents import (
    consultation_pdf,
    imaging_report_pdf,
    lab_report_pdf,
    prescription_pdf,
    sized_pdf,
)
from dmp.demo.identities import SyntheticPerson, SyntheticProfessional, fake_person
from dmp.demo.pdf import FICTION_NOTICE, latin1

from .conftest import assert_pdf_structure, pdf_pages

PdfMaker = Callable[[random.Random, SyntheticPerson, SyntheticProfessional, datetime], bytes]
MAKERS: list[PdfMaker] = [consultation_pdf, lab_report_pdf, imaging_report_pdf, prescription_pdf]


@pytest.mark.parametrize("make", MAKERS)
def test_pdfs_are_real_pdfs(
    make: PdfMaker, patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    content = make(random.Random(1), patient, doctor, when)
    assert_pdf_structure(content)
    assert filetype.guess_mime(content) == "application/pdf"
    assert pdf_pages(content) >= 1


@pytest.mark.parametrize("make", MAKERS)
def test_same_seed_same_bytes_other_seed_other_bytes(
    make: PdfMaker, patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    first = make(random.Random(5), patient, doctor, when)
    assert make(random.Random(5), patient, doctor, when) == first
    assert make(random.Random(6), patient, doctor, when) != first


@pytest.mark.parametrize("make", MAKERS)
def test_creation_date_comes_from_when(
    make: PdfMaker, patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    content = make(random.Random(1), patient, doctor, when)
    assert b"/CreationDate (D:20261103143000+01'00'" in content


def test_naive_dates_are_read_as_utc(
    patient: SyntheticPerson, doctor: SyntheticProfessional
) -> None:
    content = prescription_pdf(random.Random(1), patient, doctor, datetime(2026, 2, 1, 8, 0))
    assert b"/CreationDate (D:20260201080000Z" in content


@pytest.mark.parametrize("pages", [1, 2])
def test_consultation_has_the_requested_pages(
    pages: int, patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    for seed in range(15):
        for person in (patient, fake_person(random.Random(seed), minor=True)):
            content = consultation_pdf(random.Random(seed), person, doctor, when, pages=pages)
            assert pdf_pages(content) == pages


def test_consultation_draws_one_or_two_pages(
    patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    counts = {
        pdf_pages(consultation_pdf(random.Random(seed), patient, doctor, when))
        for seed in range(30)
    }
    assert counts == {1, 2}


def test_consultation_refuses_three_pages(
    patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    with pytest.raises(ValueError, match="one or two pages"):
        consultation_pdf(random.Random(1), patient, doctor, when, pages=3)


@pytest.mark.parametrize("make", [lab_report_pdf, imaging_report_pdf, prescription_pdf])
def test_the_other_reports_fit_on_one_page(
    make: PdfMaker, doctor: SyntheticProfessional, when: datetime
) -> None:
    for seed in range(25):
        person = fake_person(random.Random(seed), minor=seed % 2 == 0)
        content = make(random.Random(seed), person, doctor, when)
        assert pdf_pages(content) == 1


def test_characters_outside_latin1_are_transliterated() -> None:
    assert latin1("Lœuillet, l’œdème – 5 €…") == "Loeuillet, l'oedème - 5 EUR..."
    assert latin1("Hélène à l'hôpital, 37,5 °C, 75 µg") == "Hélène à l'hôpital, 37,5 °C, 75 µg"
    assert latin1("Łukasz Dvořák 漢") == "Lukasz Dvorák ?"
    latin1(FICTION_NOTICE).encode("latin-1")


def test_names_outside_latin1_do_not_break_a_pdf(
    patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    odd = replace(patient, family_name="Lœuillet", given_names="Zoë’ Łucja")
    for make in MAKERS:
        assert make(random.Random(1), odd, doctor, when).startswith(b"%PDF-")


@pytest.mark.parametrize("target", [5_000, 20_000, 200 * 1024, 1_000_000])
def test_sized_pdf_is_within_ten_percent(target: int) -> None:
    content = sized_pdf(random.Random(target), target)
    assert abs(len(content) - target) <= target // 10
    assert_pdf_structure(content)
    assert pdf_pages(content) == 1


def test_sized_pdf_is_deterministic_and_never_under_its_bare_size() -> None:
    assert sized_pdf(random.Random(3), 50_000) == sized_pdf(random.Random(3), 50_000)
    tiny = sized_pdf(random.Random(3), 10)
    assert_pdf_structure(tiny)
    assert len(tiny) < 3_000
