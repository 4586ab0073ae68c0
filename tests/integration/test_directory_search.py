"""The directory as a patient searches it: by name (accents and case ignored), by RPPS, by
FINESS; bounded; the law's excluded found like anyone (they are refused when authorized, not
hidden); numbers read in ASCII digits only."""

from __future__ import annotations

import pytest

from dmp.errors import InvalidInput
from dmp.services.directory import SEARCH_LIMIT, NewProfessional, add_professional, search
from tests.personas import populate, rpps


@pytest.fixture
def cast(ctx):
    return populate(ctx)


def _names(found) -> list[str]:
    return [entry.name for entry in found.professionals + found.establishments]


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        ("elise", ["Élise Durand"]),
        ("ÉLISE", ["Élise Durand"]),
        ("durand", ["Élise Durand"]),
        ("BERNARD", ["Chloé Bernard"]),
        ("chloe bernard", ["Chloé Bernard"]),
        ("Bernard  Chloé", ["Chloé Bernard"]),
        ("ber", ["Chloé Bernard"]),
        ("nard", []),  # a word's start, not its middle
        ("chloe martin", []),  # every word typed
        ("nantes", ["CHU de Nantes"]),
        ("mutuelle", ["Mutuelle Atlantique"]),
        ("ma%tin", []),  # no wildcard reaches the database
        ("m_rtin", []),
    ],
)
def test_by_name(ctx, cast, typed, names):
    assert _names(search(ctx, typed)) == names


def test_what_a_patient_reads_of_each(ctx, cast):
    found = search(ctx, "hugo")
    [hugo] = found.professionals
    assert (hugo.kind, hugo.id, hugo.identifier) == (
        "professional",
        cast.hugo.professional_id,
        cast.hugo.rpps,
    )
    assert (hugo.what, hugo.workplaces, hugo.medecin, hugo.active) == (
        "Médecin, Radiologie",
        ("CHU de Nantes",),
        True,
        True,
    )
    [elise] = search(ctx, "Durand").professionals
    assert elise.what == "Médecin (santé au travail)"
    [mutuelle] = search(ctx, "atlantique").establishments
    assert (mutuelle.kind, mutuelle.id, mutuelle.what, mutuelle.identifier) == (
        "establishment",
        cast.mutuelle.id,
        "Mutuelle",
        "440000297",
    )
    [chloe] = search(ctx, "chloé").professionals
    assert (chloe.what, chloe.medecin, chloe.workplaces) == ("Infirmier", False, ())


def test_by_rpps_and_by_finess(ctx, cast):
    chloe = cast.professionals["chloe"]
    assert _names(search(ctx, chloe.rpps)) == ["Chloé Bernard"]
    assert _names(search(ctx, f" {chloe.rpps[:5]} {chloe.rpps[5:]} ")) == ["Chloé Bernard"]
    assert _names(search(ctx, "440000297")) == ["Mutuelle Atlantique"]
    assert _names(search(ctx, rpps(99))) == []  # valid, registered nowhere
    assert _names(search(ctx, "2A0000001")) == []  # a FINESS of Corsica is a number too


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (rpps(2).translate(ARABIC_INDIC), "RPPS invalide"),
        (rpps(2).translate(FULLWIDTH), "RPPS invalide"),
        ("440000297".translate(ARABIC_INDIC), "FINESS invalide"),
        (rpps(2)[:-1] + "0", "RPPS invalide"),  # the Luhn key does not match
        ("12345", "11 chiffres"),
        ("a", "deux lettres"),
        ("- ' _ %", "deux lettres"),
        ("x" * 201, "200 caractères au plus"),
        ("Chloé\x00", "caractère non admis"),
    ],
)
def test_what_is_refused_and_why(ctx, cast, typed, message):
    with pytest.raises(InvalidInput, match=message):
        search(ctx, typed)


def test_results_are_bounded(ctx, cast):
    for n in range(SEARCH_LIMIT + 2):
        add_professional(ctx, NewProfessional(rpps(500 + n), "Nombreux", f"Prénom{n}", "60"))
    found = search(ctx, "nombreux")
    assert (len(found.professionals), found.more) == (SEARCH_LIMIT, True)
    assert not search(ctx, "chloé").more
