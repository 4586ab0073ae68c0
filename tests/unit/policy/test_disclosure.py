"""What a refused person learns (SPEC §3: "not allowed" looks like "does not exist"), who may
look a DMP up, and the scheduled jobs' grounds.

Same conventions as test_truth_tables.
"""

from __future__ import annotations

import pytest

from dmp.domain.model import AccessMode
from dmp.policy import (
    REASONS,
    Job,
    deny,
    look_up,
    refuse_excluded,
    scheduled,
    told_why,
    told_why_document,
    unjustified,
)

from .personas import ACTORS, DOCS, MATRIX, access, outcome, table

TOLD_WHY = """
    actor     record        refusal              point_of_care  expected
    # -- whoever may open the DMP learns why they may not do this to it
    bruno     alice         not-allowed-change   no             yes
    alice     alice         step-up-required     no             yes
    # -- anyone else is answered as if the DMP did not exist...
    damien    alice         not-authorized       no             no
    irene     alice         blocked              no             no
    chloe     alice-closed  record-closed        no             no
    zoe       alice         other-record         no             no
    operator  alice         operator-no-health-data  no         no
    # -- ...but at the point of care, where the professional knows the DMP exists
    irene     alice         blocked              yes            yes
    damien    alice-closed  record-closed        yes            yes
    # -- and the law's refusal is always told
    elise     alice         excluded-actor       no             yes
    oscar     alice         excluded-actor       no             yes
"""


@pytest.mark.parametrize(*table(TOLD_WHY))
def test_told_why(actor: str, record: str, refusal: str, point_of_care: str, expected: str) -> None:
    told = told_why(access(actor, record), deny(refusal), point_of_care == "yes")
    assert ("yes" if told else "no") == expected


TOLD_WHY_DOCUMENT = """
    actor     record  document           refusal             expected
    # -- about a document one may read: told why the change is refused
    chloe     alice   N                  not-allowed-change  yes
    alice     alice   N                  not-allowed-change  yes
    # -- about one that one may not read: as if it did not exist
    chloe     alice   MASQUE_PS          masked              no
    farid     alice   report             profession-matrix   no
    alice     alice   INVISIBLE_PATIENT  invisible-patient   no
    damien    alice   N                  not-authorized      no
    # -- the law's refusal, always
    elise     alice   N                  excluded-actor      yes
"""


@pytest.mark.parametrize(*table(TOLD_WHY_DOCUMENT))
def test_told_why_document(
    actor: str, record: str, document: str, refusal: str, expected: str
) -> None:
    told = told_why_document(access(actor, record), DOCS[document], MATRIX, deny(refusal))
    assert ("yes" if told else "no") == expected


LOOK_UP = """
    actor     expected
    # -- every health professional may ask whether a DMP exists, and in which state
    bruno     allow:lookup
    damien    allow:lookup
    irene     allow:lookup
    samia     allow:lookup
    # -- never the excluded, nor anyone but a professional
    elise     deny:excluded-actor
    oscar     deny:excluded-actor
    alice     deny:professional-only
    operator  deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(LOOK_UP))
def test_look_up(actor: str, expected: str) -> None:
    assert outcome(look_up(ACTORS[actor])) == expected


REFUSED_BY_LAW = """
    actor     expected
    elise     deny:excluded-actor
    oscar     deny:excluded-actor
    bruno     none
    damien    none
    alice     none
    operator  none
"""


@pytest.mark.parametrize(*table(REFUSED_BY_LAW))
def test_refuse_excluded_whatever_the_dmp(actor: str, expected: str) -> None:
    refusal = refuse_excluded(ACTORS[actor])
    assert (outcome(refusal) if refusal is not None else "none") == expected


@pytest.mark.parametrize("job", list(Job))
def test_a_scheduled_job_gives_its_delay_as_its_ground(job: Job) -> None:
    decision = scheduled(job)
    assert decision.allowed
    assert decision.reason == job.value
    assert decision.message == REASONS[job.value]


UNJUSTIFIED = """
    mode  justification  expected
    N     none           no
    N     blank          no
    E     none           yes
    E     blank          yes
    E     text           no
    S     none           yes
    S     text           no
"""
_MODES = {"N": AccessMode.NORMAL, "E": AccessMode.EMERGENCY, "S": AccessMode.SAMU}
_TEXTS = {"none": None, "blank": "  \t ", "text": "Patient inconscient aux urgences."}


@pytest.mark.parametrize(*table(UNJUSTIFIED))
def test_unjustified(mode: str, justification: str, expected: str) -> None:
    found = unjustified(_MODES[mode], _TEXTS[justification])
    assert ("yes" if found else "no") == expected
