"""The life of a DMP (SPEC §2): creation, closure, reactivation, destruction.

Same conventions as test_truth_tables.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dmp.domain.model import PatientActor, RecordState, RepresentativeActor
from dmp.policy import (
    Access,
    close_record,
    create_record,
    destroy,
    export_record,
    reactivate_record,
)

from .personas import ACTORS, RECORDS, access, outcome, table

CREATE_RECORD = """
    actor          existing   expected
    # -- any professional not excluded, if the patient has no DMP or only a destroyed one
    hugo           none       allow:create
    chloe          none       allow:create
    farid          none       allow:create
    gael           none       allow:create
    irene          none       allow:create
    damien         destroyed  allow:create
    damien         active     deny:record-exists
    damien         closed     deny:record-exists
    # -- never the excluded
    elise          none       deny:excluded-actor
    oscar          none       deny:excluded-actor
    elise          active     deny:excluded-actor
    oscar-alone    none       deny:excluded-actor
    ulysse-alone   destroyed  deny:excluded-actor
    mathilde-mutuelle  none   deny:excluded-actor
    # -- Mathilde, for the hospital or alone, is a professional like any other
    mathilde       none       allow:create
    mathilde-alone none       allow:create
    # -- professionals only
    alice          none       deny:professional-only
    marc           none       deny:professional-only
    operator       none       deny:operator-no-health-data
    retention-job  destroyed  deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(CREATE_RECORD))
def test_create_record(actor: str, existing: str, expected: str) -> None:
    state = None if existing == "none" else RecordState(existing)
    assert outcome(create_record(ACTORS[actor], state)) == expected


NOW = datetime(2024, 3, 14, 10, 30, tzinfo=UTC)
MAX_AGE = timedelta(minutes=5)
STEP_UPS = {
    "never": None,
    "fresh": NOW - timedelta(minutes=1),
    "limit": NOW - MAX_AGE,
    "stale": NOW - MAX_AGE - timedelta(seconds=1),
}

CLOSE_RECORD = """
    actor     record           mode  step_up  expected
    # -- the patient or a representative, with a fresh code; a professional who may open the
    # -- DMP, at her request (she is in front of them: no code of hers)
    alice     alice            N     fresh    allow:holder
    alice     alice            N     limit    allow:holder
    marc      lea              N     fresh    allow:legal-representative
    bruno     alice            N     never    allow:medecin-traitant
    chloe     alice            N     never    allow:authorized
    gael      alice            N     never    allow:authorized
    # -- a fresh one-time code first, for the patient and the representative
    alice     alice            N     never    deny:step-up-required
    alice     alice            N     stale    deny:step-up-required
    marc      lea              N     stale    deny:step-up-required
    # -- an active DMP only, in normal access (the state is told before the code is asked)
    alice     alice-closed     N     fresh    deny:record-closed
    alice     alice-closed     N     never    deny:record-closed
    bruno     alice-closed     N     never    deny:record-closed
    alice     alice-destroyed  N     fresh    deny:record-destroyed
    alice     alice            E     fresh    deny:mode-not-for-patient
    bruno     alice            E     never    deny:read-only-mode
    samia     alice            S     never    deny:read-only-mode
    # -- nobody else
    damien    alice            N     never    deny:not-authorized
    zoe       alice            N     fresh    deny:other-record
    marc      lea-adult        N     fresh    deny:representative-of-adult
    irene     alice            N     never    deny:blocked
    elise     alice            N     never    deny:excluded-actor
    oscar-alone  alice         N     never    deny:excluded-actor
    mathilde-mutuelle  alice   N     never    deny:excluded-actor
    operator  alice            N     never    deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(CLOSE_RECORD))
def test_close_record(actor: str, record: str, mode: str, step_up: str, expected: str) -> None:
    why = "-" if mode == "N" else "why"
    asked = access(actor, record, mode, why)
    if isinstance(asked.actor, PatientActor | RepresentativeActor):
        asked = replace(asked, actor=replace(asked.actor, step_up_at=STEP_UPS[step_up]))
    assert outcome(close_record(asked, NOW, MAX_AGE)) == expected


EXPORT_RECORD = """
    actor     record           expected
    # -- the patient or a representative, at any time: a closed DMP too
    alice     alice            allow:holder
    alice     alice-closed     allow:holder
    marc      lea              allow:legal-representative
    marc      lea-closed       allow:legal-representative
    # -- nothing left; not theirs
    alice     alice-destroyed  deny:record-destroyed
    zoe       alice            deny:other-record
    marc      lea-adult        deny:representative-of-adult
    # -- never a professional, even the médecin traitant; the law first; never the operator
    bruno     alice            deny:holder-only
    chloe     alice            deny:holder-only
    elise     alice            deny:excluded-actor
    operator  alice            deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(EXPORT_RECORD))
