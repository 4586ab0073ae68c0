"""What the repositories read whole from a table is a domain object holding every column of that
table: a column added to a table without its field fails here, not at a login or a consult."""

from __future__ import annotations

from dataclasses import fields

import pytest

from dmp.adapters.db import tables as t
from dmp.domain import accounts, records, trail


@pytest.mark.parametrize(
    ("kind", "table"),
    [
        (accounts.Account, t.accounts),
        (accounts.StoredSession, t.web_sessions),
        (accounts.OneTimeCode, t.one_time_codes),
        (accounts.Passkey, t.passkeys),
        (accounts.Challenge, t.factor_challenges),
        (records.StoredRecord, t.records),
        (records.Consent, t.consents),
        (records.Authorization, t.authorizations),
        (records.Block, t.blocks),
        (records.Representative, t.representatives),
        (records.FirstAccess, t.accessors),
        (records.Tombstone, t.tombstones),
        (records.StoredDocument, t.documents),
        (records.StoredContent, t.document_contents),
        (trail.AuditEntry, t.audit_entries),
        (trail.OutboxMessage, t.outbox),
    ],
    ids=lambda value: getattr(value, "__name__", None) or str(value),
)
def test_each_stored_object_holds_the_columns_of_its_table(kind, table):
    assert {field.name for field in fields(kind)} == set(table.c.keys())
