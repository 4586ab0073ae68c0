"""Synthetic French people, professionals and establishments for the demo and the benchmarks.

Everything here is drawn from a ``random.Random`` the caller seeds, so a seed always gives the
same people. The identifiers are *valid* (INS key, RPPS Luhn digit) but made up; e-mail addresses
use the reserved ``example.org`` domain so that nothing can ever reach a real mailbox.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from dmp.domain.identifiers import luhn_check_digit, nir_key

# Birth dates are drawn relative to this day, not to the clock, so that a seed gives the same
# people whatever the day. Minors are at most 14 on it, so they stay minors for a few years.
REFERENCE_DAY = date(2026, 1, 1)
EMAIL_DOMAIN = "example.org"  # reserved by RFC 2606: never a real provider
_CORSICA_SPLIT_YEAR = 1976  # people born in Corsica before 1976 have "20" in their NIR

FAMILY_NAMES = (
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Masson",
    "Marchand",
    "Duval",
    "Le Gall",
    "Nguyen",
    "Benali",
    "Da Silva",
    "N'Diaye",
)
MALE_GIVEN_NAMES = (
    "Jean",
    "Pierre",
    "Michel",
    "Philippe",
    "Alain",
    "Nicolas",
    "Christophe",
    "Patrick",
    "Laurent",
    "Thierry",
    "Julien",
    "Sébastien",
    "Frédéric",
    "Stéphane",
    "Éric",
    "Olivier",
    "François",
    "Antoine",
    "Thomas",
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Raphaël",
    "Léo",
    "Noé",
    "Adam",
    "Nathan",
    "Maël",
    "Paul",
    "Yanis",
    "Karim",
    "Guillaume",
)
FEMALE_GIVEN_NAMES = (
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Françoise",
    "Martine",
    "Christine",
    "Sophie",
    "Valérie",
    "Sandrine",
    "Céline",
    "Stéphanie",
    "Aurélie",
    "Julie",
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Emma",
    "Jade",
    "Louise",
    "Alice",
    "Lina",
    "Rose",
    "Zoé",
    "Inès",
    "Hélène",
    "Anne",
    "Monique",
    "Élodie",
    "Sarah",
    "Fatima",
    "Océane",
    "Clémence",
)
# (city, department code as written in the NIR / FINESS: 2 digits, 2A/2B, or 97x overseas)
CITIES = (
    ("Paris", "75"),
    ("Marseille", "13"),
    ("Lyon", "69"),
    ("Toulouse", "31"),
    ("Nice", "06"),
    ("Nantes", "44"),
    ("Montpellier", "34"),
    ("Strasbourg", "67"),
    ("Bordeaux", "33"),
    ("Lille", "59"),
    ("Rennes", "35"),
    ("Reims", "51"),
    ("Toulon", "83"),
    ("Saint-Étienne", "42"),
    ("Le Havre", "76"),
    ("Grenoble", "38"),
    ("Dijon", "21"),
    ("Angers", "49"),
    ("Nîmes", "30"),
    ("Villeurbanne", "69"),
    ("Clermont-Ferrand", "63"),
    ("Le Mans", "72"),
    ("Aix-en-Provence", "13"),
    ("Brest", "29"),
    ("Tours", "37"),
    ("Amiens", "80"),
    ("Limoges", "87"),
    ("Annecy", "74"),
    ("Perpignan", "66"),
    ("Metz", "57"),
    ("Besançon", "25"),
    ("Orléans", "45"),
    ("Rouen", "76"),
    ("Mulhouse", "68"),
    ("Caen", "14"),
    ("Nancy", "54"),
    ("Argenteuil", "95"),
    ("Montreuil", "93"),
    ("Avignon", "84"),
    ("Poitiers", "86"),
    ("Pau", "64"),
    ("La Rochelle", "17"),
    ("Quimper", "29"),
    ("Vannes", "56"),
    ("Chambéry", "73"),
    ("Bayonne", "64"),
    ("Ajaccio", "2A"),
    ("Bastia", "2B"),
    ("Pointe-à-Pitre", "971"),
    ("Fort-de-France", "972"),
    ("Saint-Denis (La Réunion)", "974"),
)
# INSEE codes of a few countries of birth (department 99 of the NIR)
_BIRTH_COUNTRIES = ("352", "350", "351", "139", "127", "134", "131", "341", "243", "109")
_DEPARTMENTS = tuple(
    [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
)
MEDICAL_SPECIALTIES = (
    "Médecine générale",
    "Cardiologie",
    "Pneumologie",
    "Pédiatrie",
    "Endocrinologie",
    "Médecine interne",
    "Gériatrie",
    "Rhumatologie",
    "Gastro-entérologie",
    "Neurologie",
)
_STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "boulevard Pasteur",
    "place de la Mairie",
    "rue des Tilleuls",
    "avenue de la Gare",
    "rue du Général Leclerc",
)


class PatientLike(Protocol):
    """What the document generators need to know about a patient."""

    @property
    def family_name(self) -> str: ...
    @property
    def given_names(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def gender(self) -> str: ...
    @property
    def ins(self) -> str: ...
    @property
    def city(self) -> str: ...


class AuthorLike(Protocol):
    """What the document generators need to know about the professional who signs."""

    @property
    def family_name(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def gender(self) -> str: ...
    @property
    def rpps(self) -> str: ...
    @property
    def profession(self) -> str: ...
    @property
    def specialty(self) -> str | None: ...
    @property
    def establishment_name(self) -> str: ...
    @property
    def finess(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def establishment_kind(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    family_name: str
    given_names: str  # birth given names, space-separated, the first one in use
    birth_date: date
    gender: str  # "male" | "female"
    ins: str  # 15 characters: NIR + key
    email: str
    phone: str  # E.164, a French mobile number
    city: str


@dataclass(frozen=True, slots=True)
class SyntheticEstablishment:
    name: str
    finess: str
    kind: str  # a code of the establishment_kinds value set
    city: str
    department: str


@dataclass(frozen=True, slots=True)
class SyntheticProfessional:
    family_name: str
    given_name: str
    gender: str
    rpps: str
    profession: str  # TRE_G15 code
    specialty: str | None
    establishment_name: str
    finess: str
    city: str
    establishment_kind: str

    @property
    def display_name(self) -> str:
        return f"{title_for(self)} {self.given_name} {self.family_name}"


def title_for(author: AuthorLike) -> str:
    """How a letter names its author: "Dr" for médecins, else the civility."""
    if author.profession == "10":
        return "Dr"
    return "M." if author.gender == "male" else "Mme"


# --- identifiers --------------------------------------------------------------------------------


def make_ins(rng: random.Random, gender: str, birth_date: date, department: str) -> str:
    """A valid INS (NIR + key) for someone of this gender, born on this day in this department.

    ``department`` is a 2-character code ("75", "2A", "20" for Corsica before 1976), a 3-digit
    overseas code ("974") or "99" for a birth abroad (the commune is then a country code).
    """
    sex = {"male": "1", "female": "2"}.get(gender)
    if sex is None:
        raise ValueError(f"an INS needs a male or female gender, not {gender!r}")
    if department == "99":
        place = "99" + rng.choice(_BIRTH_COUNTRIES)
    elif len(department) == 3 and department.startswith("97"):
        place = department + f"{rng.randint(1, 99):02d}"
    elif department in _DEPARTMENTS or department == "20":
        place = department + f"{rng.randint(1, 899):03d}"
    else:
        raise ValueError(f"unknown department {department!r}")
    nir = f"{sex}{birth_date.year % 100:02d}{birth_date.month:02d}{place}{rng.randint(1, 999):03d}"
    return f"{nir}{nir_key(nir):02d}"


def make_rpps(rng: random.Random) -> str:
    """An 11-digit RPPS number (``10`` + 8 digits + a Luhn check digit, like the real ones)."""
    body = "10" + f"{rng.randrange(10**8):08d}"
    return body + luhn_check_digit(body)


def make_finess(rng: random.Random, department: str) -> str:
    """A 9-character FINESS number in this department, ending with a Luhn key.

    For Corsica the letters count as 0 in the key: a choice of ours, nothing checks that key.
    """
    if department not in _DEPARTMENTS:
        raise ValueError(f"no FINESS for department {department!r}")
    prefix = department if len(department) == 3 else department + f"{rng.randint(0, 9)}"
    body = prefix + f"{rng.randrange(10 ** (8 - len(prefix))):0{8 - len(prefix)}d}"
    return body + luhn_check_digit(body.replace("A", "0").replace("B", "0"))


# --- people -------------------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    """ "Hélène N'Diaye" -> "Helene N'Diaye": accents removed, for e-mail addresses."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _birth_date(rng: random.Random, minor: bool, today: date) -> date:
    if minor:
        return today - timedelta(days=rng.randint(365, 15 * 365 - 1))
    return today - timedelta(days=int(rng.triangular(18.1, 96, 45) * 365.25))


