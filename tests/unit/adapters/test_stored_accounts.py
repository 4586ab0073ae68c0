"""An account, and what logging in keeps beside it, is read as a domain object holding every
column of its table: a column added to a table without its field fails here, not at a login."""

from __future__ import annotations

from dataclasses import fields

import pytest

from dmp.adapters.db import tables as t
from dmp.domain.accounts import Account, Challenge, OneTimeCode, Passkey, StoredSession


@pytest.mark.parametrize(
    ("kind", "table"),
    [
        (Account, t.accounts),
        (StoredSession, t.web_sessions),
        (OneTimeCode, t.one_time_codes),
        (Passkey, t.passkeys),
        (Challenge, t.factor_challenges),
    ],
)
def test_each_stored_object_holds_the_columns_of_its_table(kind, table):
    assert {field.name for field in fields(kind)} == set(table.c.keys())
