"""Plaintext contents of a given size for the sampled documents: a real PDF (``sized_pdf``), a
CDA-like XML or plain text, each padded to the size drawn for it."""

from __future__ import annotations

import random

from dmp.demo.pdf import sized_pdf

_CDA_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Document de test de performance</title>\n'
    "<!-- contenu synthétique, sans donnée de santé -->\n<component><text>"
)
_CDA_TAIL = "</text></component></ClinicalDocument>\n"


def _filler(rng: random.Random, size: int) -> str:
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz ", k=max(0, size)))


def make_content(rng: random.Random, media: str, size: int) -> bytes:
    """Plaintext of about ``size`` bytes for a document of this media (pdf, cda, text)."""
    if media == "pdf":
        return sized_pdf(rng, size)
    if media == "cda":
        body = _filler(rng, size - len(_CDA_HEAD) - len(_CDA_TAIL))
        return (_CDA_HEAD + body + _CDA_TAIL).encode("utf-8")
    return ("Informations du patient (synthétique)\n" + _filler(rng, size - 40)).encode("utf-8")
