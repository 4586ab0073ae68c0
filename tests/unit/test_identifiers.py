from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp.domain.identifiers import (
    INS_NIA_SYSTEM,
    Ins,
    luhn_check_digit,
    luhn_valid,
    nir_key,
    parse_finess,
    parse_rpps,
)
from dmp.errors import InvalidInput


@pytest.mark.parametrize("nir13", ["1850375123456", "2690299341732", "1000000000000"])
def test_nir_key_is_97_minus_the_remainder(nir13):
    assert nir_key(nir13) == 97 - int(nir13) % 97
    assert 1 <= nir_key(nir13) <= 97


def test_corsica_counts_as_19_and_18():
    assert nir_key("169022A012345") == 97 - 1690219012345 % 97
    assert nir_key("169022B012345") == 97 - 1690218012345 % 97
    ins = Ins.parse(f"169022A012345{nir_key('169022A012345'):02d}")
    assert ins.value.startswith("169022A")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("185037512345642", "clé"),  # wrong key
        ("18503751234564", "13 caractères"),  # too short
        ("585037512345641", "13 caractères"),  # sex 5 is no NIR
        ("185137512345641", "13 caractères"),  # month 13
        ("", "13 caractères"),
        ("1850375X2345641", "13 caractères"),
    ],
)
def test_bad_ins_is_refused_with_a_reason(raw, message):
    with pytest.raises(InvalidInput, match=message):
        Ins.parse(raw)


def test_ins_accepts_spaces_and_the_nia_system():
    ins = Ins.parse("1 85 03 75 123 456 41", INS_NIA_SYSTEM)
    assert (ins.value, ins.system) == ("185037512345641", INS_NIA_SYSTEM)
    with pytest.raises(InvalidInput, match="Système"):
        Ins.parse("185037512345641", "urn:oid:1.2.3")


@given(st.integers(min_value=10**8, max_value=10**9 - 1))
def test_rpps_check_digit_round_trip(body):
    digits = f"1{body}"
    rpps = digits + luhn_check_digit(digits)
    assert parse_rpps(rpps) == rpps
    wrong = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)
    assert not luhn_valid(wrong)
    with pytest.raises(InvalidInput):
        parse_rpps(wrong)


@pytest.mark.parametrize("raw", ["10000000012", "1000000001", "abcdefghijk", ""])
def test_bad_rpps(raw):
    with pytest.raises(InvalidInput, match="RPPS"):
        parse_rpps(raw)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("440000289", True),
        ("2A0000123", True),
        ("44000028", False),
        ("4400002890", False),
        ("AB0000123", False),
    ],
)
def test_finess(raw, ok):
    if ok:
        assert parse_finess(raw) == raw
    else:
        with pytest.raises(InvalidInput, match="FINESS"):
            parse_finess(raw)


def _other_digit():
    """A decimal digit of another script: Arabic-Indic, Devanagari, fullwidth, Bengali, Thai…"""
    return st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@given(st.data())
def test_an_ins_with_any_other_scripts_digit_is_refused(data):
    """``\\d`` and ``int()`` take any script's digits: one of them anywhere in an INS that
    would otherwise be valid is refused, never read as the ASCII digit it stands for."""
    ins = Ins.parse("185037512345641").value
    position = data.draw(st.integers(min_value=1, max_value=14))
    digit = data.draw(_other_digit())
    with pytest.raises(InvalidInput, match="ASCII"):
        Ins.parse(ins[:position] + digit + ins[position + 1 :])


@pytest.mark.parametrize("key", ["²", "¹", "٤١", "४१", "４１", "⁴¹", "𝟒𝟏"])
def test_an_ins_key_that_is_no_ascii_number_is_refused(key):
    with pytest.raises(InvalidInput, match="ASCII"):
        Ins.parse("1850375123456" + key)


@given(st.data())
def test_rpps_and_finess_with_other_digits_are_refused(data):
    digit = data.draw(_other_digit())
    with pytest.raises(InvalidInput, match="RPPS"):
        parse_rpps("1000000001" + digit)
    with pytest.raises(InvalidInput, match="FINESS"):
        parse_finess("44000028" + digit)
    assert not luhn_valid("1000000001" + digit)


def test_a_letter_that_upper_cases_to_ascii_is_no_corsican_department():
    # "ẚ".upper() is "Aʾ": the value is checked as ASCII before it is upper-cased.
    with pytest.raises(InvalidInput):
        parse_finess("2ẚ0000123")
    with pytest.raises(InvalidInput):
        Ins.parse("16902ẚ012345" + "00")