def _birth_department(rng: random.Random, home: str, birth_date: date) -> str:
    roll = rng.random()
    department = home if roll < 0.8 else ("99" if roll < 0.86 else rng.choice(_DEPARTMENTS))
    if department in ("2A", "2B") and birth_date.year < _CORSICA_SPLIT_YEAR:
        return "20"
    return department


def _given_names(rng: random.Random, gender: str) -> str:
    pool = MALE_GIVEN_NAMES if gender == "male" else FEMALE_GIVEN_NAMES
    count = rng.choices((1, 2, 3), weights=(5, 4, 1))[0]
    return " ".join(rng.sample(pool, count))


def _email(rng: random.Random, given: str, family: str) -> str:
    local = f"{given}.{family}".lower().replace(" ", "-").replace("'", "")
    suffix = str(rng.randint(1, 999)) if rng.random() < 0.5 else ""
    return f"{ascii_fold(local)}{suffix}@{EMAIL_DOMAIN}"


def make_phone(rng: random.Random) -> str:
    """A French mobile number in E.164 form: +336… or +337…"""
    return f"+33{rng.choice('67')}{rng.randrange(10**8):08d}"


def fake_person(
    rng: random.Random, *, minor: bool = False, today: date = REFERENCE_DAY
) -> SyntheticPerson:
    """A synthetic patient: names, birth, a valid INS, contact channels and a city."""
    gender = rng.choice(("male", "female"))
    family = rng.choice(FAMILY_NAMES)
    given = _given_names(rng, gender)
    birth = _birth_date(rng, minor, today)
    city, home = rng.choice(CITIES)
    ins = make_ins(rng, gender, birth, _birth_department(rng, home, birth))
    email = _email(rng, given.split()[0], family)
    return SyntheticPerson(family, given, birth, gender, ins, email, make_phone(rng), city)


