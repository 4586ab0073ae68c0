"""French health identifiers: INS (NIR + key), RPPS (Luhn), FINESS. Validation only, no I/O.

Identifiers are ASCII: the character classes are written ``[0-9]``, never ``\\d`` (which takes
any script's digits), and nothing reaches ``int()`` that they have not matched."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dmp.errors import InvalidInput

INS_NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
INS_NIA_SYSTEM = "urn:oid:1.2.250.1.213.1.4.9"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
FINESS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"

_NIR = re.compile("[12378][0-9]{2}(0[1-9]|1[0-2]|[2-9][0-9])([0-9]{2}|2A|2B)[0-9]{6}")
_KEY = re.compile("[0-9]{2}")
_RPPS = re.compile("[0-9]{11}")
_FINESS = re.compile("([0-9]{2}|2A|2B)[0-9]{7}")
_NIR_DIGITS = re.compile("[0-9]{13}")
_DIGITS = re.compile("[0-9]+")
_SEPARATORS = re.compile(r"[\s.-]")  # as typed or printed: "2 85 03 75 123 456 88"


def _nir_number(nir13: str) -> int:
    # Corsica: 2A and 2B count as 19 and 18 for the key (décret 2012-1127, INSEE rule).
    digits = nir13.replace("2A", "19").replace("2B", "18")
    if not _NIR_DIGITS.fullmatch(digits):
        raise InvalidInput("NIR invalide : 13 caractères.", code="ins")
    return int(digits)


def nir_key(nir13: str) -> int:
    """The 2-digit control key of a 13-character NIR: 97 - (NIR mod 97)."""
    return 97 - _nir_number(nir13) % 97


@dataclass(frozen=True, slots=True)
class Ins:
    """The national health identifier: a 13-character NIR and its 2-digit key."""

    value: str
    system: str = INS_NIR_SYSTEM

    @classmethod
    def parse(cls, raw: str, system: str = INS_NIR_SYSTEM) -> Ins:
        value = _SEPARATORS.sub("", raw or "")
        if system not in (INS_NIR_SYSTEM, INS_NIA_SYSTEM):
            raise InvalidInput(
                f"Système d'identifiant inconnu pour l'INS : {system[:80]}", code="ins"
            )
        value = value.upper() if value.isascii() else ""
        if len(value) != 15 or not _NIR.fullmatch(value[:13]) or not _KEY.fullmatch(value[13:]):
            raise InvalidInput(
                "INS invalide : 13 caractères suivis d'une clé de 2 chiffres (0 à 9, en ASCII).",
                code="ins",
            )
        if nir_key(value[:13]) != int(value[13:]):
            raise InvalidInput("INS invalide : la clé de contrôle ne correspond pas.", code="ins")
        return cls(value, system)

    def __str__(self) -> str:
        return self.value


def luhn_valid(digits: str) -> bool:
    if not _DIGITS.fullmatch(digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def luhn_check_digit(digits: str) -> str:
    """The digit to append to ``digits`` so that the whole number passes Luhn."""
    return next(d for d in "0123456789" if luhn_valid(digits + d))


def parse_rpps(raw: str) -> str:
    value = (raw or "").strip()
    if not _RPPS.fullmatch(value) or not luhn_valid(value):
        raise InvalidInput("RPPS invalide : 11 chiffres dont une clé de Luhn.", code="rpps")
    return value


def parse_finess(raw: str) -> str:
    value = (raw or "").strip()
    value = value.upper() if value.isascii() else ""
    if not _FINESS.fullmatch(value):
        raise InvalidInput(
            "FINESS invalide : 9 caractères (département puis 7 chiffres).", code="finess"
        )
    return value
