"""Names as a patient types them: accents, case, hyphens and apostrophes do not count."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp.domain.names import search_key, words


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Élise Durand", ["elise", "durand"]),
        ("LEFÈVRE", ["lefevre"]),
        ("Saint-Étienne", ["saint", "etienne"]),
        ("d'Arc", ["d", "arc"]),
        ("Œuvre Cœur", ["oeuvre", "coeur"]),
        ("Strauß", ["strauss"]),
        ("  Chloé   Bernard ", ["chloe", "bernard"]),
        ("SAMU 44", ["samu", "44"]),
        ("50 % _ %", ["50"]),
        ("", []),
    ],
)
def test_words_are_folded(typed, folded):
    assert words(typed) == folded


def test_the_key_has_each_word_after_a_space():
    assert search_key("Chloé Bernard") == " chloe bernard "
    assert search_key("") == " "


@given(st.text())
def test_a_word_holds_no_space_nor_wildcard_and_folds_to_itself(text):
    for word in words(text):
        assert word
        assert not any(c in word for c in " %_\t\n")
        assert words(word) == [word]
