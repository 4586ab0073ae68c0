"""Synthetic HL7 CDA R2 documents with the French CI-SIS header: a discharge letter (11490-0) and a
medical summary (60591-5). Fictional content, well-formed XML, deterministic for a seed.

The tree is built without namespaces and the root carries ``xmlns="urn:hl7-org:v3"`` as a plain
attribute: every element is thus in the HL7 namespace once parsed, with no global prefix registry.
"""

from __future__ import annotations

import random
import uuid
import xml.etree.ElementTree as ET  # building only: parsing untrusted XML goes through defusedxml
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dmp.demo.clinical import age_on
from dmp.demo.identities import AuthorLike, PatientLike, title_for
from dmp.domain.identifiers import FINESS_SYSTEM, INS_NIR_SYSTEM, RPPS_SYSTEM
from dmp.domain.valuesets import load_valuesets

HL7_NAMESPACE = "urn:hl7-org:v3"
LOINC_OID = "2.16.840.1.113883.6.1"
INS_OID = INS_NIR_SYSTEM.removeprefix("urn:oid:")
RPPS_OID = RPPS_SYSTEM.removeprefix("urn:oid:")
FINESS_OID = FINESS_SYSTEM.removeprefix("urn:oid:")
_PROFESSION_OID = "1.2.250.1.71.1.2.7"
_CONFIDENTIALITY_OID = "2.16.840.1.113883.5.25"
_GENDER_OID = "2.16.840.1.113883.5.1"
_FACILITY_OID = "1.2.250.1.71.4.2.4"
_FACILITY_TYPES = {
    "hospital": "SA01",
    "clinic": "SA07",
    "laboratory": "SA29",
    "pharmacy": "SA33",
    "practice": "SA52",
}  # establishment kind -> healthcareFacilityTypeCode
_TEMPLATES = ("2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1")  # HL7 France, CI-SIS header


@dataclass(frozen=True, slots=True)
class Stay:
    service: str
    reason: str
    course: str
    treatment: tuple[str, ...]
    follow_up: str


STAYS = (
    Stay(
        "Cardiologie",
        "Décompensation cardiaque gauche",
        "Admission pour dyspnée d'effort d'aggravation progressive et œdèmes des membres "
        "inférieurs. Échocardiographie : fraction d'éjection ventriculaire gauche à 40 %. "
        "Amélioration rapide sous diurétiques intraveineux, perte de poids de 4 kg.",
        (
            "Furosémide 40 mg : 1 comprimé le matin",
            "Bisoprolol 2,5 mg : 1 comprimé le matin",
            "Ramipril 2,5 mg : 1 comprimé le soir",
        ),
        "Pesée trois fois par semaine. Ionogramme et créatinine à J7. Consultation de "
        "cardiologie dans un mois.",
    ),
    Stay(
        "Pneumologie",
        "Pneumopathie aiguë communautaire",
        "Fièvre à 39 °C, toux et douleur basithoracique droite. Radiographie : condensation "
        "lobaire inférieure droite. CRP à 180 mg/L. Évolution favorable sous antibiothérapie.",
        (
            "Amoxicilline-acide clavulanique 1 g : 1 comprimé 3 fois par jour jusqu'à J7",
            "Paracétamol 1 g : si fièvre, sans dépasser 3 g par jour",
        ),
        "Radiographie thoracique de contrôle à six semaines. Consultation chez le médecin "
        "traitant à la fin du traitement.",
    ),
    Stay(
        "Chirurgie orthopédique",
        "Coxarthrose gauche invalidante",
        "Pose d'une prothèse totale de hanche gauche par voie postérieure. Suites opératoires "
        "simples, lever à J1, appui complet autorisé.",
        (
            "Énoxaparine 4000 UI : 1 injection sous-cutanée par jour pendant 35 jours",
            "Paracétamol 1 g : 1 comprimé jusqu'à 4 fois par jour",
        ),
        "Kinésithérapie à domicile. Ablation des agrafes à J15 par l'infirmier. Consultation "
        "chirurgicale à six semaines avec radiographie.",
    ),
    Stay(
        "Chirurgie digestive",
        "Cholécystite aiguë lithiasique",
        "Cholécystectomie sous cœlioscopie à J1 de l'admission. Suites simples, reprise de "
        "l'alimentation à J1, sortie à J3.",
        ("Paracétamol 1 g : 1 comprimé jusqu'à 3 fois par jour pendant 5 jours",),
        "Consultation chirurgicale à un mois. Reprendre contact en cas de fièvre ou d'ictère.",
    ),
    Stay(
        "Gériatrie",
        "Chute à domicile",
        "Chute sans perte de connaissance. Bilan : hypotension orthostatique sur traitement "
        "antihypertenseur, allégé pendant le séjour. Pas de fracture.",
        ("Amlodipine 5 mg : arrêtée", "Colécalciférol 100 000 UI : 1 ampoule tous les 3 mois"),
        "Kinésithérapie pour la marche. Réévaluation de la pression artérielle par le médecin "
        "traitant sous quinze jours.",
    ),
)
HISTORY = (
    "Hypertension artérielle",
    "Diabète de type 2",
    "Asthme depuis l'enfance",
    "Appendicectomie dans l'enfance",
    "Hypothyroïdie",
    "Dyslipidémie",
    "Fracture du poignet droit",
    "Épisode dépressif, résolu",
    "Cholécystectomie",
    "Migraine sans aura",
)
ALLERGIES = (
    "Aucune allergie connue",
    "Allergie à la pénicilline (urticaire)",
    "Allergie aux acariens",
    "Intolérance à la codéine (nausées)",
)
LONG_TERM = (
    "Ramipril 5 mg : 1 comprimé le matin",
    "Metformine 850 mg : 1 comprimé matin et soir",
    "Lévothyroxine 75 µg : 1 comprimé le matin à jeun",
    "Atorvastatine 20 mg : 1 comprimé le soir",
    "Salbutamol 100 µg/dose : 2 bouffées si besoin",
)
VACCINES = (
    "Diphtérie, tétanos, poliomyélite (rappel)",
    "Grippe saisonnière",
    "Covid-19",
    "Pneumocoque",
    "Hépatite B",
)
CHILD_HISTORY = (
    "Bronchiolite du nourrisson",
    "Otites moyennes à répétition",
    "Eczéma atopique",
    "Asthme du nourrisson",
    "Varicelle",
)
RISK_FACTORS = (
    "Tabagisme sevré depuis 10 ans",
    "Sédentarité",
    "Surpoids (IMC 27)",
    "Antécédent familial de cancer colorectal",
    "Consommation d'alcool occasionnelle",
)


