"""What the DMP accepts from a user, checked once here whatever the way in (API, portal, CLI).

- Identifiers, codes and numbers are ASCII. ``\\d``, ``str.isdigit()`` and ``int()`` also take
  other scripts' digits (``٢``, ``२``, ``２``; ``²`` passes ``isdigit`` and fails ``int``): an INS
  written with Arabic-Indic digits would name nobody, and a second DMP could be created for the
  same person. Numbers are read by :func:`ascii_int`, codes checked by :func:`check_code`.
- Free text holds no character that nobody means to type: C0 and C1 control characters (a tab
  and line breaks aside, where the text may span lines) and halves of UTF-16 surrogate pairs
  (``"\\ud800"`` in JSON), which cannot even be written as UTF-8 to a database or an answer.
- The limits of document metadata and of the other free texts live here, and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from dmp.domain.model import DocumentMetadata, PatientIdentity
from dmp.domain.valuesets import ValueSets
from dmp.errors import InvalidInput

_NEVER_MEANT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_DIGITS = re.compile("[0-9]{1,18}")  # int() of 4 300 digits and more raises
_CODE = re.compile("[!-~]{1,64}")  # printable ASCII, no space
# BCP 47 (RFC 5646) language tags without extensions: language, script, region, variants
# ("fr", "fr-FR", "oc-FR", "zh-Hant-TW", "es-419", "de-CH-1996").
_LANGUAGE = re.compile(
    "[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?"
    "(-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
)

# Document metadata (IHE XDS / MHD).
MAX_MASTER_IDENTIFIER = 64  # the stricter of the limits the API had; the columns hold 128
MAX_TITLE = 500
MAX_COMMENTS = 4000
MAX_LANGUAGE = 10  # the documents' language column
MIN_YEAR, MAX_YEAR = 1900, 2999  # a document dated outside is a typing error
# Other free text.
MAX_NAME = 100  # family, given and birth names, as the directory keeps professionals' names
MAX_REASON = 2000  # the reason for closing a DMP
MAX_JUSTIFICATION = 2000  # the written justification of an emergency access
MAX_PASSKEY_NAME = 60  # the name a patient gives a passkey, to tell it from their others
GENDERS = ("male", "female", "other", "unknown")  # FHIR administrative gender


def never_meant(text: str) -> bool:
    """Whether ``text`` holds a character no one means in any text, even over several lines."""
    return _NEVER_MEANT.search(text) is not None


def ascii_int(text: str) -> int | None:
    """The number written in ASCII digits (at most 18), or None for anything else: no sign, no
    space, no underscore, no other script's digits."""
    return int(text) if _DIGITS.fullmatch(text) else None


def check_code(value: str, label: str, code: str = "code") -> str:
    """A code or an identifier: 1 to 64 printable ASCII characters, no space."""
    if not _CODE.fullmatch(value):
        raise InvalidInput(
            f"{label} : code invalide (1 à 64 caractères ASCII imprimables, sans espace).",
            code=code,
        )
    return value


def check_text(
    value: str, label: str, *, code: str, max_length: int, multiline: bool = False
) -> str:
    """Free text: none of the characters no one types (nor a tab or a line break on one line),
    at most ``max_length`` characters."""
    pattern = _NEVER_MEANT if multiline else _NOT_ON_ONE_LINE
    if pattern.search(value):
        kinds = "caractère de contrôle" if multiline else "tabulation, saut de ligne, contrôle"
        raise InvalidInput(
            f"{label} : caractère non admis ({kinds} ou demi-paire UTF-16 isolée), à retirer.",
            code=code,
        )
    if len(value) > max_length:
        raise InvalidInput(f"{label} : {max_length} caractères au plus.", code=code)
    return value


def check_justification(text: str) -> str:
    return check_text(
        text,
        "La justification",
        code="justification",
        max_length=MAX_JUSTIFICATION,
        multiline=True,
    )


