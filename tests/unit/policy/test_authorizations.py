"""Who decides who gets in (SPEC §3.1): grants, declarations, blocks, the médecin traitant.

Same conventions as test_truth_tables. Targets and candidates are the keys of
personas.PROFESSIONALS and ESTABLISHMENTS.
"""

from __future__ import annotations

import dataclasses

import pytest

from dmp.domain.model import Establishment, Professional
from dmp.policy import (
    declare_authorization,
    designate_medecin_traitant,
    grant,
    manage_authorizations,
)

from .personas import ESTABLISHMENTS, PROFESSIONALS, access, outcome, table

TARGETS: dict[str, Professional | Establishment] = {**PROFESSIONALS, **ESTABLISHMENTS}

GRANT = """
    actor     record           mode  target    expected
    # -- the patient and the representatives authorize professionals and establishments
    alice     alice            N     damien    allow:granted
    alice     alice            N     chloe     allow:granted
    alice     alice            N     hospital  allow:granted
    alice     alice            N     pharmacy  allow:granted
    # Mathilde works at the hospital (and for a mutuelle): she may be authorized, and acts under
    # the authorization for the hospital or on her own, never for the mutuelle (see OPEN_RECORD).
    alice     alice            N     mathilde  allow:granted
    marc      lea              N     damien    allow:granted
    # -- never the excluded, whoever asks, whatever the state of the DMP: said first
    alice     alice            N     elise     deny:excluded-actor
    alice     alice            N     insurer   deny:excluded-actor
    alice     alice            N     mutuelle  deny:excluded-actor
    # Oscar (only the insurer) and Ulysse (the insurer and the mutuelle) act for nobody else.
    alice     alice            N     oscar     deny:excluded-actor
    alice     alice            N     ulysse    deny:excluded-actor
    marc      lea              N     oscar     deny:excluded-actor
    marc      lea              N     elise     deny:excluded-actor
    alice     alice-destroyed  N     insurer   deny:excluded-actor
    bruno     alice            N     elise     deny:excluded-actor
    operator  alice            N     insurer   deny:excluded-actor
    zoe       alice            N     elise     deny:excluded-actor
    # -- a blocked professional must be unblocked first
    alice     alice            N     irene     deny:blocked
    # -- an active DMP, the holder's own, in normal access
    alice     alice-closed     N     damien    deny:record-closed
    alice     alice-destroyed  N     damien    deny:record-destroyed
    alice     alice            E     damien    deny:mode-not-for-patient
    zoe       alice            N     damien    deny:other-record
    marc      lea-adult        N     damien    deny:representative-of-adult
    nadia     lea              N     damien    deny:not-representative
    # -- professionals declare (declare_authorization); the operator never grants
    bruno     alice            N     damien    deny:holder-only
    damien    alice            N     damien    deny:holder-only
    oscar-alone  alice         N     damien    deny:excluded-actor
    mathilde-alone  alice      N     damien    deny:holder-only
    operator  alice            N     damien    deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(GRANT))
def test_grant(actor: str, record: str, mode: str, target: str, expected: str) -> None:
    why = "-" if mode == "N" else "why"
    assert outcome(grant(access(actor, record, mode, why), TARGETS[target])) == expected


DECLARE_AUTHORIZATION = """
    actor          record              mode  expected
    # -- any professional at the point of care, the patient present
    damien         alice               N     allow:declared
    chloe          alice               N     allow:declared
    gael-alone     alice               N     allow:declared
    samia          lea                 N     allow:declared
    # -- but never blocked (even in person), never excluded
    irene          alice               N     deny:blocked
    irene          alice-closed        N     deny:blocked
    bruno          alice-blocks-bruno  N     deny:blocked
    elise          alice               N     deny:excluded-actor
    oscar          alice               N     deny:excluded-actor
    elise          alice-destroyed     N     deny:excluded-actor
    oscar-alone    alice               N     deny:excluded-actor
    ulysse-alone   alice-destroyed     N     deny:excluded-actor
    mathilde-mutuelle  alice           N     deny:excluded-actor
    # -- Mathilde, for the hospital or alone, is a professional like any other
    mathilde       alice               N     allow:declared
    mathilde-alone alice               N     allow:declared
    # -- on an active DMP, in normal access
    damien         alice-closed        N     deny:record-closed
    damien         alice-destroyed     N     deny:record-destroyed
    damien         alice               E     deny:read-only-mode
    samia          alice               S     deny:read-only-mode
    # -- professionals only
    alice          alice               N     deny:professional-only
    marc           lea                 N     deny:professional-only
    operator       alice               N     deny:operator-no-health-data
    retention-job  alice               N     deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(DECLARE_AUTHORIZATION))
def test_declare_authorization(actor: str, record: str, mode: str, expected: str) -> None:
    why = "-" if mode == "N" else "why"
    assert outcome(declare_authorization(access(actor, record, mode, why))) == expected


