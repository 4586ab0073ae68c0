"""The access history (SPEC §5): the patient sees it all, a representative not the secret entries.

Same conventions as test_truth_tables.
"""

from __future__ import annotations

import pytest

from dmp.policy import read_history, sees_history_entry

from .personas import access, outcome, table

READ_HISTORY = """
    actor     record           mode  expected
    alice     alice            N     allow:holder
    alice     alice-closed     N     allow:holder
    lea       lea              N     allow:holder
    marc      lea              N     allow:legal-representative
    marc      lea-closed       N     allow:legal-representative
    alice     alice-destroyed  N     deny:record-destroyed
    alice     alice            E     deny:mode-not-for-patient
    zoe       alice            N     deny:other-record
    marc      lea-adult        N     deny:representative-of-adult
    bruno     alice            N     deny:holder-only
    # -- a professional excluded by law hears the law first
    elise     alice            N     deny:excluded-actor
    oscar-alone  alice         N     deny:excluded-actor
    mathilde-alone  alice      N     deny:holder-only
    operator  alice            N     deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(READ_HISTORY))
def test_read_history(actor: str, record: str, mode: str, expected: str) -> None:
    why = "-" if mode == "N" else "why"
    assert outcome(read_history(access(actor, record, mode, why))) == expected


SEES_HISTORY_ENTRY = """
    actor     record     entry   expected
    # -- the patient sees every entry; the minor's secret ones are hidden from her parents
    alice     alice      secret  yes
    alice     alice      plain   yes
    lea       lea        secret  yes
    marc      lea        plain   yes
    marc      lea        secret  no
"""


@pytest.mark.parametrize(*table(SEES_HISTORY_ENTRY))
def test_sees_history_entry(actor: str, record: str, entry: str, expected: str) -> None:
    seen = sees_history_entry(access(actor, record), entry_is_secret=entry == "secret")
    assert ("yes" if seen else "no") == expected