def check_reason(text: str) -> str:
    return check_text(
        text, "Le motif de fermeture", code="reason", max_length=MAX_REASON, multiline=True
    )


def check_passkey_name(text: str) -> str:
    """The name of a passkey, on one line, spaces around it dropped; never empty: it is how
    the patient tells which one to remove."""
    name = check_text(
        text.strip(), "Le nom de la clé", code="passkey-name", max_length=MAX_PASSKEY_NAME
    )
    if not name:
        raise InvalidInput("Donnez un nom à cette clé d'accès.", code="passkey-name")
    return name


def check_identity(identity: PatientIdentity, today: date) -> None:
    """The identity of a patient or of a legal representative, as the professional typed it."""
    if not identity.family_name.strip() or not identity.given_names.strip():
        raise InvalidInput("Le nom et le prénom du patient sont obligatoires.", code="identity")
    names = (
        ("Le nom", identity.family_name),
        ("Les prénoms", identity.given_names),
        ("Le nom de naissance", identity.birth_name or ""),
    )
    for label, name in names:
        check_text(name, label, code="identity", max_length=MAX_NAME)
    if identity.birth_date > today:
        raise InvalidInput("La date de naissance est dans le futur.", code="identity")
    if identity.gender not in GENDERS:
        raise InvalidInput(f"Sexe inconnu : {identity.gender[:20]}", code="identity")


def _check_moments(m: DocumentMetadata) -> None:
    for moment in (m.creation_time, m.service_start, m.service_stop):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("Les dates doivent porter un fuseau horaire.", code="date")
        if moment is not None and not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise InvalidInput(
                f"Date hors limites ({MIN_YEAR}–{MAX_YEAR}) : {_day(moment)}.", code="date"
            )
    if m.service_start and m.service_stop and m.service_start > m.service_stop:
        raise InvalidInput("La fin de la prise en charge précède son début.", code="period")


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _check_texts(m: DocumentMetadata) -> None:
    if not m.master_identifier.strip():
        raise InvalidInput(
            "L'identifiant unique du document (masterIdentifier) est obligatoire.",
            code="master-identifier",
        )
    check_text(
        m.master_identifier,
        "masterIdentifier",
        code="master-identifier",
        max_length=MAX_MASTER_IDENTIFIER,
    )
    if not m.title.strip():
        raise InvalidInput(
            f"Le titre est obligatoire ({MAX_TITLE} caractères au plus).", code="title"
        )
    check_text(m.title, "Le titre", code="title", max_length=MAX_TITLE)
    if m.comments is not None:
        check_text(
            m.comments, "Le commentaire", code="comments", max_length=MAX_COMMENTS, multiline=True
        )
    if len(m.language) > MAX_LANGUAGE or not _LANGUAGE.fullmatch(m.language):
        raise InvalidInput(
            f"Langue invalide (BCP 47 attendu, par exemple fr-FR) : {m.language[:20]!r}.",
            code="language",
        )


def _check_codes(m: DocumentMetadata, mime_types: Iterable[str], vs: ValueSets) -> None:
    for mime_type in mime_types:
        vs.check_format(m.format_code, mime_type)
    if m.practice_setting is not None and m.practice_setting not in vs.practice_settings:
        raise InvalidInput(
            f"Cadre d'exercice inconnu : {m.practice_setting[:40]}", code="practice-setting"
        )
    if m.facility_type is not None and m.facility_type not in vs.facility_types:
        raise InvalidInput(
            f"Type d'établissement inconnu : {m.facility_type[:40]}", code="facility-type"
        )


def check_document(m: DocumentMetadata, mime_types: list[str], vs: ValueSets) -> str:
    """Check a document's metadata and the MIME types of its contents before anything is
    stored; returns the class (JDV_J57) derived from the type."""
    class_code = vs.document_type(m.type_code).class_code
    _check_moments(m)
    _check_texts(m)
    if not mime_types:
        raise InvalidInput("Un document doit avoir au moins un contenu.", code="content")
    _check_codes(m, mime_types, vs)
    return class_code