def test_export_record(actor: str, record: str, expected: str) -> None:
    assert outcome(export_record(access(actor, record, "N", "-"))) == expected


REACTIVATE_RECORD = """
    actor          record           mode  expected
    # -- any professional, the patient present and consenting: no authorization needed
    damien         alice-closed     N     allow:reactivate
    bruno          alice-closed     N     allow:reactivate
    chloe          alice-closed     N     allow:reactivate
    marc           lea-closed       N     deny:professional-only
    # -- a closed DMP only
    damien         alice            N     deny:record-not-closed
    damien         alice-destroyed  N     deny:record-destroyed
    operator       alice            N     deny:record-not-closed
    # -- never blocked, never excluded (told first, whatever the DMP's state), in normal access
    irene          alice-closed     N     deny:blocked
    elise          alice-closed     N     deny:excluded-actor
    elise          alice            N     deny:excluded-actor
    oscar          alice-closed     N     deny:excluded-actor
    oscar-alone    alice-closed     N     deny:excluded-actor
    oscar-alone    alice-destroyed  N     deny:excluded-actor
    mathilde-mutuelle  alice-closed N     deny:excluded-actor
    mathilde-alone alice-closed     N     allow:reactivate
    damien         alice-closed     E     deny:read-only-mode
    samia          alice-closed     S     deny:read-only-mode
    # -- professionals only
    alice          alice-closed     N     deny:professional-only
    operator       alice-closed     N     deny:operator-no-health-data
    retention-job  alice-closed     N     deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(REACTIVATE_RECORD))
def test_reactivate_record(actor: str, record: str, mode: str, expected: str) -> None:
    why = "-" if mode == "N" else "why"
    assert outcome(reactivate_record(access(actor, record, mode, why))) == expected


DESTROY = """
    actor     record           step_up  expected
    # -- the patient or a representative, on an active or closed DMP, with a fresh code
    alice     alice            fresh    allow:holder
    alice     alice            limit    allow:holder
    alice     alice-closed     fresh    allow:holder
    marc      lea              fresh    allow:legal-representative
    # -- a fresh one-time code first
    alice     alice            never    deny:step-up-required
    alice     alice            stale    deny:step-up-required
    marc      lea              stale    deny:step-up-required
    # -- nothing left to destroy; not theirs
    alice     alice-destroyed  fresh    deny:record-destroyed
    zoe       alice            fresh    deny:other-record
    marc      lea-adult        fresh    deny:representative-of-adult
    # -- nobody else
    bruno     alice            fresh    deny:holder-only
    mathilde-alone  alice      fresh    deny:holder-only
    # -- a professional excluded by law hears the law first
    elise     alice            fresh    deny:excluded-actor
    ulysse-alone  alice        fresh    deny:excluded-actor
    operator  alice            fresh    deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(DESTROY))
def test_destroy(actor: str, record: str, step_up: str, expected: str) -> None:
    who = ACTORS[actor]
    if isinstance(who, PatientActor | RepresentativeActor):
        who = replace(who, step_up_at=STEP_UPS[step_up])
    decision = destroy(Access(who, RECORDS[record]), NOW, MAX_AGE)
    assert outcome(decision) == expected
