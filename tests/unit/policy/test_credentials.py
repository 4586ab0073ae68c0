"""Who may hold credentials to act as a professional (SPEC §1: no account for the excluded), and
who counts as acting only for excluded organizations."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dmp.policy import acts_only_for_excluded, may_act_for, may_hold_credentials

from .personas import ESTABLISHMENTS, PROFESSIONALS, outcome, table

RETIRED = {
    "retired-damien": replace(PROFESSIONALS["damien"], active=False),
    "retired-oscar": replace(PROFESSIONALS["oscar"], active=False),
}

MAY_HOLD_CREDENTIALS = """
    professional    establishment  expected
    # -- a practising professional, for an establishment they belong to, or alone
    bruno           -              allow:credentials
    gael            -              allow:credentials
    gael            hospital       allow:credentials
    farid           pharmacy       allow:credentials
    # -- Mathilde (the hospital and a mutuelle): for the hospital or alone, never the mutuelle
    mathilde        hospital       allow:credentials
    mathilde        -              allow:credentials
    mathilde        mutuelle       deny:excluded-actor
    # -- never an occupational physician, never for an excluded establishment
    elise           -              deny:excluded-actor
    elise           hospital       deny:excluded-actor
    oscar           insurer        deny:excluded-actor
    damien          insurer        deny:excluded-actor
    # -- never one attached only to excluded organizations, even to act for none of them
    oscar           -              deny:excluded-actor
    ulysse          -              deny:excluded-actor
    ulysse          mutuelle       deny:excluded-actor
    oscar           hospital       deny:excluded-actor
    retired-oscar   -              deny:excluded-actor
    # -- only while practising, only for their own establishment
    retired-damien  -              deny:inactive
    retired-damien  hospital       deny:inactive
    gael            pharmacy       deny:not-a-member
    damien          hospital       deny:not-a-member
"""


@pytest.mark.parametrize(*table(MAY_HOLD_CREDENTIALS))
def test_may_hold_credentials(professional: str, establishment: str, expected: str) -> None:
    who = {**PROFESSIONALS, **RETIRED}[professional]
    where = ESTABLISHMENTS.get(establishment)
    assert outcome(may_hold_credentials(who, where)) == expected


ACTS_ONLY_FOR_EXCLUDED = """
    attachments          expected
    # -- no attachment: liberal practice, on their own
    -                    no
    # -- a care establishment among them: they may act for it, or on their own
    hospital             no
    hospital,pharmacy    no
    hospital,mutuelle    no
    insurer,pharmacy     no
    # -- excluded organizations only, one or several
    insurer              yes
    mutuelle             yes
    insurer,mutuelle     yes
"""


@pytest.mark.parametrize(*table(ACTS_ONLY_FOR_EXCLUDED))
def test_acts_only_for_excluded(attachments: str, expected: str) -> None:
    keys = [] if attachments == "-" else attachments.split(",")
    found = acts_only_for_excluded([ESTABLISHMENTS[key] for key in keys])
    assert found == (expected == "yes")


MAY_ACT_FOR = """
    establishment  expected
    hospital       allow:care-establishment
    pharmacy       allow:care-establishment
    insurer        deny:excluded-actor
    mutuelle       deny:excluded-actor
"""


@pytest.mark.parametrize(*table(MAY_ACT_FOR))
def test_may_act_for(establishment: str, expected: str) -> None:
    assert outcome(may_act_for(ESTABLISHMENTS[establishment])) == expected
