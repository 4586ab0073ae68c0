"""Who may hold credentials to act as a professional (SPEC §1: no account for the excluded)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dmp.policy import may_hold_credentials

from .personas import ESTABLISHMENTS, PROFESSIONALS, outcome, table

RETIRED = {"retired-damien": replace(PROFESSIONALS["damien"], active=False)}

MAY_HOLD_CREDENTIALS = """
    professional    establishment  expected
    # -- a practising professional, for an establishment they belong to, or alone
    bruno           -              allow:credentials
    gael            -              allow:credentials
    gael            hospital       allow:credentials
    farid           pharmacy       allow:credentials
    # -- never an occupational physician, never for an excluded establishment
    elise           -              deny:excluded-actor
    elise           hospital       deny:excluded-actor
    oscar           insurer        deny:excluded-actor
    damien          insurer        deny:excluded-actor
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
