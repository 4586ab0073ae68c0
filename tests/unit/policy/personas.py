"""The people of the policy tests. Each stands for one relation to a DMP, so that a row of a truth
table reads as a sentence: "Chloé, the nurse Alice authorized, reads a masked prescription in normal
access: no, it is masked".

Alice (adult) has a DMP; Léa (a minor) has one, with her father Marc as legal representative.
Tables name people, records and documents by the short keys of ACTORS, RECORDS and DOCS.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import NAMESPACE_URL, UUID, uuid5

from dmp.domain.model import (
    MEDECIN,
    PATIENT_CLASS,
    AccessMode,
    Actor,
    DocStatus,
    DocumentFacts,
    Establishment,
    PatientActor,
    Professional,
    ProfessionalActor,
    RecordFacts,
    RecordState,
    RepresentativeActor,
    SystemActor,
)
from dmp.domain.valuesets import ProfessionMatrix
from dmp.policy import Access, Decision

PHARMACIEN = "21"
INFIRMIER = "60"

WHY = "Patiente inconsciente aux urgences, suspicion d'AVC."  # a written emergency justification


def _uuid(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"https://dmp.test/{name}")


# --- establishments ------------------------------------------------------------------------------

HOSPITAL = Establishment(_uuid("hopital"), "750100125", "Hôpital Saint-Louis", "hospital", False)
PHARMACY = Establishment(_uuid("pharmacie"), "130000016", "Pharmacie du Port", "pharmacy", False)
INSURER = Establishment(_uuid("assurance"), "750200009", "Assurance Horizon", "insurer", True)
MUTUELLE = Establishment(_uuid("mutuelle"), "440000297", "Mutuelle Atlantique", "mutuelle", True)
ESTABLISHMENTS = {
    "hospital": HOSPITAL,
    "pharmacy": PHARMACY,
    "insurer": INSURER,
    "mutuelle": MUTUELLE,
}


# --- professionals -------------------------------------------------------------------------------


def _professional(
    given_name: str,
    profession: str,
    *,
    occupational_health: bool = False,
    samu_regulator: bool = False,
    establishments: tuple[Establishment, ...] = (),
) -> Professional:
    return Professional(
        id=_uuid(given_name),
        rpps=f"{_uuid(given_name).int % 10**11:011d}",
        family_name="Test",
        given_name=given_name,
        profession=profession,
        specialty=None,
        occupational_health=occupational_health,
        samu_regulator=samu_regulator,
        establishment_ids=frozenset(e.id for e in establishments),
        # As the directory reads it: attached somewhere, and only to excluded organizations.
        attached_only_to_excluded=bool(establishments) and all(e.excluded for e in establishments),
    )


BRUNO_PRO = _professional("Bruno", MEDECIN)  # Alice's and Léa's médecin traitant
CHLOE_PRO = _professional("Chloé", INFIRMIER)  # a nurse Alice authorized
DAMIEN_PRO = _professional("Damien", MEDECIN)  # a médecin with no relation to Alice
ELISE_PRO = _professional("Élise", MEDECIN, occupational_health=True)  # médecin du travail
FARID_PRO = _professional("Farid", PHARMACIEN, establishments=(PHARMACY,))  # authorized pharmacist
# Gaël works at the hospital, which Alice authorized.
GAEL_PRO = _professional("Gaël", MEDECIN, establishments=(HOSPITAL,))
HUGO_PRO = _professional("Hugo", MEDECIN)  # created Alice's DMP, so authorized; Léa's too
IRENE_PRO = _professional("Irène", MEDECIN)  # authorized, then blocked by Alice
JULIEN_PRO = _professional("Julien", MEDECIN)  # radiologist, authorized, wrote Alice's documents
# Oscar is the insurer's médecin-conseil, and works nowhere else.
OSCAR_PRO = _professional("Oscar", MEDECIN, establishments=(INSURER,))
# Mathilde works at the hospital, and is also the mutuelle's médecin-conseil.
MATHILDE_PRO = _professional("Mathilde", MEDECIN, establishments=(HOSPITAL, MUTUELLE))
# Ulysse advises the insurer and the mutuelle, nothing else.
ULYSSE_PRO = _professional("Ulysse", MEDECIN, establishments=(INSURER, MUTUELLE))
SAMIA_PRO = _professional("Samia", MEDECIN, samu_regulator=True)  # regulating médecin, centre 15
THEO_PRO = _professional("Théo", INFIRMIER, samu_regulator=True)  # a nurse: cannot regulate


def acting(
    professional: Professional, establishment: Establishment | None = None
) -> ProfessionalActor:
    """The professional at work, for the establishment if one is given."""
    return ProfessionalActor(
        professional_id=professional.id,
        rpps=professional.rpps,
        profession=professional.profession,
        occupational_health=professional.occupational_health,
        samu_regulator=professional.samu_regulator,
        establishment_id=establishment.id if establishment else None,
        establishment_excluded=establishment.excluded if establishment else False,
        establishment_finess=establishment.finess if establishment else None,
        attached_only_to_excluded=professional.attached_only_to_excluded,
    )


# --- patients, representatives, the operator ---------------------------------------------------

ALICE_DMP, LEA_DMP, ZOE_DMP = _uuid("dmp-alice"), _uuid("dmp-lea"), _uuid("dmp-zoe")
ALICE_ACCOUNT, LEA_ACCOUNT, ZOE_ACCOUNT = _uuid("alice"), _uuid("lea"), _uuid("zoe")
MARC_ACCOUNT, NADIA_ACCOUNT = _uuid("marc"), _uuid("nadia")

ALICE = PatientActor(ALICE_ACCOUNT, ALICE_DMP)
LEA = PatientActor(LEA_ACCOUNT, LEA_DMP)  # the minor herself
MARC = RepresentativeActor(MARC_ACCOUNT, LEA_DMP)  # Léa's father
NADIA = RepresentativeActor(NADIA_ACCOUNT, LEA_DMP)  # Léa's aunt: not her legal representative
ZOE = PatientActor(ZOE_ACCOUNT, ZOE_DMP)  # another patient
OPERATOR = SystemActor("operator")
RETENTION_JOB = SystemActor("retention-job")

ACTORS: dict[str, Actor] = {
    "alice": ALICE,
    "lea": LEA,
    "marc": MARC,
    "nadia": NADIA,
    "zoe": ZOE,
    "zoe-on-alice": PatientActor(ZOE_ACCOUNT, ALICE_DMP),  # Zoé's account, Alice's DMP id
    "marc-on-alice": RepresentativeActor(MARC_ACCOUNT, ALICE_DMP),
    "bruno": acting(BRUNO_PRO),
    "chloe": acting(CHLOE_PRO),
    "damien": acting(DAMIEN_PRO),
    "elise": acting(ELISE_PRO),
    "farid": acting(FARID_PRO, PHARMACY),
    "gael": acting(GAEL_PRO, HOSPITAL),
    "gael-alone": acting(GAEL_PRO),  # the same médecin in his private practice
    "hugo": acting(HUGO_PRO),
    "irene": acting(IRENE_PRO),
    "julien": acting(JULIEN_PRO),
    "oscar": acting(OSCAR_PRO, INSURER),
    "oscar-alone": acting(OSCAR_PRO),  # the same médecin-conseil, acting for no establishment
    "mathilde": acting(MATHILDE_PRO, HOSPITAL),
    "mathilde-mutuelle": acting(MATHILDE_PRO, MUTUELLE),
    "mathilde-alone": acting(MATHILDE_PRO),
    "ulysse-alone": acting(ULYSSE_PRO),
    "samia": acting(SAMIA_PRO),
    "theo": acting(THEO_PRO),
    "operator": OPERATOR,
    "retention-job": RETENTION_JOB,
}

PROFESSIONALS: dict[str, Professional] = {
    "bruno": BRUNO_PRO,
    "chloe": CHLOE_PRO,
    "damien": DAMIEN_PRO,
    "elise": ELISE_PRO,
    "farid": FARID_PRO,
    "gael": GAEL_PRO,
    "hugo": HUGO_PRO,
    "irene": IRENE_PRO,
    "julien": JULIEN_PRO,
    "oscar": OSCAR_PRO,
    "mathilde": MATHILDE_PRO,
    "ulysse": ULYSSE_PRO,
    "samia": SAMIA_PRO,
    "theo": THEO_PRO,
}

# --- records -------------------------------------------------------------------------------------

ALICE_RECORD = RecordFacts(
    dmp_id=ALICE_DMP,
    state=RecordState.ACTIVE,
    patient_account_id=ALICE_ACCOUNT,
    medecin_traitant_id=BRUNO_PRO.id,
    # Élise, Oscar, Ulysse and the insurer are listed as if an authorization had slipped past the
    # rules (or predated their exclusion): the law must still keep them out. Alice authorized
    # Mathilde in person: that covers her at the hospital and on her own, never for the mutuelle.
    authorized_professionals=frozenset(
        p.id
        for p in (
            *(CHLOE_PRO, FARID_PRO, HUGO_PRO, IRENE_PRO, JULIEN_PRO, MATHILDE_PRO),
            *(ELISE_PRO, OSCAR_PRO, ULYSSE_PRO),
        )
    ),
    authorized_establishments=frozenset({HOSPITAL.id, INSURER.id}),
    blocked_professionals=frozenset({IRENE_PRO.id}),
)

LEA_RECORD = RecordFacts(
    dmp_id=LEA_DMP,
    state=RecordState.ACTIVE,
    patient_account_id=LEA_ACCOUNT,
    representative_account_ids=frozenset({MARC_ACCOUNT}),
    patient_is_minor=True,
    medecin_traitant_id=BRUNO_PRO.id,
    authorized_professionals=frozenset({HUGO_PRO.id}),
)

RECORDS: dict[str, RecordFacts] = {
    "alice": ALICE_RECORD,
    "alice-closed": replace(ALICE_RECORD, state=RecordState.CLOSED),
    "alice-destroyed": replace(ALICE_RECORD, state=RecordState.DESTROYED),
    "alice-no-emergency": replace(ALICE_RECORD, oppose_emergency=True),
    "alice-no-samu": replace(ALICE_RECORD, oppose_samu=True),
    "alice-opposed": replace(ALICE_RECORD, oppose_emergency=True, oppose_samu=True),
    "alice-blocks-bruno": replace(
        ALICE_RECORD, blocked_professionals=frozenset({IRENE_PRO.id, BRUNO_PRO.id})
    ),
    "alice-no-mt": replace(ALICE_RECORD, medecin_traitant_id=None),
    "lea": LEA_RECORD,
    "lea-closed": replace(LEA_RECORD, state=RecordState.CLOSED),
    "lea-destroyed": replace(LEA_RECORD, state=RecordState.DESTROYED),
    "lea-adult": replace(LEA_RECORD, patient_is_minor=False),  # Léa turned 18
}

# --- documents -----------------------------------------------------------------------------------

# Julien's prescription (class 42): every profession of MATRIX reads it, so only the flags decide.
PRESCRIPTION = DocumentFacts(class_code="42", author_professional_id=JULIEN_PRO.id)
PATIENT_OWN = DocumentFacts(class_code=PATIENT_CLASS, added_by_patient=True)

DOCS: dict[str, DocumentFacts] = {
    "N": PRESCRIPTION,
    "MASQUE_PS": replace(PRESCRIPTION, masked=True),
    "INVISIBLE_PATIENT": replace(PRESCRIPTION, invisible_patient=True),
    "INVISIBLE_REPRESENTANTS_LEGAUX": replace(PRESCRIPTION, invisible_representatives=True),
    "INVISIBLE_BOTH": replace(PRESCRIPTION, invisible_patient=True, invisible_representatives=True),
    "deleted": replace(PRESCRIPTION, status=DocStatus.DELETED),
    "archived": replace(PRESCRIPTION, status=DocStatus.ARCHIVED),
    "superseded": replace(PRESCRIPTION, status=DocStatus.SUPERSEDED),
    "report": replace(PRESCRIPTION, class_code="10"),  # compte rendu: not for pharmacists
    "imaging": replace(PRESCRIPTION, class_code="31"),  # imagerie: not for nurses
    "masked-imaging": replace(PRESCRIPTION, class_code="31", masked=True),
    # Written by the hospital's system: everyone acting for the hospital is its author.
    "hospital-masked": DocumentFacts(
        class_code="10", masked=True, author_establishment_id=HOSPITAL.id
    ),
    # "own": a document the patient added herself (class 90).
    "own": PATIENT_OWN,
    "own-archived": replace(PATIENT_OWN, status=DocStatus.ARCHIVED),
    # The patient's own document, filed through Julien's software: Julien is its author.
    "own-via-julien": replace(PATIENT_OWN, author_professional_id=JULIEN_PRO.id),
}

# A fixed matrix, so that the tables do not move when the shipped default is replaced.
MATRIX = ProfessionMatrix(
    version="policy-tests",
    is_default=False,
    readable={
        MEDECIN: frozenset({"*"}),
        PHARMACIEN: frozenset({"42", "43", PATIENT_CLASS}),
        INFIRMIER: frozenset({"10", "11", "42", "44", PATIENT_CLASS}),
    },
)


# --- how the tables are written ---------------------------------------------------------------

MODES = {"N": AccessMode.NORMAL, "E": AccessMode.EMERGENCY, "S": AccessMode.SAMU}
JUSTIFICATIONS = {"-": None, "why": WHY, "empty": "", "blank": "   \n"}


def table(text: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """A truth table written as aligned text, ready for ``pytest.mark.parametrize(*table(...))``:
    a header line naming the columns, then one row per line. Lines starting with # are comments."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    header, *rows = [cells for cells in lines if not cells[0].startswith("#")]
    bad = [row for row in rows if len(row) != len(header)]
    assert not bad, f"rows without {len(header)} cells: {bad}"
    return header, [tuple(row) for row in rows]


def access(actor: str, record: str, mode: str = "N", justification: str = "-") -> Access:
    return Access(ACTORS[actor], RECORDS[record], MODES[mode], JUSTIFICATIONS[justification])


def outcome(decision: Decision) -> str:
    """ "allow:<reason>" or "deny:<reason>", as the tables write their expected column."""
    return f"{'allow' if decision.allowed else 'deny'}:{decision.reason}"
