"""Feeding a DMP and changing its documents (SPEC §3.3, §4) as truth tables.

Same conventions as test_truth_tables; emergency rows carry a written justification. Classes: 10
compte rendu, 44 plan de soins, 90 document added by the patient.
"""

from __future__ import annotations

import pytest

from dmp.policy import DocumentChange, Flags, add_document, change_document, version_flags

from .personas import DOCS, MATRIX, access, outcome, table

ADD_DOCUMENT = """
    actor     record           mode  class_code  expected
    # -- the patient and the representatives add their own documents (class 90) only
    alice     alice            N     90          allow:holder
    alice     alice            N     10          deny:professional-class-only
    alice     alice-closed     N     90          deny:record-closed
    alice     alice-destroyed  N     90          deny:record-destroyed
    alice     alice            E     90          deny:mode-not-for-patient
    zoe       alice            N     90          deny:other-record
    marc      lea              N     90          allow:legal-representative
    marc      lea              N     44          deny:professional-class-only
    marc      lea-closed       N     90          deny:record-closed
    marc      lea-adult        N     90          deny:representative-of-adult
    # -- professionals who may open the DMP normally add any class but the patient's own
    bruno     alice            N     10          allow:medecin-traitant
    bruno     alice            N     90          deny:patient-class-only
    chloe     alice            N     44          allow:authorized
    chloe     alice            N     90          deny:patient-class-only
    chloe     alice-closed     N     44          deny:record-closed
    gael      alice            N     10          allow:authorized
    farid     alice            N     10          allow:authorized
    hugo      lea              N     10          allow:authorized
    # -- the emergency modes only read
    bruno     alice            E     10          deny:read-only-mode
    damien    alice            E     10          deny:read-only-mode
    damien    alice            E     90          deny:read-only-mode
    samia     alice            S     10          deny:read-only-mode
    damien    alice-opposed    E     10          deny:emergency-opposed
    # -- no relation, blocked, excluded, the operator
    damien    alice            N     10          deny:not-authorized
    irene     alice            N     10          deny:blocked
    elise     alice            N     10          deny:excluded-actor
    oscar     alice            N     10          deny:excluded-actor
    operator  alice            N     90          deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(ADD_DOCUMENT))
def test_add_document(actor: str, record: str, mode: str, class_code: str, expected: str) -> None:
    why = "-" if mode == "N" else "why"
    assert outcome(add_document(access(actor, record, mode, why), class_code)) == expected


ADD_HIDDEN_DOCUMENT = """
    actor     record  class_code  expected
    # -- only a professional hides a document from the patient until the announcement
    bruno     alice   10          allow:medecin-traitant
    chloe     alice   44          allow:authorized
    alice     alice   90          deny:not-allowed-change
    marc      lea     90          deny:not-allowed-change
    # -- the other rules come first
    bruno     alice   90          deny:patient-class-only
    damien    alice   10          deny:not-authorized
"""


@pytest.mark.parametrize(*table(ADD_HIDDEN_DOCUMENT))
def test_add_a_document_hidden_from_the_patient(
    actor: str, record: str, class_code: str, expected: str
) -> None:
    decision = add_document(access(actor, record), class_code, hidden_from_patient=True)
    assert outcome(decision) == expected


VERSION_FLAGS = """
    replaced                        declared     expected
    # -- what protects the patient on the replaced version stays on the new one
    N                               none         none
    MASQUE_PS                       none         masked
    INVISIBLE_REPRESENTANTS_LEGAUX  none         representatives
    INVISIBLE_BOTH                  none         representatives
    # -- the author declares the rest, for the new version as for any
    N                               masked       masked
    N                               hidden       hidden
    INVISIBLE_PATIENT               none         none
    MASQUE_PS                       hidden       masked,hidden
