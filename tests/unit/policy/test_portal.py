"""The patient on the Internet (SPEC §5): who signs in to act on a DMP, and which traces of a
connection stay secret. Same conventions as test_truth_tables."""

from __future__ import annotations

import pytest

from dmp.policy import choose_notices, connection_is_secret, sign_in

from .personas import access, outcome, table

SIGN_IN = """
    actor     record           expected
    # -- the patient, even on a closed DMP (to read it, and have it reactivated)
    alice     alice            allow:holder
    alice     alice-closed     allow:holder
    lea       lea              allow:holder
    # -- a legal representative, while the patient is a minor
    marc      lea              allow:legal-representative
    marc      lea-adult        deny:representative-of-adult
    # -- never a destroyed DMP, nor someone else's, nor a professional or the operator
    alice     alice-destroyed  deny:record-destroyed
    zoe       alice            deny:other-record
    nadia     lea              deny:not-representative
    bruno     alice            deny:holder-only
    operator  alice            deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(SIGN_IN))
def test_sign_in(actor: str, record: str, expected: str) -> None:
    assert outcome(sign_in(access(actor, record))) == expected


CHOOSE_NOTICES = """
    actor     record           expected
    # -- the holder, even on a closed DMP (its closure and destruction are notices too)
    alice     alice            allow:holder
    alice     alice-closed     allow:holder
    lea       lea              allow:holder
    # -- a legal representative, for a minor only
    marc      lea              allow:legal-representative
    marc      lea-adult        deny:representative-of-adult
    # -- nobody else
    alice     alice-destroyed  deny:record-destroyed
    zoe       alice            deny:other-record
    bruno     alice            deny:holder-only
    operator  alice            deny:operator-no-health-data
"""


@pytest.mark.parametrize(*table(CHOOSE_NOTICES))
def test_choose_notices(actor: str, record: str, expected: str) -> None:
    assert outcome(choose_notices(access(actor, record))) == expected


SECRET_CONNECTION = """
    actor     record     expected
    # -- the minor's own connections are kept from the parents; nobody else's
    lea       lea        secret
    lea       lea-adult  plain
    alice     alice      plain
    marc      lea        plain
    bruno     lea        plain
"""


@pytest.mark.parametrize(*table(SECRET_CONNECTION))
def test_a_minors_connections_are_secret(actor: str, record: str, expected: str) -> None:
    secret = connection_is_secret(access(actor, record))
    assert ("secret" if secret else "plain") == expected
