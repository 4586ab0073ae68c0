"""The audit trail's witness: signed checkpoints of the chain heads, kept outside the database.
``dmp audit verify`` holds the database against it, so that what the chain checks alone cannot
see is caught: a chain put back to an older head that we did sign, a chain deleted with its
head, the system chain deleted with its head; and a witness line edited or removed, or the
witness itself missing, is reported too. A legitimate destruction is not a vanished chain."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text, update

from dmp.adapters.db.tables import audit_entries, audit_heads
from dmp.domain.model import PatientActor, SystemActor
from dmp.errors import NotFound
from dmp.services import audit
from dmp.services.audit import SYSTEM_CHAIN, Break, entry_hash
from dmp.services.documents import Reading, find_documents
from dmp.services.migration import migrate_database
from dmp.services.operations import verify_audit
from dmp.services.records import destroy_record
from dmp.services.submission import submit_documents
from dmp.services.witness import MARGIN, checkpoint, heads_root, line_hash
from dmp.services.witness_check import WitnessBreak, replay
from tests.factories import pdf_submission
from tests.integration.helpers import drop_audit_guards, restore_audit_guards
from tests.personas import populate


def _lines(ctx) -> list[bytes]:
    return ctx.witness.path.read_bytes().splitlines()


def _checkpoints(ctx) -> list[dict]:
    return [json.loads(line) for line in _lines(ctx)]


def _head(ctx, chain) -> dict:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(audit_heads).where(audit_heads.c.dmp_id == chain)).mappings()
        return dict(row.one())


def _tamper(ctx, *statements) -> None:
    """As an attacker with every right on the database, but none on the witness's directory."""
    drop_audit_guards(ctx.engine)
    with ctx.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def _read(ctx, cast) -> None:
    """One audited read of Alice's DMP: her chain's head moves."""
    find_documents(ctx, Reading(cast.chloe), cast.alice_dmp)


@pytest.fixture
def trail(ctx):
    cast = populate(ctx)
    submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    _read(ctx, cast)
    with pytest.raises(NotFound):
        find_documents(ctx, Reading(cast.damien), cast.alice_dmp)
    checkpoint(ctx)
    assert verify_audit(ctx).ok
    yield cast
    restore_audit_guards(ctx.engine)


# --- what the witness holds -------------------------------------------------------------------


def test_a_fresh_install_gets_its_first_checkpoint_and_verifies(ctx):
    assert not ctx.witness.exists()
    assert migrate_database(ctx).checkpoint == 1
    [first] = _checkpoints(ctx)
    assert (first["n"], first["heads"], first["prev"]) == (1, [], "0" * 64)
    assert ctx.witness.path.stat().st_mode & 0o777 == 0o600
    assert ctx.witness.path.parent.stat().st_mode & 0o777 == 0o700
    result = verify_audit(ctx)
    assert result.ok, [str(b) for b in result.breaks]
    assert result.checkpoints == 1


def test_each_checkpoint_lists_the_heads_that_moved_signed_and_chained(ctx, clock):
    cast = populate(ctx)
    assert checkpoint(ctx) == 1
    with ctx.engine.connect() as conn:
        every_head = {str(r.dmp_id): r.seq for r in conn.execute(select(audit_heads))}
    first = _checkpoints(ctx)[0]
    assert {chain: seq for chain, seq, _ in first["heads"]} == every_head
    assert str(SYSTEM_CHAIN) in every_head

    clock.advance(minutes=10)
    _read(ctx, cast)
    assert checkpoint(ctx) == 2
    assert checkpoint(ctx) == 3  # nothing moved since: the same head is not listed again
    lines = _lines(ctx)
    one, two, three = (json.loads(line) for line in lines)
    alice = _head(ctx, cast.alice_dmp)
    assert two["heads"] == [[str(cast.alice_dmp), alice["seq"], alice["hash"]]]
    assert three["heads"] == []
    for before, after, line in ((one, two, lines[1]), (two, three, lines[2])):
        assert after["prev"] == line_hash(lines[lines.index(line) - 1])
        assert after["root"] == heads_root(before["root"], [tuple(h) for h in after["heads"]])
        assert ctx.signer.valid_checkpoint(after["n"], after["at"], after["root"], after["sig"])
    # a head signature is no checkpoint signature, nor the other way round
    assert not ctx.signer.valid(SYSTEM_CHAIN, 2, two["root"], two["sig"])
    assert verify_audit(ctx).ok


def test_a_head_committed_after_the_checkpoint_that_should_have_seen_it_is_not_missed(ctx, clock):
    cast = populate(ctx)
    checkpoint(ctx)
    clock.advance(minutes=10)
    checkpoint(ctx)  # at T
    late = clock() - MARGIN + timedelta(seconds=30)  # signed before T, committed after it
    with ctx.uow() as uow:
        seq = audit.append(
            uow,
            ctx.signer,
            late,
            cast.alice_dmp,
            SystemActor("jobs"),
            audit.Event("record.late", True, "test"),
        )
        uow.commit()
    clock.advance(seconds=10)
    checkpoint(ctx)
    assert [str(cast.alice_dmp), seq] in [h[:2] for h in _checkpoints(ctx)[-1]["heads"]]


