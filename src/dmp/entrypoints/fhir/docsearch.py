"""ITI-67 Find Document References: what each search parameter means for the DMP's documents
(the table is also the CapabilityStatement's and the OpenAPI document's), and the
``DocumentQuery`` a search asks the use case for.

The patient is named by ``patient`` (``Patient/<id>``), by ``patient.identifier`` (the INS), or
by the ``_id`` of documents (a document's id names its DMP). ``event`` and ``related`` name what
the DMP does not keep: asking for any value finds nothing, as it should.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from dmp.domain.identifiers import Ins
from dmp.entrypoints.fhir import ids
from dmp.entrypoints.fhir.patients import parse_ins_token
from dmp.entrypoints.fhir.search import (
    DEFAULT_COUNT,
    MAX_COUNT,
    NOTHING,
    Parameters,
    all_tokens,
    date_range,
    number,
    statuses,
    strings,
)
from dmp.errors import InvalidInput
from dmp.services.documents import DocumentQuery

MAX_OFFSET = 10_000_000
MAX_IDENTIFIER = 256
# name -> (FHIR type, what it finds), in the order the CapabilityStatement lists them.
PARAMETERS: dict[str, tuple[str, str]] = {
    "patient": ("reference", "Le patient : Patient/<id> (id rendu par la recherche Patient)."),
    "patient.identifier": ("token", "Le patient par son INS : urn:oid:1.2.250.1.213.1.4.8|<INS>."),
    "_id": ("token", "Identifiants de DocumentReference (le patient s'en déduit)."),
    "identifier": (
        "token",
        "Identifiant unique du document (masterIdentifier), ou urn:uuid: du document ou de son "
        "identifiant logique.",
    ),
    "status": ("token", "current | superseded (entered-in-error : jamais rendu)."),
    "archived": ("token", "DMP : false (défaut) | true | true,false — documents archivés."),
    "type": ("token", "Type de document (JDV_J66)."),
    "category": ("token", "Classe de document (JDV_J57)."),
    "security-label": ("token", "N, R, V, MASQUE_PS, INVISIBLE_PATIENT, …"),
    "format": ("token", "Format du document (formatCode)."),
    "facility": ("token", "Type d'établissement producteur (context.facilityType, JDV_J02)."),
    "setting": ("token", "Cadre d'exercice (context.practiceSetting, JDV_J04)."),
    "event": ("token", "Acte (context.event) : le DMP n'en conserve pas, rien n'est trouvé."),
    "related": ("reference", "Référence liée (context.related) : non conservée, rien trouvé."),
    "creation": ("date", "Date de création du document (préfixes ge, gt, le, lt, eq)."),
    "date": ("date", "Date de dépôt dans le DMP (DocumentReference.date ; mêmes préfixes)."),
    "period": ("date", "Période de prise en charge (préfixes ge, gt, le, lt, eq)."),
    "author.identifier": ("token", "RPPS de l'auteur (urn:oid:1.2.250.1.71.4.2.1|<RPPS>)."),
    "author.given": ("string", "Prénom de l'auteur (début du prénom, sans casse ni accents)."),
    "author.family": ("string", "Nom de l'auteur (début du nom, sans casse ni accents)."),
    "_sort": ("special", "date (les plus anciens d'abord) ou -date (défaut)."),
    "_summary": ("special", "count : le nombre de documents seul ; false : tout (défaut)."),
    "_elements": (
        "special",
        "Éléments à rendre de chaque DocumentReference, séparés par des "
        "virgules (les éléments obligatoires sont toujours rendus).",
    ),
    "_count": ("number", f"Taille de page : {DEFAULT_COUNT} par défaut, {MAX_COUNT} au plus."),
    "_offset": ("number", "Rang du premier résultat (liens next et previous fournis)."),
    "_format": ("special", "json ou xml (sinon, l'en-tête Accept)."),
    "_dmp-access-mode": ("token", "Mode d'accès (préférez l'en-tête X-DMP-Access-Mode)."),
    "_dmp-justification": ("string", "Justification d'un accès en urgence (préférez l'en-tête)."),
}
_SORT = {"date": True, "-date": False}
_SUMMARY = {"count": True, "false": False, "data": False}


@dataclass(frozen=True, slots=True)
class Plan:
    """A search of documents, read: whose DMP, what to find, and which page to answer."""

    patient: UUID | Ins
    query: DocumentQuery
    count: int
    offset: int
    only_total: bool
    elements: frozenset[str] | None


def _bad(text: str) -> InvalidInput:
    return InvalidInput(text, code="search")


def _document_ids(p: Parameters) -> list[tuple[UUID, UUID]]:
    values = [v.strip() for value in p.all("_id") for v in value.split(",") if v.strip()]
    return [ids.parse_document_id(value) for value in values]


def _patient(p: Parameters, documents: list[tuple[UUID, UUID]]) -> UUID | Ins:
    """The DMP to search: its id, the patient's INS (resolved by the search itself, in the same
    transaction and audit entry), or the DMP the documents of ``_id`` belong to."""
    patient, ins = p.one("patient"), p.one("patient.identifier")
    if patient is not None and ins is not None:
        raise _bad("Indiquez le patient par « patient » ou « patient.identifier », pas les deux.")
    if patient is not None:
        return ids.parse_patient_reference(patient)
    if ins is not None:
        return parse_ins_token(ins)
    dmps = {dmp_id for dmp_id, _ in documents}
    if len(dmps) == 1:
        return dmps.pop()
    if dmps:
        raise _bad("Les documents de « _id » appartiennent à des patients différents.")
    raise _bad(
        "Indiquez le patient : « patient » (Patient/<id>) ou « patient.identifier » (INS), ou "
        "les documents cherchés (« _id »)."
    )


def _identifiers(p: Parameters) -> frozenset[str]:
    found: frozenset[str] | None = None
    for value in p.all("identifier"):
        wanted = {v.rsplit("|", 1)[-1].strip() for v in value.split(",") if v.strip()}
        if any(len(v) > MAX_IDENTIFIER for v in wanted):
            raise _bad(f"Paramètre « identifier » : {MAX_IDENTIFIER} caractères au plus.")
        found = frozenset(wanted) if found is None else found & wanted
    return frozenset() if found is None else (found or NOTHING)


def _references(p: Parameters, name: str) -> frozenset[str]:
    return frozenset(v for value in p.all(name) for v in value.split(",") if v.strip())


def _query(p: Parameters, documents: list[tuple[UUID, UUID]]) -> DocumentQuery:
    created_from, created_to = date_range(p.all("creation"))
    period_from, period_to = date_range(p.all("period"))
    submitted_from, submitted_to = date_range(p.all("date"))
    sort = p.one("_sort") or "-date"
    if sort not in _SORT:
        raise _bad(f"Tri non pris en charge : _sort={sort[:40]} (date ou -date).")
    return DocumentQuery(
        statuses=statuses(p.one("status"), p.one("archived")),
        type_codes=all_tokens(p.all("type"), "type"),
        class_codes=all_tokens(p.all("category"), "category"),
        security_labels=all_tokens(p.all("security-label"), "security-label"),
        author_rpps=all_tokens(p.all("author.identifier"), "author.identifier"),
        created_from=created_from,
        created_to=created_to,
        period_from=period_from,
        period_to=period_to,
        ids=frozenset(doc_id for _, doc_id in documents),
        identifiers=_identifiers(p),
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        facility_types=all_tokens(p.all("facility"), "facility"),
        practice_settings=all_tokens(p.all("setting"), "setting"),
        format_codes=all_tokens(p.all("format"), "format"),
        events=all_tokens(p.all("event"), "event"),
        related=_references(p, "related"),
        author_given=strings(p.all("author.given")),
        author_family=strings(p.all("author.family")),
        oldest_first=_SORT[sort],
    )


def _summary(p: Parameters) -> bool:
    summary = (p.one("_summary") or "false").strip()
    if summary not in _SUMMARY:
        raise _bad(f"_summary={summary[:20]} non pris en charge (count ou false).")
    return _SUMMARY[summary]


def _elements(p: Parameters) -> frozenset[str] | None:
    values = p.all("_elements")
    if not values:
        return None
    return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())


def plan(p: Parameters) -> Plan:
    """What the parameters of an ITI-67 search ask for."""
    documents = _document_ids(p)
    return Plan(
        patient=_patient(p, documents),
        query=_query(p, documents),
        count=min(number(p.one("_count"), "_count", DEFAULT_COUNT, 10_000), MAX_COUNT),
        offset=number(p.one("_offset"), "_offset", 0, MAX_OFFSET),
        only_total=_summary(p),
        elements=_elements(p),
    )
