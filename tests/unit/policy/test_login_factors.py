"""Who adds or removes a way of logging in (an authenticator app, a passkey): whoever signs in
to the DMP, with a fresh one-time code. Same conventions as test_truth_tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dmp.domain.model import PatientActor, RepresentativeActor
from dmp.policy import Access, change_login_factors

from .personas import ACTORS, RECORDS, outcome, table

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MAX_AGE = timedelta(minutes=10)
STEP_UPS = {
    "never": None,
    "fresh": NOW - timedelta(minutes=1),
    "limit": NOW - MAX_AGE,
    "stale": NOW - MAX_AGE - timedelta(seconds=1),
}

CHANGE_LOGIN_FACTORS = """
    actor     record           step_up  expected
    # -- whoever signs in to the DMP, with a fresh code: on a closed DMP too (the account lives)
    alice     alice            fresh    allow:holder
    alice     alice            limit    allow:holder
    alice     alice-closed     fresh    allow:holder
    lea       lea              fresh    allow:holder
    marc      lea              fresh    allow:legal-representative
    # -- a session left open is not enough
    alice     alice            never    deny:step-up-required
    alice     alice            stale    deny:step-up-required
    marc      lea              stale    deny:step-up-required
    # -- not through someone else's DMP, nor a destroyed one, nor once the child is an adult
    zoe       alice            fresh    deny:other-record
    alice     alice-destroyed  fresh    deny:record-destroyed
    marc      lea-adult        fresh    deny:representative-of-adult
    # -- never a professional nor the operator, fresh code or not
    bruno     alice            never    deny:holder-only
    elise     alice            never    deny:excluded-actor
    operator  alice            never    deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(CHANGE_LOGIN_FACTORS))
def test_change_login_factors(actor: str, record: str, step_up: str, expected: str) -> None:
    who = ACTORS[actor]
    if isinstance(who, PatientActor | RepresentativeActor):
        who = replace(who, step_up_at=STEP_UPS[step_up])
    decision = change_login_factors(Access(who, RECORDS[record]), NOW, MAX_AGE)
    assert outcome(decision) == expected