MANAGE_AUTHORIZATIONS = """
    actor     record           mode  expected
    alice     alice            N     allow:holder
    alice     alice-opposed    N     allow:holder
    marc      lea              N     allow:legal-representative
    alice     alice-closed     N     deny:record-closed
    alice     alice-destroyed  N     deny:record-destroyed
    alice     alice            S     deny:mode-not-for-patient
    zoe       alice            N     deny:other-record
    marc      lea-adult        N     deny:representative-of-adult
    bruno     alice            N     deny:holder-only
    # -- a professional excluded by law hears the law first
    elise     alice            N     deny:excluded-actor
    oscar-alone  alice         N     deny:excluded-actor
    operator  alice            N     deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(MANAGE_AUTHORIZATIONS))
def test_manage_authorizations(actor: str, record: str, mode: str, expected: str) -> None:
    why = "-" if mode == "N" else "why"
    assert outcome(manage_authorizations(access(actor, record, mode, why))) == expected


DESIGNATE_MEDECIN_TRAITANT = """
    actor     record              mode  candidate  expected
    # -- the patient or a representative designates a médecin
    alice     alice               N     damien     allow:designated
    alice     alice               N     bruno      allow:designated
    alice     alice-no-mt         N     hugo       allow:designated
    alice     alice               N     samia      allow:designated
    marc      lea                 N     damien     allow:designated
    # -- a médecin, not excluded, not blocked
    alice     alice               N     chloe      deny:not-a-medecin
    alice     alice               N     farid      deny:not-a-medecin
    alice     alice               N     elise      deny:excluded-actor
    alice     alice               N     oscar      deny:excluded-actor
    alice     alice               N     ulysse     deny:excluded-actor
    alice     alice               N     mathilde   allow:designated
    alice     alice               N     irene      deny:blocked
    alice     alice-blocks-bruno  N     bruno      deny:blocked
    operator  alice               N     elise      deny:excluded-actor
    # -- on an active DMP, the holder's own
    alice     alice-closed        N     damien     deny:record-closed
    alice     alice-destroyed     N     damien     deny:record-destroyed
    alice     alice               E     damien     deny:mode-not-for-patient
    zoe       alice               N     damien     deny:other-record
    marc      lea-adult           N     damien     deny:representative-of-adult
    # -- or the médecin himself, with the patient's agreement, if he may open the DMP normally,
    # -- and only while the patient has no médecin traitant: replacing one is the patient's act
    hugo      alice-no-mt         N     hugo       allow:declared-medecin-traitant
    gael      alice-no-mt         N     gael       allow:declared-medecin-traitant
    bruno     alice               N     bruno      allow:declared-medecin-traitant
    hugo      alice               N     hugo       deny:medecin-traitant-designated
    gael      alice               N     gael       deny:medecin-traitant-designated
    damien    alice-no-mt         N     damien     deny:not-authorized
    damien    alice               N     damien     deny:not-authorized
    hugo      alice               E     hugo       deny:read-only-mode
    damien    alice               E     damien     deny:read-only-mode
    hugo      alice               N     damien     deny:self-designation-only
    hugo      alice-closed        N     hugo       deny:record-closed
    farid     alice               N     farid      deny:not-a-medecin
    elise     alice               N     elise      deny:excluded-actor
    oscar     alice               N     oscar      deny:excluded-actor
    oscar-alone  alice            N     oscar      deny:excluded-actor
    mathilde       alice-no-mt    N     mathilde   allow:declared-medecin-traitant
    mathilde-alone alice-no-mt    N     mathilde   allow:declared-medecin-traitant
    mathilde       alice          N     mathilde   deny:medecin-traitant-designated
    mathilde-mutuelle alice       N     mathilde   deny:excluded-actor
    # -- an excluded professional hears the law before anything about the candidate or the DMP
    elise     alice               N     chloe      deny:excluded-actor
    oscar-alone  alice-destroyed  N     damien     deny:excluded-actor
    # -- the operator never does
    operator  alice               N     damien     deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(DESIGNATE_MEDECIN_TRAITANT))
def test_designate_medecin_traitant(
    actor: str, record: str, mode: str, candidate: str, expected: str
) -> None:
    why = "-" if mode == "N" else "why"
    decision = designate_medecin_traitant(
        access(actor, record, mode, why), PROFESSIONALS[candidate]
    )
    assert outcome(decision) == expected


@pytest.mark.parametrize("actor", ["alice", "damien"])
def test_a_medecin_no_longer_practising_is_not_designated(actor: str) -> None:
    retired = dataclasses.replace(PROFESSIONALS["damien"], active=False)
    decision = designate_medecin_traitant(access(actor, "alice-no-mt"), retired)
    assert outcome(decision) == "deny:inactive"
