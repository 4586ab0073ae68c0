"""Synthetic people and identifiers: valid, realistic, and the same for the same seed."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp.demo.identities import (
    CITIES,
    EMAIL_DOMAIN,
    FAMILY_NAMES,
    FEMALE_GIVEN_NAMES,
    MALE_GIVEN_NAMES,
    REFERENCE_DAY,
    SyntheticPerson,
    fake_establishment,
    fake_person,
    fake_professional,
    make_finess,
    make_ins,
    make_rpps,
    of_city,
)
from dmp.domain.identifiers import Ins, parse_finess, parse_rpps
from dmp.domain.model import PatientIdentity

SEEDS = range(1000)
DEPARTMENTS = ["01", "13", "75", "95", "2A", "2B", "20", "971", "974", "976", "99"]


def _identity(person: SyntheticPerson) -> PatientIdentity:
    return PatientIdentity(person.family_name, person.given_names, person.birth_date, person.gender)


def test_every_generated_ins_is_valid_over_a_thousand_seeds() -> None:
    for seed in SEEDS:
        person = fake_person(random.Random(seed), minor=seed % 4 == 0)
        assert Ins.parse(person.ins).value == person.ins
        assert len(person.ins) == 15


def test_ins_encodes_sex_and_birth_month() -> None:
    for seed in SEEDS:
        person = fake_person(random.Random(seed))
        assert person.ins[0] == ("1" if person.gender == "male" else "2")
        assert person.ins[1:5] == f"{person.birth_date:%y%m}"


def test_corsica_and_births_abroad_occur_but_rarely() -> None:
    places = [fake_person(random.Random(seed)).ins[5:7] for seed in SEEDS]
    corsica = sum(place in ("2A", "2B") for place in places)
    abroad = places.count("99")
    assert 0 < corsica < 100
    assert 0 < abroad < 150


@pytest.mark.parametrize("department", DEPARTMENTS)
@pytest.mark.parametrize("gender", ["male", "female"])
def test_make_ins_is_valid_in_every_kind_of_department(gender: str, department: str) -> None:
    for seed in range(50):
        ins = make_ins(random.Random(seed), gender, date(1970, 6, 15), department)
        assert Ins.parse(ins).value == ins
        assert ins[5:7] == department[:2]


@given(
    seed=st.integers(min_value=0, max_value=2**32),
    gender=st.sampled_from(["male", "female"]),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 31)),
    department=st.sampled_from(DEPARTMENTS),
)
def test_make_ins_is_always_valid(seed: int, gender: str, birth: date, department: str) -> None:
    assert Ins.parse(make_ins(random.Random(seed), gender, birth, department))


@pytest.mark.parametrize(
    ("gender", "department"), [("other", "75"), ("male", "20A"), ("male", "00")]
)
def test_make_ins_refuses_what_a_nir_cannot_say(gender: str, department: str) -> None:
    with pytest.raises(ValueError, match=r"gender|department"):
        make_ins(random.Random(0), gender, date(1980, 1, 1), department)


def test_every_generated_rpps_is_valid_over_a_thousand_seeds() -> None:
    for seed in SEEDS:
        rpps = make_rpps(random.Random(seed))
        assert parse_rpps(rpps) == rpps
        assert re.fullmatch(r"10\d{9}", rpps)


@pytest.mark.parametrize("department", ["01", "75", "2A", "2B", "971", "974"])
def test_finess_is_nine_characters_of_its_department(department: str) -> None:
    for seed in range(100):
        finess = make_finess(random.Random(seed), department)
        assert parse_finess(finess) == finess
        assert finess.startswith(department)


def test_finess_refuses_births_abroad() -> None:
    with pytest.raises(ValueError, match="FINESS"):
        make_finess(random.Random(0), "99")


def test_same_seed_same_person_other_seed_other_person() -> None:
    assert fake_person(random.Random(42)) == fake_person(random.Random(42))
    people = {fake_person(random.Random(seed)).ins for seed in range(200)}
    assert len(people) == 200


def test_contact_channels_are_safe_and_well_formed() -> None:
    for seed in range(300):
        person = fake_person(random.Random(seed))
        assert person.email.endswith(f"@{EMAIL_DOMAIN}")
        assert EMAIL_DOMAIN == "example.org"
        assert re.fullmatch(r"[a-z0-9.\-]+@example\.org", person.email), person.email
        assert re.fullmatch(r"\+33[67]\d{8}", person.phone)


def test_names_and_cities_come_from_the_lists() -> None:
    cities = {city for city, _ in CITIES}
    for seed in range(300):
        person = fake_person(random.Random(seed))
        pool = MALE_GIVEN_NAMES if person.gender == "male" else FEMALE_GIVEN_NAMES
        assert person.gender in ("male", "female")
        assert person.family_name in FAMILY_NAMES
        assert all(name in pool for name in person.given_names.split())
        assert person.city in cities


def test_name_lists_are_about_fifty_and_without_duplicates() -> None:
    for names in (FAMILY_NAMES, MALE_GIVEN_NAMES + FEMALE_GIVEN_NAMES, CITIES):
        assert len(names) >= 45
        assert len(set(names)) == len(names)


def test_minors_are_minors_for_years_and_adults_are_adults() -> None:
    later = REFERENCE_DAY + timedelta(days=3 * 365)
    for seed in range(300):
        child = _identity(fake_person(random.Random(seed), minor=True))
        adult = _identity(fake_person(random.Random(seed)))
        assert child.is_minor_on(later)
        assert child.birth_date < REFERENCE_DAY
        assert not adult.is_minor_on(REFERENCE_DAY)
        assert adult.birth_date.year > REFERENCE_DAY.year - 100


def test_birth_dates_follow_the_given_day() -> None:
    today = date(2030, 6, 1)
    child = _identity(fake_person(random.Random(3), minor=True, today=today))
    assert child.is_minor_on(today)
    assert child.birth_date.year >= 2015


def test_professionals_have_valid_identifiers_and_a_workplace() -> None:
    for seed in range(300):
        doctor = fake_professional(random.Random(seed))
        assert parse_rpps(doctor.rpps) == doctor.rpps
        assert parse_finess(doctor.finess) == doctor.finess
        assert doctor.specialty
        assert doctor.display_name.startswith("Dr ")


def test_a_nurse_has_no_specialty_and_works_where_told() -> None:
    rng = random.Random(1)
    lab = fake_establishment(rng, "laboratory", city="Rennes")
    nurse = fake_professional(rng, profession="60", establishment=lab)
    assert nurse.specialty is None
    assert (nurse.establishment_name, nurse.finess, nurse.city) == (lab.name, lab.finess, "Rennes")
    assert nurse.finess.startswith("35")
    assert nurse.display_name.split()[0] in ("M.", "Mme")


def test_excluded_establishments_are_never_generated() -> None:
    with pytest.raises(ValueError, match="insurer"):
        fake_establishment(random.Random(0), "insurer")


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Paris", "de Paris"),
        ("Amiens", "d'Amiens"),
        ("Le Havre", "du Havre"),
        ("Évry", "d'Évry"),
        ("La Rochelle", "de La Rochelle"),
    ],
)
def test_city_names_take_the_french_elision(city: str, expected: str) -> None:
    assert of_city(city) == expected