_ESTABLISHMENT_NAMES = {
    "hospital": ("Centre hospitalier {of_city}", "CHU {of_city}", "Hôpital {family}"),
    "clinic": ("Clinique des Tilleuls", "Clinique Saint-{given}", "Polyclinique {of_city}"),
    "laboratory": ("Laboratoire {family} Biologie", "Biolab {city}"),
    "pharmacy": ("Pharmacie de la Mairie", "Pharmacie {family}", "Grande Pharmacie {of_city}"),
    "practice": ("Maison de santé {of_city}", "Cabinet médical, {street}", "Cabinet {family}"),
    "samu": ("SAMU - centre 15 {of_city}",),
    "nursing_home": ("EHPAD Les Glycines", "Résidence {family}"),
}


def of_city(city: str) -> str:
    """French elision before a city name: "d'Amiens", "du Havre", "de Paris"."""
    if city.startswith("Le "):
        return "du " + city[3:]
    return ("d'" if ascii_fold(city[0]).upper() in "AEIOUY" else "de ") + city


def fake_establishment(
    rng: random.Random, kind: str = "hospital", *, city: str | None = None
) -> SyntheticEstablishment:
    """A synthetic establishment of a kind of the establishment_kinds value set (not excluded)."""
    templates = _ESTABLISHMENT_NAMES.get(kind)
    if templates is None:
        raise ValueError(f"no synthetic establishment of kind {kind!r}")
    place, department = next((c for c in CITIES if c[0] == city), None) or rng.choice(CITIES)
    name = rng.choice(templates).format(
        city=place,
        of_city=of_city(place),
        family=rng.choice(FAMILY_NAMES),
        given=rng.choice(MALE_GIVEN_NAMES),
        street=rng.choice(_STREETS),
    )
    return SyntheticEstablishment(name, make_finess(rng, department), kind, place, department)


def fake_professional(
    rng: random.Random,
    *,
    profession: str = "10",
    specialty: str | None = None,
    establishment: SyntheticEstablishment | None = None,
) -> SyntheticProfessional:
    """A synthetic health professional with a valid RPPS, working for an establishment.

    A médecin without a given specialty gets one drawn from ``MEDICAL_SPECIALTIES``.
    """
    gender = rng.choice(("male", "female"))
    given = rng.choice(MALE_GIVEN_NAMES if gender == "male" else FEMALE_GIVEN_NAMES)
    if profession == "10" and specialty is None:
        specialty = rng.choice(MEDICAL_SPECIALTIES)
    place = establishment or fake_establishment(rng, rng.choice(("hospital", "clinic", "practice")))
    return SyntheticProfessional(
        rng.choice(FAMILY_NAMES),
        given,
        gender,
        make_rpps(rng),
        profession,
        specialty,
        place.name,
        place.finess,
        place.city,
        place.kind,
    )
