"""Real document bytes with fictional French clinical content, and the catalogue that says what
each generator makes: its JDV_J66 type, MIME type, format code and how to title it.

The generators live in ``pdf``, ``cda`` and ``png``; this module gathers them (import them from
here) and adds the patient's own document, advance directives as plain text.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dmp.demo.cda import discharge_summary_cda, medical_summary_cda
from dmp.demo.identities import (
    FAMILY_NAMES,
    FEMALE_GIVEN_NAMES,
    MALE_GIVEN_NAMES,
    REFERENCE_DAY,
    AuthorLike,
    PatientLike,
    make_phone,
    title_for,
)
from dmp.demo.pdf import (
    FICTION_NOTICE,
    consultation_pdf,
    imaging_report_pdf,
    lab_report_pdf,
    prescription_pdf,
    sized_pdf,
)
from dmp.demo.png import ecg_png

__all__ = [
    "CATALOGUE",
    "CDA_FORMAT",
    "MIME_SUFFICIENT_FORMAT",
    "DocumentKind",
    "advance_directives_text",
    "consultation_pdf",
    "discharge_summary_cda",
    "document_kind",
    "ecg_png",
    "imaging_report_pdf",
    "lab_report_pdf",
    "medical_summary_cda",
    "prescription_pdf",
    "sized_pdf",
]

CDA_FORMAT = "urn:asip:ci-sis:2010"
MIME_SUFFICIENT_FORMAT = "urn:ihe:iti:xds:2017:mimeTypeSufficient"

Generator = Callable[[random.Random, PatientLike, AuthorLike | None, datetime], bytes]
TitleBuilder = Callable[[AuthorLike | None, datetime], str]


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """One kind of synthetic document and the metadata to submit it with."""

    name: str
    type_code: str  # JDV_J66
    mime_type: str
    format_code: str
    generate: Generator  # (rng, patient, author, when) -> bytes; author None for the patient's own
    title: TitleBuilder  # (author, when) -> title
    specialty: str | None = None  # the médecin who typically writes it; None: any
    by_patient: bool = False  # added by the patient (class 90), no professional author


_TRUST_LINKS = (
    "mon épouse",
    "mon époux",
    "ma fille",
    "mon fils",
    "ma sœur",
    "mon frère",
    "une amie proche",
    "un ami proche",
)
_WISHES = (
    "Je souhaite, si cela est possible, finir ma vie à mon domicile, entouré{e} de mes proches.",
    "Je souhaite être accompagné{e} par un représentant de mon culte.",
    "Je suis favorable au don de mes organes et de mes tissus.",
    "Je ne souhaite pas être transféré{e} en réanimation si mon pronostic est très défavorable.",
)
_TREATMENTS = (
    "une réanimation cardio-respiratoire",
    "une ventilation mécanique (respiration artificielle)",
    "une dialyse",
    "une alimentation et une hydratation artificielles",
    "une intervention chirurgicale lourde",
)


def _signed_on(rng: random.Random, birth: date) -> date:
    earliest = birth + timedelta(days=round(18 * 365.25) + 1)  # adults write directives
    day = REFERENCE_DAY - timedelta(days=rng.randint(0, 3 * 365))
    return max(day, earliest)


def advance_directives_text(
    rng: random.Random, patient: PatientLike, when: datetime | date | None = None
) -> bytes:
    """The patient's advance directives (DOCPAT01) as UTF-8 plain text, after the legal model.

    ``when`` is the signing day; without it, a day of the three years before ``REFERENCE_DAY``.
    """
    if when is None:
        signed = _signed_on(rng, patient.birth_date)
    else:
        signed = when.date() if isinstance(when, datetime) else when
    one = "e" if patient.gender == "female" else ""
    trust_gender = rng.choice(("male", "female"))
    trust_given = rng.choice(MALE_GIVEN_NAMES if trust_gender == "male" else FEMALE_GIVEN_NAMES)
    trust = f"{trust_given} {rng.choice(FAMILY_NAMES).upper()}"
    refused = rng.sample(_TREATMENTS, rng.randint(1, len(_TREATMENTS)))
    situation = rng.choice(
        (
            "en bonne santé, sans maladie grave connue",
            "alors que je suis atteint" + one + " d'une maladie chronique grave",
        )
    )
    lines = [
        "DIRECTIVES ANTICIPÉES",
        f"({FICTION_NOTICE})",
        "",
        f"Je soussigné{one} {patient.given_names} {patient.family_name.upper()}, "
        f"né{one} le {patient.birth_date:%d/%m/%Y}, INS {patient.ins},",
        "rédige les présentes directives anticipées pour le cas où je ne serais plus en mesure",
        "d'exprimer ma volonté (article L. 1111-11 du code de la santé publique).",
        "",
        "1. Ma situation",
        f"Je rédige ces directives {situation}.",
        "",
        "2. Ma personne de confiance",
        f"J'ai désigné comme personne de confiance {trust}, {rng.choice(_TRUST_LINKS)},",
        f"joignable au {make_phone(rng)}.",
        "",
        "3. Mes volontés sur les traitements",
        "Si je suis dans une situation où ma vie ne peut être prolongée que par des traitements",
        "lourds, sans espoir raisonnable de récupération, je refuse :",
        *(f"  - {treatment} ;" for treatment in refused),
        "Je demande que mes souffrances soient soulagées en toutes circonstances, y compris par",
        "une sédation profonde et continue jusqu'au décès si elle est nécessaire.",
        "",
        "4. Autres souhaits",
        rng.choice(_WISHES).format(e=one),
        "",
        f"Fait à {patient.city}, le {signed:%d/%m/%Y}.",
        f"{patient.given_names.split()[0]} {patient.family_name.upper()}",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _need(author: AuthorLike | None) -> AuthorLike:
    if author is None:
        raise ValueError("this document is written by a professional: give its author")
    return author


def _ecg(rng: random.Random, author: AuthorLike) -> bytes:
    return ecg_png(rng)  # a tracing carries no name: the author only goes into the metadata


def _signer(author: AuthorLike | None) -> str:
    author = _need(author)
    specialty = f" ({author.specialty})" if author.specialty else ""
    return f"{title_for(author)} {author.family_name}{specialty}"


CATALOGUE: tuple[DocumentKind, ...] = (
    DocumentKind(
        "consultation",
        "11488-4",
        "application/pdf",
        MIME_SUFFICIENT_FORMAT,
        lambda rng, p, a, w: consultation_pdf(rng, p, _need(a), w),
        lambda a, w: f"Compte rendu de consultation - {_signer(a)}",
    ),
    DocumentKind(
        "lab",
        "11502-2",
        "application/pdf",
        MIME_SUFFICIENT_FORMAT,
        lambda rng, p, a, w: lab_report_pdf(rng, p, _need(a), w),
        lambda a, w: f"Résultats de biologie du {w:%d/%m/%Y}",
        specialty="Biologie médicale",
    ),
    DocumentKind(
        "imaging",
        "18748-4",
        "application/pdf",
        MIME_SUFFICIENT_FORMAT,
        lambda rng, p, a, w: imaging_report_pdf(rng, p, _need(a), w),
        lambda a, w: f"Compte rendu d'imagerie du {w:%d/%m/%Y}",
        specialty="Radiologie et imagerie médicale",
    ),
    DocumentKind(
        "prescription",
        "57833-6",
        "application/pdf",
        MIME_SUFFICIENT_FORMAT,
        lambda rng, p, a, w: prescription_pdf(rng, p, _need(a), w),
        lambda a, w: f"Ordonnance du {w:%d/%m/%Y} - {_signer(a)}",
    ),
    DocumentKind(
        "discharge",
        "11490-0",
        "text/xml",
        CDA_FORMAT,
        lambda rng, p, a, w: discharge_summary_cda(rng, p, _need(a), w),
        lambda a, w: f"Lettre de liaison à la sortie - {_need(a).establishment_name}",
    ),
    DocumentKind(
        "summary",
        "60591-5",
        "text/xml",
        CDA_FORMAT,
        lambda rng, p, a, w: medical_summary_cda(rng, p, _need(a), w),
        lambda a, w: f"Synthèse médicale - {_signer(a)}",
        specialty="Médecine générale",
    ),
    DocumentKind(
        "ecg",
        "11488-4",
        "image/png",
        MIME_SUFFICIENT_FORMAT,
        lambda rng, p, a, w: _ecg(rng, _need(a)),
        lambda a, w: f"Tracé ECG du {w:%d/%m/%Y}",
        specialty="Cardiologie",
    ),
    DocumentKind(
        "advance_directives",
        "DOCPAT01",
        "text/plain",
        MIME_SUFFICIENT_FORMAT,
        lambda rng, p, a, w: advance_directives_text(rng, p, w),
        lambda a, w: "Mes directives anticipées",
        by_patient=True,
    ),
)


def document_kind(name: str) -> DocumentKind:
    """The catalogue entry called ``name`` ("consultation", "lab", …)."""
    for kind in CATALOGUE:
        if kind.name == name:
            return kind
    raise KeyError(name)
