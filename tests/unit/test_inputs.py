"""The domain's checks of what users send: ASCII numbers and codes, free text without characters
no one means, the limits of document metadata and names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp.domain import inputs
from dmp.domain.model import PatientIdentity
from dmp.domain.valuesets import load_valuesets
from dmp.errors import InvalidInput
from tests.factories import metadata

VS = load_valuesets()
PDF = ["application/pdf"]


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_ascii_int_reads_ascii_digits(number):
    assert inputs.ascii_int(str(number)) == number


@pytest.mark.parametrize(
    "text", ["", "٣", "²", "３", "1_000", "+1", "-1", " 1", "1 ", "1.0", "1" * 19, "0x10"]
)
def test_ascii_int_refuses_everything_else(text):
    assert inputs.ascii_int(text) is None


@given(st.text())
def test_ascii_int_never_raises(text):
    value = inputs.ascii_int(text)
    assert value is None or str(value) == text.lstrip("0").rjust(1, "0")


@pytest.mark.parametrize("code", ["11488-4", "MASQUE_PS", "urn:oid:1.2.250", "a" * 64])
def test_codes_are_printable_ascii(code):
    assert inputs.check_code(code, "Le code") == code


@pytest.mark.parametrize("code", ["", "a b", "é", "١", "a\x00", "a" * 65, "\ud800"])
def test_other_codes_are_refused(code):
    with pytest.raises(InvalidInput, match="Le code : code invalide"):
        inputs.check_code(code, "Le code")


UNMEANT = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\ud800", "\udbff", "\udc00", "\udfff"]


@pytest.mark.parametrize("char", UNMEANT)
def test_characters_no_one_means_are_refused_everywhere(char):
    assert inputs.never_meant(f"a{char}b")
    for multiline in (False, True):
        with pytest.raises(InvalidInput, match="caractère non admis"):
            inputs.check_text(f"a{char}b", "Le titre", code="t", max_length=10, multiline=multiline)


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_tabs_and_line_breaks_only_where_text_spans_lines(char):
    assert not inputs.never_meant(f"a{char}b")
    assert inputs.check_text(f"a{char}b", "Le motif", code="r", max_length=10, multiline=True)
    with pytest.raises(InvalidInput, match="saut de ligne"):
        inputs.check_text(f"a{char}b", "Le titre", code="t", max_length=10)


def test_text_of_every_script_is_welcome():
    text = "Compte rendu — Žofie Ødegård, 李小龍, عائشة, Ἀθηνᾶ 🩺 ²"
    assert inputs.check_text(text, "Le titre", code="t", max_length=100) == text


def test_a_text_past_its_limit_says_the_limit():
    with pytest.raises(InvalidInput, match="3 caractères au plus"):
        inputs.check_text("abcd", "Le nom", code="n", max_length=3)


@given(st.text(), st.booleans())
def test_what_check_text_accepts_can_be_written_as_utf8(text, multiline):
    """It refuses with InvalidInput only; what it accepts can be stored and answered."""
    refused = inputs.never_meant(text) or len(text) > 50
    refused = refused or (not multiline and any(c in text for c in "\t\n\r"))
    if refused:
        with pytest.raises(InvalidInput):
            inputs.check_text(text, "Le texte", code="t", max_length=50, multiline=multiline)
    else:
        accepted = inputs.check_text(text, "Le texte", code="t", max_length=50, multiline=multiline)
        accepted.encode("utf-8")


@pytest.mark.parametrize(
    "language", ["fr", "fr-FR", "FR-fr", "oc-FR", "br", "zh-Hant-TW", "es-419", "de-CH-1996"]
)
def test_bcp47_languages(language):
    assert inputs.check_document(metadata(language=language), PDF, VS) == "10"


@pytest.mark.parametrize(
    "language",
    ["", "f", "fr_FR", "fr-", "-FR", "français", "fr-FR\n", "de-Latn-CH-1996", "fr-F", "١٢"],
)
def test_other_languages_are_refused(language):
    with pytest.raises(InvalidInput) as refused:
        inputs.check_document(metadata(language=language), PDF, VS)
    assert refused.value.code == "language"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"master_identifier": "m" * 65}, "master-identifier"),
        ({"master_identifier": " "}, "master-identifier"),
        ({"master_identifier": "a\nb"}, "master-identifier"),
        ({"title": "t" * 501}, "title"),
        ({"title": ""}, "title"),
        ({"comments": "c" * 4001}, "comments"),
        ({"comments": "\ud800"}, "comments"),
        ({"creation_time": datetime(1899, 12, 31, tzinfo=UTC)}, "date"),
        ({"creation_time": datetime(3000, 1, 1, tzinfo=UTC)}, "date"),
        ({"creation_time": datetime(2026, 1, 1)}, "date"),
        ({"service_start": datetime(2026, 2, 1, tzinfo=UTC),
          "service_stop": datetime(2026, 1, 1, tzinfo=UTC)}, "period"),
        ({"format_code": "urn:unknown"}, "format"),
        ({"practice_setting": "nowhere"}, "practice-setting"),
        ({"facility_type": "nowhere"}, "facility-type"),
        ({"type_code": "99999-9"}, "type"),
    ],
)  # fmt: skip
def test_document_metadata_past_the_limits(fields, code):
    with pytest.raises(InvalidInput) as refused:
        inputs.check_document(metadata(**fields), PDF, VS)
    assert refused.value.code == code


def test_document_metadata_at_the_limits():
    m = metadata(
        master_identifier="m" * 64,
        title="t" * 500,
        comments=("c" * 99 + "\n") * 40,
        creation_time=datetime(1900, 1, 1, tzinfo=UTC),
        service_start=datetime(2999, 12, 31, tzinfo=UTC),
        service_stop=datetime(2999, 12, 31, tzinfo=UTC),
    )
    assert inputs.check_document(m, PDF, VS) == "10"


def test_a_document_has_a_content():
    with pytest.raises(InvalidInput, match="au moins un contenu"):
        inputs.check_document(metadata(), [], VS)


IDENTITY = PatientIdentity("Garnier", "Zoé Marie", date(1969, 5, 20), "female", "Dupont")


@pytest.mark.parametrize(
    "changes",
    [
        {"family_name": "G" * 101},
        {"given_names": "Z" * 101},
        {"birth_name": "B" * 101},
        {"family_name": "Gar\nnier"},
        {"given_names": "Zoé\tMarie"},
        {"birth_name": "Du\x00pont"},
        {"family_name": " "},
        {"birth_date": date(2026, 3, 3)},
        {"gender": "F"},
    ],
)
def test_identities_past_the_limits(changes):
    with pytest.raises(InvalidInput) as refused:
        inputs.check_identity(replace(IDENTITY, **changes), date(2026, 3, 2))
    assert refused.value.code == "identity"


def test_an_identity_at_the_limits():
    identity = replace(IDENTITY, family_name="G" * 100, given_names="Z" * 100, birth_name=None)
    inputs.check_identity(identity, date(2026, 3, 2))


def test_justifications_and_reasons_span_lines_within_their_limit():
    assert inputs.check_justification("Patiente inconsciente,\naux urgences.")
    assert inputs.check_reason("Demande du patient.\n")
    with pytest.raises(InvalidInput, match="2000 caractères au plus"):
        inputs.check_justification("j" * 2001)
    with pytest.raises(InvalidInput) as refused:
        inputs.check_reason("r\x00")
    assert refused.value.code == "reason"