def _ts(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y%m%d%H%M%S%z")
    return moment.strftime("%Y%m%d")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def _person_name(parent: ET.Element, given: str, family: str, prefix: str | None = None) -> None:
    name = _sub(parent, "name")
    if prefix:
        _sub(name, "prefix", prefix)
    for part in given.split():
        _sub(name, "given", part)
    _sub(name, "family", family, qualifier="BR")


def _organization(parent: ET.Element, tag: str, author: AuthorLike) -> None:
    organization = _sub(parent, tag)
    # IdNat_Struct: "1" followed by the FINESS number (CI-SIS)
    _sub(organization, "id", root=FINESS_OID, extension=f"1{author.finess}")
    _sub(organization, "name", author.establishment_name)


def _record_target(root: ET.Element, patient: PatientLike) -> None:
    role = _sub(_sub(root, "recordTarget"), "patientRole")
    _sub(role, "id", root=INS_OID, extension=patient.ins)
    _sub(_sub(role, "addr"), "city", patient.city)
    person = _sub(role, "patient")
    _person_name(person, patient.given_names, patient.family_name)
    gender = "M" if patient.gender == "male" else "F"
    _sub(person, "administrativeGenderCode", code=gender, codeSystem=_GENDER_OID)
    _sub(person, "birthTime", value=_ts(patient.birth_date))


def _assigned(parent: ET.Element, tag: str, author: AuthorLike) -> ET.Element:
    assigned = _sub(parent, tag)
    # IdNat_PS: "8" followed by the RPPS number (CI-SIS)
    _sub(assigned, "id", root=RPPS_OID, extension=f"8{author.rpps}")
    profession = load_valuesets().professions.get(author.profession, author.profession)
    _sub(
        assigned, "code", code=author.profession, codeSystem=_PROFESSION_OID, displayName=profession
    )
    person = _sub(assigned, "assignedPerson")
    _person_name(person, author.given_name, author.family_name, title_for(author))
    return assigned


def _header(
    rng: random.Random, type_code: str, patient: PatientLike, author: AuthorLike, when: datetime
) -> ET.Element:
    title = load_valuesets().document_type(type_code).coding.display
    root = ET.Element("ClinicalDocument", {"xmlns": HL7_NAMESPACE})
    _sub(root, "realmCode", code="FR")
    _sub(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for template in _TEMPLATES:
        _sub(root, "templateId", root=template)
    _sub(root, "id", root=_uuid(rng))
    _sub(
        root,
        "code",
        code=type_code,
        codeSystem=LOINC_OID,
        codeSystemName="LOINC",
        displayName=title,
    )
    _sub(root, "title", title)
    _sub(root, "effectiveTime", value=_ts(when))
    _sub(
        root, "confidentialityCode", code="N", codeSystem=_CONFIDENTIALITY_OID, displayName="Normal"
    )
    _sub(root, "languageCode", code="fr-FR")
    _sub(root, "setId", root=_uuid(rng))
    _sub(root, "versionNumber", value="1")
    _record_target(root, patient)
    author_element = _sub(root, "author")
    _sub(author_element, "time", value=_ts(when))
    _organization(
        _assigned(author_element, "assignedAuthor", author), "representedOrganization", author
    )
    custodian = _sub(_sub(root, "custodian"), "assignedCustodian")
    _organization(custodian, "representedCustodianOrganization", author)
    legal = _sub(root, "legalAuthenticator")
    _sub(legal, "time", value=_ts(when))
    _sub(legal, "signatureCode", code="S")
    _assigned(legal, "assignedEntity", author)
    return root


def _service_event(root: ET.Element, start: datetime | date, stop: datetime | date) -> None:
    event = _sub(_sub(root, "documentationOf"), "serviceEvent", classCode="PCPR")
    period = _sub(event, "effectiveTime")
    _sub(period, "low", value=_ts(start))
    _sub(period, "high", value=_ts(stop))


def _section(body: ET.Element, code: str, title: str, content: str | tuple[str, ...]) -> None:
    section = _sub(_sub(body, "component"), "section")
    _sub(section, "code", code=code, codeSystem=LOINC_OID, codeSystemName="LOINC")
    _sub(section, "title", title)
    text = _sub(section, "text")
    if isinstance(content, str):
        _sub(text, "paragraph", content)
    else:
        items = _sub(text, "list")
        for item in content:
            _sub(items, "item", item)


def _body(root: ET.Element) -> ET.Element:
    return _sub(_sub(root, "component"), "structuredBody")


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")


def discharge_summary_cda(
    rng: random.Random, patient: PatientLike, author: AuthorLike, when: datetime
) -> bytes:
    """A discharge letter (lettre de liaison, 11490-0) for a stay ending at ``when``."""
    stay = rng.choice(STAYS)
    admitted = when - timedelta(days=rng.randint(2, 9), hours=rng.randint(0, 8))
    root = _header(rng, "11490-0", patient, author, when)
    _service_event(root, admitted, when)
    encounter = _sub(_sub(root, "componentOf"), "encompassingEncounter")
    period = _sub(encounter, "effectiveTime")
    _sub(period, "low", value=_ts(admitted))
    _sub(period, "high", value=_ts(when))
    facility = _sub(_sub(encounter, "location"), "healthCareFacility")
    facility_type = _FACILITY_TYPES.get(author.establishment_kind, "SA01")
    _sub(
        facility,
        "code",
        code=facility_type,
        codeSystem=_FACILITY_OID,
        displayName=load_valuesets().facility_types[facility_type],
    )
    body = _body(root)
    _section(
        body,
        "46241-6",
        "Motif d'hospitalisation",
        f"Hospitalisation en {stay.service.lower()} du {admitted:%d/%m/%Y} au "
        f"{when:%d/%m/%Y} : {stay.reason.lower()}.",
    )
    _section(body, "8648-8", "Synthèse du séjour", stay.course)
    _section(body, "10183-2", "Traitement de sortie", stay.treatment)
    _section(body, "18776-5", "Suivi et consignes", stay.follow_up)
    return _serialize(root)


def medical_summary_cda(
    rng: random.Random, patient: PatientLike, author: AuthorLike, when: datetime
) -> bytes:
    """A medical summary (synthèse médicale, 60591-5) by the GP: history, allergies, treatments."""
    root = _header(rng, "60591-5", patient, author, when)
    _service_event(root, patient.birth_date, when)
    child = age_on(patient.birth_date, when.date()) < 18
    history, long_term = (CHILD_HISTORY, ()) if child else (HISTORY, LONG_TERM)
    body = _body(root)
    _section(body, "11348-0", "Antécédents", tuple(rng.sample(history, rng.randint(1, 3))))
    _section(body, "48765-2", "Allergies et intolérances", rng.choice(ALLERGIES))
    _section(
        body,
        "10160-0",
        "Traitements au long cours",
        tuple(rng.sample(long_term, rng.randint(1, 3)))
        if long_term
        else "Aucun traitement au long cours.",
    )
    vaccines = tuple(
        f"{vaccine} : {max(patient.birth_date.year, when.year - rng.randint(0, 9))}"
        for vaccine in rng.sample(VACCINES, rng.randint(2, 4))
    )
    _section(body, "11369-6", "Vaccinations", vaccines)
    _section(
        body,
        "29762-2",
        "Facteurs de risque et mode de vie",
        "Aucun facteur de risque connu."
        if child
        else tuple(rng.sample(RISK_FACTORS, rng.randint(1, 2))),
    )
    return _serialize(root)
