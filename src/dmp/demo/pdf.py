"""Synthetic clinical PDFs made with fpdf2: consultation, lab, imaging, prescription, and a PDF of a
chosen size for the benchmarks.

fpdf2's core fonts (Helvetica) only know latin-1, so every text goes through ``latin1()`` first.
The PDF creation date is set from ``when`` so that a seed and a date always give the same bytes.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime

from fpdf import FPDF

from dmp.demo.clinical import (
    IMAGING_EXAMS,
    LAB_PANELS,
    MEDICATIONS,
    age_on,
    french_number,
    lab_value,
    pick_scenario,
    vitals,
)
from dmp.demo.identities import AuthorLike, PatientLike, title_for

FICTION_NOTICE = "DOCUMENT FICTIF - données synthétiques de démonstration, sans valeur médicale"
_FONT = "Helvetica"
_LINE = 5.0
_TRANSLITERATIONS = str.maketrans(
    {
        "œ": "oe",
        "Œ": "OE",
        "’": "'",
        "‘": "'",
        "‚": ",",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "€": "EUR",
        "≥": ">=",
        "≤": "<=",
        "\u202f": " ",
        "\u2009": " ",
        "•": "-",
        "™": "(TM)",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
    }
)
_SIZED_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def latin1(text: str) -> str:
    """``text`` with every character outside latin-1 replaced by a close latin-1 spelling."""
    text = text.translate(_TRANSLITERATIONS)
    if text.isascii():
        return text
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        folded = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(folded if folded and all(ord(c) < 256 for c in folded) else "?")
    return "".join(out)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def french_date(day: date) -> str:
    return f"{day:%d/%m/%Y}"


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(_FONT, "I", 7)
        self.set_text_color(120, 120, 120)
        self.cell(0, 4, latin1(f"{FICTION_NOTICE} - page {self.page_no()}/{{nb}}"), align="C")
        self.set_text_color(0, 0, 0)


def _new_pdf(title: str, author: str, when: datetime) -> _Report:
    pdf = _Report(format="A4")
    pdf.set_creation_date(_aware(when))
    pdf.set_title(latin1(title))
    pdf.set_author(latin1(author))
    pdf.set_subject(latin1(FICTION_NOTICE))
    pdf.set_creator("dmp demo")
    pdf.set_lang("fr-FR")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    return pdf


def _text(pdf: _Report, text: str, *, size: float = 10, style: str = "", h: float = _LINE) -> None:
    pdf.set_font(_FONT, style, size)
    pdf.multi_cell(0, h, latin1(text), new_x="LMARGIN", new_y="NEXT")


def _letterhead(pdf: _Report, author: AuthorLike, when: datetime) -> None:
    _text(pdf, author.establishment_name, size=13, style="B", h=6)
    _text(pdf, f"{author.city} - FINESS {author.finess}", size=9)
    specialty = f" - {author.specialty}" if author.specialty else ""
    signer = f"{title_for(author)} {author.given_name} {author.family_name.upper()}"
    _text(pdf, f"{signer}{specialty} - RPPS {author.rpps}", size=9)
    pdf.set_font(_FONT, "", 9)
    pdf.cell(
        0,
        _LINE,
        latin1(f"{author.city}, le {french_date(when)}"),
        align="R",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)


def _patient_block(pdf: _Report, patient: PatientLike, when: datetime) -> None:
    born = "Né" if patient.gender == "male" else "Née"
    age = age_on(patient.birth_date, when.date())
    lines = (
        f"Patient : {patient.family_name.upper()} {patient.given_names}",
        f"{born} le {french_date(patient.birth_date)} ({age} ans) - "
        f"sexe : {'M' if patient.gender == 'male' else 'F'}",
        f"INS (NIR) : {patient.ins}",
    )
    pdf.set_fill_color(238, 242, 247)
    pdf.set_font(_FONT, "", 10)
    pdf.multi_cell(
        0, _LINE, latin1("\n".join(lines)), border=1, fill=True, new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(3)


def _title(pdf: _Report, title: str, subtitle: str) -> None:
    pdf.set_font(_FONT, "B", 14)
    pdf.cell(0, 8, latin1(title), align="C", new_x="LMARGIN", new_y="NEXT")
    _text(pdf, subtitle, size=9)
    pdf.ln(2)


def _section(pdf: _Report, heading: str, body: str | Sequence[str]) -> None:
    _text(pdf, heading, size=11, style="B", h=6)
    items = [body] if isinstance(body, str) else [f"- {item}" for item in body]
    for item in items:
        _text(pdf, item)
    pdf.ln(1.5)


def _signature(pdf: _Report, author: AuthorLike) -> None:
    pdf.ln(4)
    pdf.set_font(_FONT, "I", 10)
    name = f"{title_for(author)} {author.given_name} {author.family_name.upper()}"
    pdf.cell(0, _LINE, latin1(name), align="R", new_x="LMARGIN", new_y="NEXT")


def _finish(pdf: _Report) -> bytes:
    return bytes(pdf.output())


def _civility(patient: PatientLike, age: int) -> str:
    if age < 18:
        return "l'enfant"
    return "M." if patient.gender == "male" else "Mme"


def consultation_pdf(
    rng: random.Random,
    patient: PatientLike,
    author: AuthorLike,
    when: datetime,
    *,
    pages: int | None = None,
) -> bytes:
    """A consultation report (11488-4); with two pages, the second is the letter to the GP."""
    pages = pages if pages is not None else rng.choice((1, 1, 2))
    if pages not in (1, 2):
        raise ValueError("a consultation report has one or two pages")
    age = age_on(patient.birth_date, when.date())
    case = pick_scenario(rng, age)
    pdf = _new_pdf("Compte rendu de consultation", author.family_name, when)
    _letterhead(pdf, author, when)
    _patient_block(pdf, patient, when)
    _title(pdf, "Compte rendu de consultation", f"Consultation du {when:%d/%m/%Y à %Hh%M}")
    _section(pdf, "Motif", case.motif)
    _section(pdf, "Histoire de la maladie", case.history)
    _section(pdf, "Examen clinique", f"{vitals(rng, age, case.fever)} {case.findings}")
    _section(pdf, "Conclusion", case.conclusion)
    _section(pdf, "Traitement", case.treatment)
    _section(pdf, "Suivi", case.follow_up)
    _signature(pdf, author)
    if pages == 2:
        pdf.add_page()
        _letterhead(pdf, author, when)
        _title(pdf, "Courrier au médecin traitant", "Copie au dossier médical partagé")
        _text(pdf, "Cher confrère,")
        pdf.ln(2)
        _text(
            pdf,
            f"J'ai reçu ce jour en consultation {_civility(patient, age)} "
            f"{patient.given_names} {patient.family_name.upper()}, "
            f"âgé{'' if patient.gender == 'male' else 'e'} de {age} ans, pour le motif suivant : "
            f"{case.motif.lower()}. {case.conclusion} "
            f"J'ai proposé la conduite à tenir suivante : {' '.join(case.treatment)} "
            f"{case.follow_up}",
        )
        pdf.ln(2)
        _text(
            pdf,
            "Je vous remercie de votre confiance et reste à votre disposition. "
            "Bien confraternellement.",
        )
        _signature(pdf, author)
    return _finish(pdf)


def lab_report_pdf(
    rng: random.Random, patient: PatientLike, author: AuthorLike, when: datetime
) -> bytes:
    """A biology report (11502-2): a few panels of results with reference ranges and flags."""
    pdf = _new_pdf("Compte rendu d'examens biologiques", author.family_name, when)
    _letterhead(pdf, author, when)
    _patient_block(pdf, patient, when)
    _title(
        pdf,
        "Compte rendu d'examens de biologie médicale",
        f"Prélèvement du {when:%d/%m/%Y à %Hh%M} - dossier n° {rng.randrange(10**9):09d}",
    )
    widths = (70, 28, 22, 42, 12)
    for panel in sorted(rng.sample(sorted(LAB_PANELS), rng.randint(2, 3))):
        _text(pdf, panel, size=11, style="B", h=7)
        pdf.set_font(_FONT, "B", 8)
        for width, head in zip(
            widths, ("Analyse", "Résultat", "Unité", "Référence", ""), strict=True
        ):
            pdf.cell(width, _LINE, latin1(head), border="B")
        pdf.ln(_LINE)
        pdf.set_font(_FONT, "", 9)
        for analyte in LAB_PANELS[panel]:
            value, flag = lab_value(rng, analyte)
            reference = (
                f"{french_number(analyte.low, analyte.decimals)} - "
                f"{french_number(analyte.high, analyte.decimals)}"
            )
            for width, cell in zip(
                widths, (analyte.name, value, analyte.unit, reference, flag), strict=True
            ):
                pdf.cell(width, _LINE, latin1(cell))
            pdf.ln(_LINE)
        pdf.ln(2)
    _section(
        pdf,
        "Commentaire",
        "Les résultats marqués H (haut) ou B (bas) sont en dehors des "
        "valeurs de référence du laboratoire. À interpréter selon le contexte clinique.",
    )
    _text(
        pdf,
        f"Résultats validés par {title_for(author)} {author.family_name.upper()}, "
        "biologiste médical.",
        style="I",
    )
    return _finish(pdf)


def imaging_report_pdf(
    rng: random.Random, patient: PatientLike, author: AuthorLike, when: datetime
) -> bytes:
    """An imaging report (18748-4): indication, technique, findings, conclusion."""
    exam = rng.choice(IMAGING_EXAMS)
    pdf = _new_pdf("Compte rendu d'imagerie médicale", author.family_name, when)
    _letterhead(pdf, author, when)
    _patient_block(pdf, patient, when)
    _title(
        pdf,
        exam.exam,
        f"Examen du {when:%d/%m/%Y à %Hh%M} - n° d'accession {rng.randrange(10**8):08d}",
    )
    _section(pdf, "Indication", exam.indication)
    _section(pdf, "Technique", exam.technique)
    _section(pdf, "Résultats", exam.findings)
    _section(pdf, "Conclusion", exam.conclusion)
    _signature(pdf, author)
    return _finish(pdf)


def prescription_pdf(
    rng: random.Random, patient: PatientLike, author: AuthorLike, when: datetime
) -> bytes:
    """A prescription of health products (57833-6): one to four medications with posology."""
    pdf = _new_pdf("Ordonnance", author.family_name, when)
    _letterhead(pdf, author, when)
    _patient_block(pdf, patient, when)
    _title(pdf, "Ordonnance", f"Prescription du {when:%d/%m/%Y}")
    for number, (drug, posology, chronic) in enumerate(
        rng.sample(MEDICATIONS, rng.randint(1, 4)), start=1
    ):
        duration = (
            f"Traitement de 3 mois, à renouveler {rng.randint(1, 3)} fois."
            if chronic
            else "Quantité suffisante pour la durée du traitement."
        )
        _text(pdf, f"{number}. {drug}", style="B")
        _text(pdf, f"    {posology}. {duration}")
        pdf.ln(2)
    _signature(pdf, author)
    return _finish(pdf)


def _sized(rng: random.Random, padding: int) -> bytes:
    pdf = _new_pdf("Document de test de performance", "dmp benchmarks", _SIZED_DATE)
    _title(pdf, "Document de test de performance", "Contenu synthétique, sans donnée de santé.")
    _text(pdf, "Ce document a la taille demandée grâce à une pièce jointe de remplissage.")
    if padding:
        pdf.embed_file(
            bytes=rng.randbytes(padding),
            basename="remplissage.bin",
            modification_date=_SIZED_DATE,
            compress=False,
        )
    return _finish(pdf)


def sized_pdf(rng: random.Random, target_size: int) -> bytes:
    """A valid one-page PDF of about ``target_size`` bytes (never under ~2 KB), for benchmarks.

    The size comes from an embedded file of random bytes (incompressible, stored as is): one pass
    measures the bare document, the second adds the padding that makes up the difference.
    """
    state = rng.getstate()
    bare = len(_sized(rng, 0))
    rng.setstate(state)
    with_file = len(_sized(rng, 1)) - 1  # embedding costs its own dictionary, measured once
    rng.setstate(state)
    return _sized(rng, max(0, target_size - with_file) if target_size > bare else 0)
