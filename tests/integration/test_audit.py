"""The audit trail: every action and refusal is written; any edit, deletion, reordering or cut
tail is found by ``dmp audit verify``; the database itself refuses UPDATE and DELETE."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update
from typer.testing import CliRunner

from dmp.adapters.db.tables import audit_entries, audit_heads
from dmp.domain.model import AccessMode
from dmp.errors import NotFound
from dmp.services.audit import SYSTEM_CHAIN
from dmp.services.documents import Reading, find_documents
from dmp.services.operations import verify_audit
from dmp.services.submission import submit_documents
from dmp.services.witness import checkpoint
from tests.factories import pdf_submission
from tests.integration.helpers import drop_audit_guards, restore_audit_guards
from tests.personas import populate


def _chain(ctx, dmp_id):
    with ctx.engine.connect() as conn:
        stmt = select(audit_entries).where(audit_entries.c.dmp_id == dmp_id)
        return [dict(r) for r in conn.execute(stmt.order_by(audit_entries.c.seq)).mappings()]


@pytest.fixture
def trail(ctx):
    cast = populate(ctx)
    submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    find_documents(ctx, Reading(cast.chloe), cast.alice_dmp)
    with pytest.raises(NotFound):
        find_documents(ctx, Reading(cast.damien), cast.alice_dmp)
    checkpoint(ctx)
    assert verify_audit(ctx).ok
    yield cast
    restore_audit_guards(ctx.engine)


def test_actions_and_refusals_are_recorded(ctx, trail):
    entries = _chain(ctx, trail.alice_dmp)
    actions = [(e["action"], e["outcome"], e["actor_rpps"]) for e in entries]
    assert ("record.create", "allowed", trail.bruno.rpps) in actions
    assert ("document.add", "allowed", trail.bruno.rpps) in actions
    assert ("document.search", "allowed", trail.chloe.rpps) in actions
    refused = [e for e in entries if e["outcome"] == "denied"]
    assert [(e["action"], e["reason"], e["actor_rpps"]) for e in refused] == [
        ("document.search", "not-authorized", trail.damien.rpps)
    ]


def test_emergency_access_keeps_its_justification_encrypted(ctx, trail):
    find_documents(
        ctx, Reading(trail.samuel, AccessMode.SAMU, "Appel au 15, coma"), trail.alice_dmp
    )
    [entry] = [e for e in _chain(ctx, trail.alice_dmp) if e["mode"] == "samu"]
    assert entry["justification_enc"] is not None
    assert b"coma" not in entry["justification_enc"]


def _tamper(ctx, statement):
    drop_audit_guards(ctx.engine)
    with ctx.engine.begin() as conn:
        conn.execute(statement)


def _first_break(ctx, dmp_id):
    result = verify_audit(ctx)
    assert not result.ok
    assert result.breaks[0].dmp_id == dmp_id
    return result.breaks[0]


def test_edited_entry_is_detected(ctx, trail):
    _tamper(
        ctx,
        update(audit_entries)
        .where(audit_entries.c.dmp_id == trail.alice_dmp, audit_entries.c.seq == 3)
        .values(reason="x"),
    )
    assert _first_break(ctx, trail.alice_dmp).seq == 3


def test_deleted_entry_is_detected(ctx, trail):
    _tamper(
        ctx,
        sa.delete(audit_entries).where(
            audit_entries.c.dmp_id == trail.alice_dmp, audit_entries.c.seq == 2
        ),
    )
    assert _first_break(ctx, trail.alice_dmp).seq == 2


def test_reordered_entries_are_detected(ctx, trail):
    entries = _chain(ctx, trail.alice_dmp)
    a, b = entries[1], entries[2]
    drop_audit_guards(ctx.engine)
    with ctx.engine.begin() as conn:
        where = audit_entries.c.dmp_id == trail.alice_dmp
        conn.execute(
            update(audit_entries).where(where, audit_entries.c.seq == a["seq"]).values(seq=-1)
        )
        conn.execute(
            update(audit_entries).where(where, audit_entries.c.seq == b["seq"]).values(seq=a["seq"])
        )
        conn.execute(
            update(audit_entries).where(where, audit_entries.c.seq == -1).values(seq=b["seq"])
        )
    assert _first_break(ctx, trail.alice_dmp).seq == a["seq"]


def test_cut_tail_is_detected(ctx, trail):
    last = _chain(ctx, trail.alice_dmp)[-1]["seq"]
    _tamper(
        ctx,
        sa.delete(audit_entries).where(
            audit_entries.c.dmp_id == trail.alice_dmp, audit_entries.c.seq >= last - 1
        ),
    )
    problem = _first_break(ctx, trail.alice_dmp)
    assert "tête signée" in problem.problem


def test_rewritten_head_is_detected(ctx, trail):
    last = _chain(ctx, trail.alice_dmp)[-1]
    _tamper(
        ctx,
        sa.delete(audit_entries).where(
            audit_entries.c.dmp_id == trail.alice_dmp, audit_entries.c.seq == last["seq"]
        ),
    )
    with ctx.engine.begin() as conn:  # the attacker also moves the head back: not signed by us
        conn.execute(
            update(audit_heads)
            .where(audit_heads.c.dmp_id == trail.alice_dmp)
            .values(seq=last["seq"] - 1, hash=last["prev_hash"])
        )
    assert "signature" in _first_break(ctx, trail.alice_dmp).problem


def test_database_refuses_update_and_delete(ctx, trail):
    for statement in (
        update(audit_entries).where(audit_entries.c.dmp_id == trail.alice_dmp).values(reason="x"),
        sa.delete(audit_entries).where(audit_entries.c.dmp_id == SYSTEM_CHAIN),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ctx.engine.begin() as conn:
            conn.execute(statement)
    assert verify_audit(ctx).ok


def test_cli_audit_verify_names_the_first_broken_entry(ctx, trail, monkeypatch):
    from dmp.entrypoints.cli import main as cli

    monkeypatch.setattr(cli, "_context", lambda *a, **k: ctx)
    runner = CliRunner()
    ok = runner.invoke(cli.app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "Journal intègre" in ok.output
    _tamper(
        ctx,
        update(audit_entries)
        .where(audit_entries.c.dmp_id == trail.alice_dmp, audit_entries.c.seq == 4)
        .values(action="x"),
    )
    broken = runner.invoke(cli.app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"DMP {trail.alice_dmp}, entrée n° 4" in broken.output
