"""Synthetic CDA R2 documents: well-formed, French CI-SIS header, the patient's INS, a body."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree

from dmp.demo.cda import FINESS_OID, INS_OID, LOINC_OID, RPPS_OID
from dmp.demo.documents import discharge_summary_cda, medical_summary_cda
from dmp.demo.identities import SyntheticPerson, SyntheticProfessional, fake_person

NS = {"hl7": "urn:hl7-org:v3"}
CdaMaker = Callable[[random.Random, SyntheticPerson, SyntheticProfessional, datetime], bytes]
CASES = [(discharge_summary_cda, "11490-0"), (medical_summary_cda, "60591-5")]


def _parse(content: bytes) -> Element:
    root: Element = ElementTree.fromstring(content)
    return root


def _one(root: Element, path: str) -> Element:
    found = root.find(path, NS)
    assert found is not None, path
    return found


@pytest.mark.parametrize(("make", "code"), CASES)
def test_header_follows_cda_r2_and_the_french_realm(
    make: CdaMaker,
    code: str,
    patient: SyntheticPerson,
    doctor: SyntheticProfessional,
    when: datetime,
) -> None:
    content = make(random.Random(1), patient, doctor, when)
    assert content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = _parse(content)
    assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"
    assert _one(root, "hl7:realmCode").get("code") == "FR"
    assert _one(root, "hl7:typeId").attrib == {
        "root": "2.16.840.1.113883.1.3",
        "extension": "POCD_HD000040",
    }
    templates = {t.get("root") for t in root.findall("hl7:templateId", NS)}
    assert "1.2.250.1.213.1.1.1.1" in templates
    assert _one(root, "hl7:id").get("root")
    assert _one(root, "hl7:code").attrib["code"] == code
    assert _one(root, "hl7:code").attrib["codeSystem"] == LOINC_OID
    assert _one(root, "hl7:title").text
    assert _one(root, "hl7:effectiveTime").get("value") == "20261103143000+0100"
    assert _one(root, "hl7:confidentialityCode").get("code") == "N"


@pytest.mark.parametrize(("make", "code"), CASES)
def test_participants_carry_ins_rpps_and_finess(
    make: CdaMaker,
    code: str,
    patient: SyntheticPerson,
    doctor: SyntheticProfessional,
    when: datetime,
) -> None:
    root = _parse(make(random.Random(1), patient, doctor, when))
    ins = _one(root, "hl7:recordTarget/hl7:patientRole/hl7:id")
    assert ins.attrib == {"root": INS_OID, "extension": patient.ins}
    assert INS_OID == "1.2.250.1.213.1.4.8"
    person = _one(root, "hl7:recordTarget/hl7:patientRole/hl7:patient")
    assert _one(person, "hl7:name/hl7:family").text == patient.family_name
    assert _one(person, "hl7:birthTime").get("value") == f"{patient.birth_date:%Y%m%d}"
    author = _one(root, "hl7:author/hl7:assignedAuthor/hl7:id")
    assert author.get("root") == RPPS_OID
    assert author.get("extension") == f"8{doctor.rpps}"  # IdNat_PS
    custodian = _one(
        root, "hl7:custodian/hl7:assignedCustodian/hl7:representedCustodianOrganization/hl7:id"
    )
    assert custodian.attrib == {"root": FINESS_OID, "extension": f"1{doctor.finess}"}


@pytest.mark.parametrize(("make", "code"), CASES)
def test_body_has_french_sections(
    make: CdaMaker,
    code: str,
    patient: SyntheticPerson,
    doctor: SyntheticProfessional,
    when: datetime,
) -> None:
    root = _parse(make(random.Random(1), patient, doctor, when))
    sections = root.findall("hl7:component/hl7:structuredBody/hl7:component/hl7:section", NS)
    assert len(sections) >= 4
    for section in sections:
        assert _one(section, "hl7:code").get("codeSystem") == LOINC_OID
        assert _one(section, "hl7:title").text
        narrative = "".join(_one(section, "hl7:text").itertext()).strip()
        assert narrative


@pytest.mark.parametrize(("make", "code"), CASES)
def test_same_seed_same_bytes(
    make: CdaMaker,
    code: str,
    patient: SyntheticPerson,
    doctor: SyntheticProfessional,
    when: datetime,
) -> None:
    first = make(random.Random(9), patient, doctor, when)
    assert make(random.Random(9), patient, doctor, when) == first
    assert make(random.Random(10), patient, doctor, when) != first


@pytest.mark.parametrize(("make", "code"), CASES)
def test_well_formed_over_many_seeds(
    make: CdaMaker, code: str, doctor: SyntheticProfessional, when: datetime
) -> None:
    for seed in range(40):
        person = fake_person(random.Random(seed), minor=seed % 3 == 0)
        root = _parse(make(random.Random(seed), person, doctor, when))
        assert _one(root, "hl7:recordTarget/hl7:patientRole/hl7:id").get("extension") == (
            person.ins
        )


def test_a_childs_summary_has_no_adult_history(
    child: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    text = medical_summary_cda(random.Random(2), child, doctor, when).decode("utf-8")
    assert "Aucun traitement au long cours." in text
    assert "Tabagisme" not in text


def test_discharge_stay_ends_at_when_and_names_the_facility(
    patient: SyntheticPerson, doctor: SyntheticProfessional, when: datetime
) -> None:
    root = _parse(discharge_summary_cda(random.Random(3), patient, doctor, when))
    encounter = _one(root, "hl7:componentOf/hl7:encompassingEncounter")
    low = _one(encounter, "hl7:effectiveTime/hl7:low").get("value", "")
    assert _one(encounter, "hl7:effectiveTime/hl7:high").get("value") == "20261103143000+0100"
    assert low < "20261103143000+0100"
    facility = _one(encounter, "hl7:location/hl7:healthCareFacility/hl7:code")
    assert facility.get("code") in {"SA01", "SA07", "SA52"}