"""
_FLAGS = {
    "masked": Flags(masked=True),
    "hidden": Flags(invisible_patient=True),
    "representatives": Flags(invisible_representatives=True),
}


def _flags(text: str) -> Flags:
    found = Flags()
    for name in text.split(","):
        extra = _FLAGS.get(name, Flags())
        found = Flags(
            found.masked or extra.masked,
            found.invisible_patient or extra.invisible_patient,
            found.invisible_representatives or extra.invisible_representatives,
        )
    return found


@pytest.mark.parametrize(*table(VERSION_FLAGS))
def test_a_new_version_keeps_what_protects_the_patient(
    replaced: str, declared: str, expected: str
) -> None:
    assert version_flags(DOCS[replaced], _flags(declared)) == _flags(expected)


CHANGE_DOCUMENT = """
    actor     record        mode  document           change             expected
    # -- mask: the patient, a representative, or the author
    alice     alice         N     N                  mask               allow:holder
    marc      lea           N     N                  mask               allow:legal-representative
    julien    alice         N     N                  mask               allow:author
    gael      alice         N     hospital-masked    mask               allow:author
    bruno     alice         N     N                  mask               deny:not-allowed-change
    chloe     alice         N     N                  mask               deny:not-allowed-change
    damien    alice         N     N                  mask               deny:not-authorized
    alice     alice         N     INVISIBLE_PATIENT  mask               deny:invisible-patient
    marc      lea           N     INVISIBLE_BOTH     mask               deny:invisible-patient
    alice     alice         N     deleted            mask               deny:document-deleted
    alice     alice         N     superseded         mask               allow:holder
    alice     alice-closed  N     N                  mask               deny:record-closed
    julien    alice         E     N                  mask               deny:read-only-mode
    # -- unmask: the patient or a representative only
    alice     alice         N     MASQUE_PS          unmask             allow:holder
    marc      lea           N     MASQUE_PS          unmask             allow:legal-representative
    julien    alice         N     MASQUE_PS          unmask             deny:not-allowed-change
    bruno     alice         N     MASQUE_PS          unmask             deny:not-allowed-change
    chloe     alice         N     MASQUE_PS          unmask             deny:masked
    # -- hide from the patient: the author, never on a document the patient added
    julien    alice         N     N                  hide-from-patient  allow:author
    julien    alice         N     own-via-julien     hide-from-patient  deny:not-allowed-change
    bruno     alice         N     N                  hide-from-patient  deny:not-allowed-change
    alice     alice         N     N                  hide-from-patient  deny:not-allowed-change
    # -- reveal: the author or the médecin traitant
    julien    alice         N     INVISIBLE_PATIENT  reveal             allow:author
    bruno     alice         N     INVISIBLE_PATIENT  reveal             allow:medecin-traitant
    chloe     alice         N     INVISIBLE_PATIENT  reveal             deny:not-allowed-change
    alice     alice         N     INVISIBLE_PATIENT  reveal             deny:invisible-patient
    bruno     alice         E     INVISIBLE_PATIENT  reveal             deny:read-only-mode
    # -- archive a current document: the author, or the patient for her own documents
    julien    alice         N     N                  archive            allow:author
    julien    alice         N     archived           archive            deny:wrong-status
    julien    alice         N     superseded         archive            deny:wrong-status
    alice     alice         N     own                archive            allow:holder
    marc      lea           N     own                archive            allow:legal-representative
    alice     alice         N     N                  archive            deny:not-allowed-change
    bruno     alice         N     N                  archive            deny:not-allowed-change
    # -- unarchive an archived document
    julien    alice         N     archived           unarchive          allow:author
    julien    alice         N     N                  unarchive          deny:wrong-status
    alice     alice         N     own-archived       unarchive          allow:holder
    alice     alice         N     archived           unarchive          deny:not-allowed-change
    # -- delete a current or archived document
    julien    alice         N     N                  delete             allow:author
    julien    alice         N     archived           delete             allow:author
    julien    alice         N     superseded         delete             deny:wrong-status
    julien    alice         N     deleted            delete             deny:document-deleted
    gael      alice         N     hospital-masked    delete             allow:author
    alice     alice         N     own                delete             allow:holder
    alice     alice         N     N                  delete             deny:not-allowed-change
    chloe     alice         N     N                  delete             deny:not-allowed-change
    # -- a document one may not read cannot be changed, for the reason that keeps it from them
    farid     alice         N     report             delete             deny:profession-matrix
    # -- replace a current document
    julien    alice         N     N                  replace            allow:author
    julien    alice         N     archived           replace            deny:wrong-status
    alice     alice         N     own                replace            allow:holder
    farid     alice         N     N                  replace            deny:not-allowed-change
    # -- blocked, excluded, the operator
    irene     alice         N     N                  mask               deny:blocked
    elise     alice         N     N                  delete             deny:excluded-actor
    operator  alice         N     N                  mask               deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(CHANGE_DOCUMENT))
def test_change_document(
    actor: str, record: str, mode: str, document: str, change: str, expected: str
) -> None:
    why = "-" if mode == "N" else "why"
    decision = change_document(
        access(actor, record, mode, why), DOCS[document], DocumentChange(change), MATRIX
    )
    assert outcome(decision) == expected


def test_every_change_has_a_row() -> None:
    _, rows = table(CHANGE_DOCUMENT)
    assert {row[4] for row in rows} == {change.value for change in DocumentChange}
