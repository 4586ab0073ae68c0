"""Who opens a DMP and who reads which document: the rules of SPEC §3.2–3.3 as truth tables.

Each row is written out by hand: actor × record × mode (× justification) (× document) → expected.
Actors, records and documents are the keys of personas.ACTORS, RECORDS and DOCS. Modes: N normal,
E emergency (bris de glace), S SAMU regulation. Justification: "why" a written one, "-" none,
"empty" and "blank" (white space only) count as none.
"""

from __future__ import annotations

import pytest

from dmp.policy import open_record, read_document

from .personas import DOCS, MATRIX, access, outcome, table

OPEN_RECORD = """
    actor          record              mode  justification  expected
    # -- the patient: her own DMP, even closed, never through an emergency mode
    alice          alice               N     -              allow:holder
    alice          alice-closed        N     -              allow:holder
    alice          alice-opposed       N     -              allow:holder
    alice          alice-destroyed     N     -              deny:record-destroyed
    alice          alice               E     why            deny:mode-not-for-patient
    alice          alice               S     why            deny:mode-not-for-patient
    alice          lea                 N     -              deny:other-record
    zoe            alice               N     -              deny:other-record
    zoe-on-alice   alice               N     -              deny:not-holder
    lea            lea                 N     -              allow:holder
    lea            lea-adult           N     -              allow:holder
    # -- a legal representative: only while the patient is a minor
    marc           lea                 N     -              allow:legal-representative
    marc           lea-closed          N     -              allow:legal-representative
    marc           lea-destroyed       N     -              deny:record-destroyed
    marc           lea-adult           N     -              deny:representative-of-adult
    marc           lea                 E     why            deny:mode-not-for-patient
    marc           lea-adult           E     why            deny:representative-of-adult
    marc           alice               N     -              deny:other-record
    marc-on-alice  alice               N     -              deny:not-representative
    nadia          lea                 N     -              deny:not-representative
    # -- Bruno, the médecin traitant
    bruno          alice               N     -              allow:medecin-traitant
    bruno          lea                 N     -              allow:medecin-traitant
    bruno          alice-closed        N     -              deny:record-closed
    bruno          alice-destroyed     N     -              deny:record-destroyed
    bruno          alice-blocks-bruno  N     -              deny:blocked
    bruno          alice-blocks-bruno  E     why            deny:blocked
    bruno          alice               E     why            allow:emergency
    bruno          alice               E     -              deny:justification-required
    bruno          alice-no-emergency  E     why            deny:emergency-opposed
    bruno          alice               S     why            deny:not-samu-regulator
    # -- authorized: in person (Chloé, Farid, Julien), as creator (Hugo), by establishment (Gaël)
    chloe          alice               N     -              allow:authorized
    chloe          alice-opposed       N     -              allow:authorized
    chloe          alice-closed        N     -              deny:record-closed
    chloe          alice-destroyed     N     -              deny:record-destroyed
    chloe          lea                 N     -              deny:not-authorized
    chloe          alice               E     why            allow:emergency
    chloe          alice-no-emergency  E     why            deny:emergency-opposed
    farid          alice               N     -              allow:authorized
    julien         alice               N     -              allow:authorized
    hugo           alice               N     -              allow:authorized
    hugo           lea                 N     -              allow:authorized
    gael           alice               N     -              allow:authorized
    gael           alice-closed        N     -              deny:record-closed
    gael-alone     alice               N     -              deny:not-authorized
    # -- Damien, no relation: emergency only, justified, not opposed
    damien         alice               N     -              deny:not-authorized
    damien         alice               N     why            deny:not-authorized
    damien         alice               E     why            allow:emergency
    damien         alice               E     -              deny:justification-required
    damien         alice               E     empty          deny:justification-required
    damien         alice               E     blank          deny:justification-required
    damien         alice-no-emergency  E     why            deny:emergency-opposed
    damien         alice-no-emergency  E     -              deny:justification-required
    damien         alice-no-samu       E     why            allow:emergency
    damien         alice-opposed       E     why            deny:emergency-opposed
    damien         alice-closed        E     why            deny:record-closed
    damien         alice-destroyed     E     why            deny:record-destroyed
    damien         alice               S     why            deny:not-samu-regulator
    # -- Samia, SAMU regulating médecin; Théo, a nurse, cannot regulate
    samia          alice               S     why            allow:samu
    samia          alice               S     -              deny:justification-required
    samia          alice               S     blank          deny:justification-required
    samia          alice-no-samu       S     why            deny:samu-opposed
    samia          alice-no-samu       S     -              deny:justification-required
    samia          alice-no-emergency  S     why            allow:samu
    samia          alice-opposed       S     why            deny:samu-opposed
    samia          alice-closed        S     why            deny:record-closed
    samia          alice               E     why            allow:emergency
    samia          alice               N     -              deny:not-authorized
    theo           alice               S     why            deny:not-samu-regulator
    theo           alice               S     -              deny:not-samu-regulator
    theo           alice               E     why            allow:emergency
    # -- Irène, blocked: no path in, authorized or not, emergency or not
    irene          alice               N     -              deny:blocked
    irene          alice               E     why            deny:blocked
    irene          alice-closed        N     -              deny:blocked
    irene          alice-destroyed     N     -              deny:record-destroyed
    # -- excluded by law, even listed as authorized, even in an emergency; told before anything
    # -- else, so that they learn nothing of the DMP, not even that it was destroyed
    elise          alice               N     -              deny:excluded-actor
    elise          alice               E     why            deny:excluded-actor
    elise          alice               S     why            deny:excluded-actor
    elise          alice-closed        N     -              deny:excluded-actor
    elise          alice-destroyed     N     -              deny:excluded-actor
    oscar          alice               N     -              deny:excluded-actor
    oscar          alice               E     why            deny:excluded-actor
    # -- attached only to excluded organizations: acting for none of them changes nothing
    oscar-alone    alice               N     -              deny:excluded-actor
    oscar-alone    alice               E     why            deny:excluded-actor
    oscar-alone    alice-destroyed     N     -              deny:excluded-actor
    ulysse-alone   alice               N     -              deny:excluded-actor
    ulysse-alone   alice               E     why            deny:excluded-actor
    ulysse-alone   alice               S     why            deny:excluded-actor
    # -- Mathilde, the hospital's and a mutuelle's: never for the mutuelle; for the hospital or
    # -- alone, as any other professional (Alice authorized her in person)
    mathilde           alice           N     -              allow:authorized
    mathilde-alone     alice           N     -              allow:authorized
    mathilde-alone     alice           E     why            allow:emergency
    mathilde-alone     alice-closed    N     -              deny:record-closed
    mathilde-mutuelle  alice           N     -              deny:excluded-actor
    mathilde-mutuelle  alice           E     why            deny:excluded-actor
    mathilde-mutuelle  alice-destroyed N     -              deny:excluded-actor
    # -- the operator and its jobs never read health data
    operator       alice               N     -              deny:operator-no-health-data
    operator       alice               E     why            deny:operator-no-health-data
    retention-job  alice-closed        N     -              deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(OPEN_RECORD))
def test_open_record(actor: str, record: str, mode: str, justification: str, expected: str) -> None:
    assert outcome(open_record(access(actor, record, mode, justification))) == expected


READ_DOCUMENT = """
    actor       record         mode  document                        expected
    # -- Alice reads her own documents, masked ones too, not those awaiting the announcement
    alice       alice          N     N                               allow:holder
    alice       alice          N     MASQUE_PS                       allow:holder
    alice       alice          N     INVISIBLE_PATIENT               deny:invisible-patient
    alice       alice          N     INVISIBLE_REPRESENTANTS_LEGAUX  allow:holder
    alice       alice          N     deleted                         deny:document-deleted
    alice       alice          N     archived                        allow:holder
    alice       alice          N     superseded                      allow:holder
    alice       alice          N     imaging                         allow:holder
    alice       alice          N     own                             allow:holder
    alice       alice-closed   N     N                               allow:holder
    alice       alice-closed   N     INVISIBLE_PATIENT               deny:invisible-patient
    alice       alice          E     N                               deny:mode-not-for-patient
    zoe         alice          N     N                               deny:other-record
    # -- Léa, the minor, sees what is invisible to her representatives
    lea         lea            N     INVISIBLE_REPRESENTANTS_LEGAUX  allow:holder
    lea         lea            N     INVISIBLE_PATIENT               deny:invisible-patient
    # -- Marc, her father
    marc        lea            N     N                               allow:legal-representative
    marc        lea            N     MASQUE_PS                       allow:legal-representative
    marc        lea            N     INVISIBLE_PATIENT               deny:invisible-patient
    marc        lea            N     INVISIBLE_REPRESENTANTS_LEGAUX  deny:invisible-representatives
    marc        lea            N     INVISIBLE_BOTH                  deny:invisible-patient
    marc        lea            N     deleted                         deny:document-deleted
    marc        lea            N     archived                        allow:legal-representative
    marc        lea-closed     N     N                               allow:legal-representative
    marc        lea-adult      N     N                               deny:representative-of-adult
    # -- Bruno, médecin traitant: everything in normal access; masked stays masked in emergency
    bruno       alice          N     N                               allow:medecin-traitant
    bruno       alice          N     MASQUE_PS                       allow:medecin-traitant
    bruno       alice          N     INVISIBLE_PATIENT               allow:medecin-traitant
    bruno       alice          N     INVISIBLE_REPRESENTANTS_LEGAUX  allow:medecin-traitant
    bruno       alice          N     deleted                         deny:document-deleted
    bruno       alice          N     archived                        allow:medecin-traitant
    bruno       alice          N     masked-imaging                  allow:medecin-traitant
    bruno       lea            N     INVISIBLE_REPRESENTANTS_LEGAUX  allow:medecin-traitant
    bruno       alice          E     N                               allow:emergency
    bruno       alice          E     MASQUE_PS                       deny:masked
    bruno       alice          E     INVISIBLE_PATIENT               allow:emergency
    bruno       alice          E     deleted                         deny:document-deleted
    bruno       alice-closed   N     N                               deny:record-closed
    # -- Chloé, an authorized nurse: not masked, and only the classes of her profession
    chloe       alice          N     N                               allow:authorized
    chloe       alice          N     MASQUE_PS                       deny:masked
    chloe       alice          N     INVISIBLE_PATIENT               allow:authorized
    chloe       alice          N     INVISIBLE_REPRESENTANTS_LEGAUX  allow:authorized
    chloe       alice          N     deleted                         deny:document-deleted
    chloe       alice          N     archived                        allow:authorized
    chloe       alice          N     superseded                      allow:authorized
    chloe       alice          N     report                          allow:authorized
    chloe       alice          N     imaging                         deny:profession-matrix
    chloe       alice          N     masked-imaging                  deny:masked
    chloe       alice          N     own                             allow:authorized
    chloe       alice-closed   N     N                               deny:record-closed
    chloe       lea            N     N                               deny:not-authorized
    # -- Farid, an authorized pharmacist: no reports
    farid       alice          N     N                               allow:authorized
    farid       alice          N     report                          deny:profession-matrix
    farid       alice          N     MASQUE_PS                       deny:masked
    farid       alice          N     own                             allow:authorized
    farid       alice          E     report                          deny:profession-matrix
    # -- Hugo, authorized as the creator; Gaël, through his hospital
    hugo        alice          N     N                               allow:authorized
    hugo        alice          N     MASQUE_PS                       deny:masked
    hugo        alice          N     imaging                         allow:authorized
    gael        alice          N     N                               allow:authorized
    gael        alice          N     MASQUE_PS                       deny:masked
    gael        alice          N     hospital-masked                 allow:author
    gael        alice          E     hospital-masked                 allow:author
    gael-alone  alice          N     hospital-masked                 deny:not-authorized
    gael-alone  alice          E     hospital-masked                 deny:masked
    # -- Julien, the author: his documents, whatever the flags, in any mode
    julien      alice          N     N                               allow:author
    julien      alice          N     MASQUE_PS                       allow:author
    julien      alice          N     INVISIBLE_PATIENT               allow:author
    julien      alice          N     INVISIBLE_BOTH                  allow:author
    julien      alice          N     deleted                         deny:document-deleted
    julien      alice          N     archived                        allow:author
    julien      alice          N     hospital-masked                 deny:masked
    julien      alice          E     MASQUE_PS                       allow:author
    julien      alice-closed   N     N                               deny:record-closed
    # -- Damien, no relation: emergency only, never masked
    damien      alice          N     N                               deny:not-authorized
    damien      alice          E     N                               allow:emergency
    damien      alice          E     MASQUE_PS                       deny:masked
    damien      alice          E     INVISIBLE_PATIENT               allow:emergency
    damien      alice          E     report                          allow:emergency
    damien      alice          E     deleted                         deny:document-deleted
    # -- Samia, SAMU regulation
    samia       alice          S     N                               allow:samu
    samia       alice          S     MASQUE_PS                       deny:masked
    samia       alice          S     INVISIBLE_PATIENT               allow:samu
    samia       alice          S     archived                        allow:samu
    samia       alice-no-samu  S     N                               deny:samu-opposed
    # -- Théo, a nurse in emergency: the matrix still applies
    theo        alice          E     imaging                         deny:profession-matrix
    theo        alice          E     N                               allow:emergency
    # -- blocked, excluded, the operator: nothing
    irene       alice          N     N                               deny:blocked
    irene       alice          E     N                               deny:blocked
    elise       alice          N     N                               deny:excluded-actor
    elise       alice          E     N                               deny:excluded-actor
    oscar       alice          N     own                             deny:excluded-actor
    oscar-alone alice          N     N                               deny:excluded-actor
    oscar-alone alice          E     N                               deny:excluded-actor
    mathilde-mutuelle alice    N     N                               deny:excluded-actor
    mathilde-mutuelle alice    N     hospital-masked                 deny:excluded-actor
    mathilde    alice          N     hospital-masked                 allow:author
    mathilde-alone alice       N     N                               allow:authorized
    operator    alice          N     N                               deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(READ_DOCUMENT))
def test_read_document(actor: str, record: str, mode: str, document: str, expected: str) -> None:
    # Every emergency row carries a justification: the justification rules are OPEN_RECORD's.
    why = "-" if mode == "N" else "why"
    decision = read_document(access(actor, record, mode, why), DOCS[document], MATRIX)
    assert outcome(decision) == expected


@pytest.mark.parametrize("document", sorted(DOCS))
@pytest.mark.parametrize(
    ("actor", "mode"), [("damien", "E"), ("bruno", "E"), ("julien", "E"), ("samia", "S")]
)
def test_no_document_is_read_in_an_emergency_without_justification(
    actor: str, mode: str, document: str
) -> None:
    decision = read_document(access(actor, "alice", mode, "-"), DOCS[document], MATRIX)
    assert outcome(decision) == "deny:justification-required"