def test_writers_running_at_once_keep_one_unbroken_sequence(ctx):
    cast = populate(ctx)
    start = threading.Barrier(3)
    failures = []

    def write():
        start.wait()
        try:
            for _ in range(8):
                checkpoint(ctx)
        except Exception as error:  # reported below, with the assertion
            failures.append(error)

    def act():
        start.wait()
        for _ in range(8):
            _read(ctx, cast)

    threads = [threading.Thread(target=t) for t in (write, write, act)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [c["n"] for c in _checkpoints(ctx)] == list(range(1, 17))
    result = verify_audit(ctx)
    assert result.ok, [str(b) for b in result.breaks]
    assert result.checkpoints == 16


def test_the_checkpoint_query_goes_through_the_index_on_signing_time(ctx):
    query = "SELECT dmp_id, seq, hash FROM audit_heads WHERE signed_at >= :since"
    with ctx.engine.begin() as conn:
        if ctx.engine.dialect.name == "sqlite":
            plan = conn.execute(text("EXPLAIN QUERY PLAN " + query), {"since": "2026-01-01"})
        else:  # the tables are tiny: make the planner say whether it could use the index
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = conn.execute(text("EXPLAIN " + query), {"since": "2026-01-01T00:00:00Z"})
        assert "ix_audit_heads_signed_at" in " ".join(str(row) for row in plan)


# --- what verify finds in the database ------------------------------------------------------


def test_a_rollback_to_an_older_genuinely_signed_head_is_caught(ctx, trail):
    old = _head(ctx, trail.alice_dmp)  # a real head, signed by us, kept by the attacker
    _read(ctx, trail)
    _read(ctx, trail)
    checkpoint(ctx)  # the witness sees Alice's chain at old + 2
    _tamper(
        ctx,
        sa.delete(audit_entries).where(
            audit_entries.c.dmp_id == trail.alice_dmp, audit_entries.c.seq > old["seq"]
        ),
        update(audit_heads).where(audit_heads.c.dmp_id == trail.alice_dmp).values(**old),
    )
    result = verify_audit(ctx)
    # The chain itself holds: entries 1..old, a head we did sign. Only the witness knows better.
    assert [str(b) for b in result.breaks] == [
        f"DMP {trail.alice_dmp}, tête de chaîne : la chaîne est revenue en arrière : la base "
        f"s'arrête au n° {old['seq']} alors que le témoin a vu le n° {old['seq'] + 2} "
        "(point de contrôle n° 2)"
    ]
    checkpoint(ctx)  # a later checkpoint shows the rolled-back head: the witness saw it go back
    seen = [b for b in verify_audit(ctx).breaks if "le témoin l'a vue revenir" in str(b)]
    assert [(b.dmp_id, b.problem) for b in seen] == [
        (
            trail.alice_dmp,
            f"le témoin l'a vue revenir en arrière : n° {old['seq'] + 2} au point de contrôle "
            f"n° 2, puis n° {old['seq']} au point de contrôle n° 3",
        )
    ]


def test_a_deleted_system_chain_is_caught(ctx, trail):
    seq = _head(ctx, SYSTEM_CHAIN)["seq"]
    _tamper(
        ctx,
        sa.delete(audit_entries).where(audit_entries.c.dmp_id == SYSTEM_CHAIN),
        sa.delete(audit_heads).where(audit_heads.c.dmp_id == SYSTEM_CHAIN),
    )
    [problem] = verify_audit(ctx).breaks
    assert str(problem) == (
        "chaîne système, tête de chaîne : la chaîne a disparu de la base alors que le témoin "
        f"l'a vue jusqu'au n° {seq} (point de contrôle n° 1)"
    )


def test_a_deleted_dmp_chain_is_caught(ctx, trail):
    _tamper(
        ctx,
        sa.delete(audit_entries).where(audit_entries.c.dmp_id == trail.alice_dmp),
        sa.delete(audit_heads).where(audit_heads.c.dmp_id == trail.alice_dmp),
    )
    problems = [(b.dmp_id, b.problem) for b in verify_audit(ctx).breaks]
    assert (trail.alice_dmp, "la tête signée de la chaîne est absente") in problems
    assert [p for d, p in problems if "a disparu" in p and d == trail.alice_dmp]


def test_a_dmp_deleted_whole_without_a_recorded_destruction_is_caught(ctx, trail):
    """What a destruction deletes, deleted without the system chain's entry that says so: the
    chain checks alone see nothing (no record, no chain), the witness does."""
    with ctx.uow() as uow:
        uow.records.purge(trail.alice_dmp)
        uow.commit()
    [problem] = verify_audit(ctx).breaks
    assert problem.dmp_id == trail.alice_dmp
    assert problem.problem.startswith("la chaîne a disparu de la base alors que le témoin")
    assert problem.problem.endswith("et aucune destruction de ce DMP n'est enregistrée")


def test_a_legitimate_destruction_is_not_a_vanished_chain(ctx, trail, clock):
    assert replay(ctx.witness, ctx.signer).heads.get(trail.alice_dmp) is not None
    fresh = PatientActor(trail.alice.account_id, trail.alice_dmp, clock())
    destroy_record(ctx, fresh, trail.alice_dmp)
    result = verify_audit(ctx)  # the witness has not seen the destruction yet
    assert result.ok, [str(b) for b in result.breaks]
    checkpoint(ctx)
    result = verify_audit(ctx)
    assert result.ok, [str(b) for b in result.breaks]


def test_a_rewritten_chain_is_caught(ctx, trail):
    """Entry 3 edited and every hash after it recomputed, the head moved to the new last hash:
    the head's signature no longer holds, and the witness saw other entries."""
    entries = _chain(ctx, trail.alice_dmp)
    statements, prev = [], entries[1]["hash"]
    for original in entries[2:]:
        reason = "x" if original["seq"] == 3 else original["reason"]
        entry = {**original, "prev_hash": prev, "reason": reason}
        entry["hash"] = prev = entry_hash(entry)
        where = (audit_entries.c.dmp_id == trail.alice_dmp) & (audit_entries.c.seq == entry["seq"])
        statements.append(
            update(audit_entries)
            .where(where)
            .values(reason=entry["reason"], prev_hash=entry["prev_hash"], hash=entry["hash"])
        )
    statements.append(
        update(audit_heads).where(audit_heads.c.dmp_id == trail.alice_dmp).values(hash=prev)
    )
    _tamper(ctx, *statements)
    last = entries[-1]["seq"]
    problems = [(b.dmp_id, b.seq, b.problem) for b in verify_audit(ctx).breaks]
    assert problems == [
        (trail.alice_dmp, None, "la signature de la tête de chaîne est invalide"),
        (
            trail.alice_dmp,
            last,
            "l'entrée n'est plus celle que le témoin a vue (point de contrôle n° 1) : "
            "chaîne réécrite",
        ),
    ]


def _chain(ctx, dmp_id) -> list[dict]:
    with ctx.engine.connect() as conn:
        stmt = select(audit_entries).where(audit_entries.c.dmp_id == dmp_id)
        return [dict(r) for r in conn.execute(stmt.order_by(audit_entries.c.seq)).mappings()]


# --- what verify finds in the witness ---------------------------------------------------------


def _edit_heads(lines):
    data = json.loads(lines[1])
    data["heads"][0][1] += 1
    lines[1] = json.dumps(data, separators=(",", ":")).encode()


def _edit_time(lines):
    data = json.loads(lines[1])
    data["at"] = data["at"].replace("2026", "2025")
    lines[1] = json.dumps(data, separators=(",", ":")).encode()


def _respace(lines):
    lines[1] = json.dumps(json.loads(lines[1])).encode()  # same content, other bytes


def _remove(lines):
    del lines[1]


def _garbage(lines):
    lines.append(b'{"n": 4}')


@pytest.mark.parametrize(
    ("edit", "line", "problem"),
    [
        (_edit_heads, 2, "les têtes ne correspondent plus à l'empreinte signée (root)"),
        (_edit_time, 2, "signature invalide : ligne modifiée, ou écrite avec une autre clé"),
        (_respace, 3, "la ligne précédente a été modifiée"),
        (_remove, 2, "point de contrôle n° 3 à la place du n° 2 : ligne supprimée"),
        (_garbage, 4, "ligne illisible : ce n'est pas un point de contrôle"),
    ],
)
def test_an_edited_or_removed_witness_line_is_reported(ctx, trail, clock, edit, line, problem):
    for _ in range(2):
        clock.advance(minutes=1)
        _read(ctx, trail)
        checkpoint(ctx)
    lines = _lines(ctx)
    edit(lines)
    ctx.witness.path.write_bytes(b"".join(line + b"\n" for line in lines))
    [found] = verify_audit(ctx).breaks
    assert isinstance(found, WitnessBreak)
    assert found.line == line
    assert found.problem.startswith(problem)


def test_a_missing_or_empty_witness_is_said_clearly(ctx, trail):
    ctx.witness.path.unlink()
    result = verify_audit(ctx)
    assert not result.ok
    assert [str(b) for b in result.breaks] == [f"témoin introuvable : {ctx.witness.path}"]
    ctx.witness.path.touch()
    assert [str(b) for b in verify_audit(ctx).breaks] == [
        f"témoin vide : {ctx.witness.path} (aucun point de contrôle, alors que la base "
        "contient des entrées)"
    ]


def test_a_witness_written_with_another_key_is_not_taken(ctx, trail, settings, clock):
    from dmp.bootstrap import build
    from dmp.services.audit import AuditSigner

    other = build(settings.with_(audit_signing_key=AuditSigner.generate()), clock=clock)
    try:
        checkpoint(other)
    finally:
        other.engine.dispose()
    [found] = verify_audit(ctx).breaks
    assert (found.line, found.problem) == (
        2,
        "signature invalide : ligne modifiée, ou écrite avec une autre clé",
    )
    assert not isinstance(found, Break)
