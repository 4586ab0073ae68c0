"""The schema can be distributed by ``dmp_id`` (Citus, SPEC §8; docs/adr/0003-storage-layout.md):
every table is classified, and every statement of the hot paths — feeding (ITI-65) and consulting
(search, read, content), the bearer token's check included — that touches a distributed table
names the DMP it works on, so that it is routed to one shard. The one exception, the look-up of
a DMP by the blind index of the INS, is named here and in the ADR."""

from __future__ import annotations

import re

import pytest

from dmp.adapters.db.tables import metadata
from dmp.services.directory import authenticate, issue_token
from dmp.services.documents import Reading, find_documents, get_document, open_content
from dmp.services.submission import submit_documents
from tests.factories import pdf_submission
from tests.integration.helpers import statements
from tests.personas import ALICE_INS, Cast, populate

# Distributed by dmp_id, all colocated: what a DMP holds (health data, its access rules, its trail).
DISTRIBUTED = frozenset(
    {
        "records",
        "consents",
        "authorizations",
        "blocks",
        "representatives",
        "accessors",
        "documents",
        "document_contents",
        "audit_entries",
        "audit_heads",
        "audit_purges",
    }
)
# Copied to every node: the directory, small, read by every request, joined with anything.
REFERENCE = frozenset({"establishments", "professionals", "professional_establishments"})
# Neither: keyed by what their look-ups know (an account, a session, a token, the INS index, a
# message), and never read with a DMP's rows in one statement (the ADR says how each is placed).
ELSEWHERE = frozenset(
    {
        "accounts",
        "web_sessions",
        "one_time_codes",
        "passkeys",
        "factor_challenges",
        "api_tokens",
        "tombstones",
        "outbox",
        "alembic_version",
    }
)
# The statements allowed to touch a distributed table without naming the DMP: only the
# resolution of an INS (its blind index) to a DMP id — a look-up table keyed by the index, under
# Citus (docs/adr/0003-storage-layout.md).
BY_INS = re.compile(r"\bFROM records WHERE records\.ins_index = ")

_TABLE = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_]+)(?:\s+AS\s+([a-z_]+))?")
_INSERT = re.compile(r"^\s*(?:WITH .*?\)\s*)?INSERT INTO ([a-z_]+) \(([^)]*)\)", re.S)


def tables_of(statement: str) -> set[tuple[str, str]]:
    """The tables a statement names, each with the name it goes by (its alias, or itself)."""
    return {(table, alias or table) for table, alias in _TABLE.findall(statement)}


def routed(statement: str, table: str, alias: str) -> bool:
    """Whether the statement names the DMP of ``table``: a predicate on its ``dmp_id``, or, for
    an INSERT into it, a ``dmp_id`` among the columns written (the row's shard)."""
    if re.search(rf"\b{alias}\.dmp_id\s*(=|IN\b)", statement):
        return True
    insert = _INSERT.match(statement)
    return bool(insert and insert.group(1) == table and "dmp_id" in insert.group(2).split(", "))


def unrouted_tables(statement: str) -> list[str]:
    """The distributed tables a statement touches without naming their DMP."""
    return [
        table
        for table, alias in sorted(tables_of(statement))
        if table in DISTRIBUTED and not routed(statement, table, alias)
    ]


def unrouted(statements: list[str]) -> list[str]:
    return [statement for statement in statements if unrouted_tables(statement)]


def test_every_table_is_placed():
    """A new table must be classified (and placed in the ADR's plan) before it ships."""
    assert set(metadata.tables) <= DISTRIBUTED | REFERENCE | ELSEWHERE
    assert not DISTRIBUTED & (REFERENCE | ELSEWHERE)
    assert not REFERENCE & ELSEWHERE
    # The distribution column leads the primary key of each distributed table, and of no other.
    led = {name for name, table in metadata.tables.items() if _first_key(table) == "dmp_id"}
    assert led == DISTRIBUTED


def _first_key(table) -> str | None:
    keys = table.primary_key.columns.keys()
    return keys[0] if keys else None


def _feed_and_consult(ctx, cast: Cast) -> list[str]:
    token = issue_token(ctx, cast.professionals["chloe"].rpps).token
    with statements(ctx) as seen:
        bruno = authenticate(ctx, issue_token(ctx, cast.bruno.rpps).token)
        [doc] = submit_documents(ctx, bruno, ALICE_INS, [pdf_submission()])
        chloe = authenticate(ctx, token)  # her first access: recorded, notified
        assert [d.id for d in find_documents(ctx, Reading(chloe), ALICE_INS)] == [doc.id]
        assert get_document(ctx, Reading(chloe), cast.alice_dmp, doc.id).id == doc.id
        _content, chunks = open_content(ctx, Reading(chloe), cast.alice_dmp, doc.id)
        assert b"".join(chunks)
    return seen


def test_the_hot_paths_name_the_dmp_in_every_statement(ctx):
    seen = _feed_and_consult(ctx, populate(ctx))
    touched = {table for statement in seen for table, _ in tables_of(statement)}
    assert {"documents", "document_contents", "audit_entries", "accessors"} <= touched
    assert touched <= DISTRIBUTED | REFERENCE | ELSEWHERE
    missing = unrouted(seen)
    assert missing, "the INS look-ups should be seen: is the capture working?"
    assert [s for s in missing if not BY_INS.search(s)] == []


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT documents.id FROM documents WHERE documents.dmp_id = ? AND documents.id = ?", []),
        ("SELECT documents.id FROM documents WHERE documents.id = ?", ["documents"]),
        (
            "SELECT d.id FROM documents AS d JOIN document_contents AS c ON c.document_id = d.id "
            "WHERE d.dmp_id = ?",
            ["document_contents"],
        ),
        ("INSERT INTO accessors (dmp_id, professional_id) VALUES (?, ?)", []),
        ("INSERT INTO accessors (professional_id) VALUES (?)", ["accessors"]),
        ("INSERT INTO outbox (id, template) VALUES (?, ?)", []),
        ("UPDATE documents SET masked=? WHERE documents.id = ?", ["documents"]),
        ("DELETE FROM blocks WHERE blocks.dmp_id IN (?, ?)", []),
        ("SELECT professionals.id FROM professionals WHERE professionals.rpps = ?", []),
        (
            "WITH h AS (UPDATE audit_heads SET seq=? WHERE audit_heads.dmp_id = ?) "
            "INSERT INTO audit_entries (dmp_id, seq) VALUES (?, ?)",
            [],
        ),
        (
            "WITH h AS (UPDATE audit_heads SET seq=? WHERE audit_heads.seq = ?) "
            "INSERT INTO audit_entries (seq) VALUES (?)",
            ["audit_entries", "audit_heads"],
        ),
    ],
)
def test_the_check_sees_a_missing_dmp(statement, expected):
    assert unrouted_tables(statement) == expected
