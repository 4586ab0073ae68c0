"""The upgrade from revision 0002, which kept the INS and the contact channels in clear: ``dmp db
upgrade`` seals them with the keys, on SQLite and PostgreSQL, and loses nothing; a plain Alembic
upgrade refuses to drop them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import (
    Engine,
    create_engine,
    select,
    text,
    update,
)

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db import tables as t
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import current_revision, head_revision, upgrade
from dmp.adapters.db.tables import metadata
from dmp.adapters.fieldcipher import FieldCipher
from dmp.bootstrap import build
from dmp.domain.model import ContactChannels, PatientActor, PatientIdentity, RecordState
from dmp.errors import Conflict, IntegrityError, MigrationRefused
from dmp.services import records
from dmp.services.accounts import contacts_of
from dmp.services.audit import SYSTEM_CHAIN, AuditSigner
from dmp.services.delivery import dispatch
from dmp.services.directory import search
from dmp.services.documents import Reading, find_documents
from dmp.services.migration import migrate_database
from dmp.services.operations import verify_audit
from dmp.services.witness import checkpoint
from dmp.settings import DeliverySettings, Settings
from tests.conftest import PG_ADMIN_URL, require_postgres
from tests.integration.helpers import (
    Recorder,
    drop_audit_guards,
    found_in_columns,
    restore_audit_guards,
    sqlite_bytes,
)
from tests.legacy import (
    CLEAR,
    JEAN_INS,
    RECORDS_0002,
    STRANGER_INS,
    TOM_INS,
    Seeded,
    seed_revision_0002,
)
from tests.personas import ALICE_INS, LEA_INS, consent, fresh


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (the shared test databases are at the latest revision)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    require_postgres()
    name = f"dmp_migration_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def old_ctx(blank_url, tmp_path, clock):
    """A context on a database at revision 0002."""
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=blank_url,
        keystore_url=f"sqlite:///{tmp_path / 'keys.sqlite3'}",
        blob_dir=tmp_path / "blobs",
        master_keys=generate_master_key_spec("test-1"),
        audit_signing_key=AuditSigner.generate(),
        delivery=DeliverySettings(enabled=False),
    )
    context = build(settings, clock=clock)
    context.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield context
    context.engine.dispose()


def _no_clear_value_left(ctx) -> None:
    assert found_in_columns(ctx.engine, CLEAR) == []
    if ctx.engine.dialect.name == "sqlite":
        data = sqlite_bytes(ctx.settings.database_url)
        assert [value for value in CLEAR if value.encode() in data] == []


def test_dmp_db_upgrade_seals_every_clear_value_and_loses_none(old_ctx, clock):
    ctx = old_ctx
    seeded = seed_revision_0002(ctx)
    before = verify_audit(ctx)  # sound chains; an older version kept no witness
    assert [str(b) for b in before.breaks] == [f"témoin introuvable : {ctx.witness.location}"]
    assert len({needle for _, _, needle in found_in_columns(ctx.engine, CLEAR)}) == len(CLEAR)
    clock.advance(minutes=5)

    done = migrate_database(ctx)

    assert done.revision == head_revision()
    assert done.sealed == {"records": 3, "tombstones": 1, "accounts": 4, "messages": 2, "audit": 2}
    postgresql = ctx.engine.dialect.name == "postgresql"
    assert ("VACUUM FULL" in done.lines()[-1]) is postgresql  # the operator's step, said
    _no_clear_value_left(ctx)
    _outbox_carried_over(ctx)
    bruno = seeded.bruno
    # A professional registered before the search keys is found by name all the same.
    assert [p.id for p in search(ctx, "MARTIN bruno").professionals] == [bruno.professional_id]
    for patient_ins, family in ((ALICE_INS, "Dupont"), (LEA_INS, "Lefèvre"), (TOM_INS, "Lefèvre")):
        seen = records.lookup(ctx, bruno, patient_ins)
        assert (seen.exists, seen.authorized, seen.identity.family_name) == (True, True, family)
    assert records.lookup(ctx, bruno, JEAN_INS).state is RecordState.DESTROYED  # its tombstone
    assert not records.lookup(ctx, bruno, STRANGER_INS).exists
    assert find_documents(ctx, Reading(bruno), ALICE_INS) == []
    with pytest.raises(Conflict):
        records.create_record(
            ctx,
            bruno,
            ins=ALICE_INS,
            identity=PatientIdentity("Dupont", "Alice", date(1985, 3, 12), "female"),
            contacts=ContactChannels(email="alice@example.org"),
            consent=consent(ctx),
        )
    alice = PatientActor(seeded.accounts["alice"], seeded.dmp["alice"])
    records.close_record(ctx, fresh(ctx, alice), seeded.dmp["alice"], "Déménagement")
    assert records.reactivate_record(ctx, bruno, ALICE_INS, consent(ctx)) == seeded.dmp["alice"]
    _sealed_ins_opens(ctx, seeded)
    _contacts_open(ctx, seeded)
    _messages_reach_their_addresses(ctx, seeded)
    _audit_names_an_ins_by_its_index(ctx)
    assert migrate_database(ctx).sealed == {}  # nothing left to do: it runs again harmlessly


def _sealed_ins_opens(ctx, seeded: Seeded) -> None:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(t.records.c.dmp_id, t.records.c.ins_enc)).all()
    opened = {
        FieldCipher(dmp_id, ctx.keys.get(dmp_id)).open("ins", "record", sealed)
        for dmp_id, sealed in rows
    }
    assert opened == {ALICE_INS.value, LEA_INS.value, TOM_INS.value}


def _contacts_open(ctx, seeded: Seeded) -> None:
    with ctx.uow() as uow:
        found = {
            name: contacts_of(ctx, uow.records.account(account_id))
            for name, account_id in seeded.accounts.items()
        }
    assert found == {
        "alice": ContactChannels("alice@example.org", "+33612345678"),
        "lea": ContactChannels("lea@example.org", None),
        "tom": ContactChannels(None, "+33698765400"),
        "marc": ContactChannels("marc@example.org", None),
    }


def _outbox_carried_over(ctx) -> None:
    """Revision 0005: a message already sent stays sent; the others are pending, due at once."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(t.outbox)).mappings().all()
    assert sorted(r["state"] for r in rows) == ["pending", "pending", "sent"]
    assert all(r["next_attempt_at"] == r["created_at"] for r in rows)
    assert {(r["attempts"], r["channels_done"], r["claim"]) for r in rows} == {(0, "", None)}


def _messages_reach_their_addresses(ctx, seeded: Seeded) -> None:
    ctx.notifier = sent = Recorder()
    dispatch(ctx)
    by_subject = sorted((m.subject, m.channel, m.address) for m in sent.messages)
    assert by_subject == [
        ("Un nouveau professionnel a accédé à votre DMP", "email", "alice@example.org"),
        ("Un nouveau professionnel a accédé à votre DMP", "sms", "+33612345678"),
        ("Votre DMP a été créé", "email", "alice@example.org"),
        ("Votre DMP a été créé", "sms", "+33612345678"),
        ("Votre DMP a été détruit", "email", "jean@example.org"),
        ("Votre DMP a été détruit", "sms", "+33698765432"),
        ("Votre DMP a été fermé", "email", "alice@example.org"),
        ("Votre DMP a été fermé", "sms", "+33612345678"),
        ("Votre DMP a été réactivé", "email", "alice@example.org"),
        ("Votre DMP a été réactivé", "sms", "+33612345678"),
    ]
    assert ctx.keys.store.get(seeded.pending_contact) is None  # sent: its key is shredded


def _audit_names_an_ins_by_its_index(ctx) -> None:
    assert verify_audit(ctx).ok
    with ctx.engine.connect() as conn:
        system = conn.execute(
            select(t.audit_entries).where(t.audit_entries.c.dmp_id == SYSTEM_CHAIN)
        ).mappings()
        targets = [(e["action"], e["target_kind"], e["target_id"]) for e in system]
    assert ("record.lookup", "ins-index", ctx.blind_index(STRANGER_INS)) in targets
    assert ("record.lookup", "ins-index", ctx.blind_index(JEAN_INS)) in targets
    [(kind, rewritten)] = [(k, i) for a, k, i in targets if a == "audit.rewrite"]
    assert (kind, rewritten.split("/")[0]) == ("audit-entries", str(SYSTEM_CHAIN))


def test_a_plain_alembic_upgrade_refuses_to_drop_clear_values(old_ctx):
    ctx = old_ctx
    seeded = seed_revision_0002(ctx)
    with pytest.raises(MigrationRefused, match="dmp db upgrade") as refused:
        upgrade(ctx.engine)
    assert "3 ligne(s) : INS en clair" in refused.value.message
    assert current_revision(ctx.engine) == "0002"  # the whole upgrade was rolled back
    with ctx.engine.connect() as conn:
        assert conn.execute(select(RECORDS_0002.c.ins)).scalars().all()
    upgrade(ctx.engine, "0003")  # as if an upgrade had stopped after the schema step
    assert migrate_database(ctx).revision == head_revision()
    assert records.lookup(ctx, seeded.bruno, ALICE_INS).exists
    _no_clear_value_left(ctx)


def test_a_broken_audit_chain_is_not_signed_over(old_ctx):
    ctx = old_ctx
    seed_revision_0002(ctx)
    drop_audit_guards(ctx.engine)
    with ctx.engine.begin() as conn:
        conn.execute(
            update(t.audit_entries)
            .where(t.audit_entries.c.dmp_id == SYSTEM_CHAIN, t.audit_entries.c.seq == 1)
            .values(reason="edited")
        )
    restore_audit_guards(ctx.engine)
    with pytest.raises(IntegrityError, match="dmp audit verify"):
        migrate_database(ctx)
    assert current_revision(ctx.engine) == "0003"  # the INS are sealed; the trail is not touched
    assert not verify_audit(ctx).ok


def test_a_witness_of_the_chains_to_rewrite_stops_the_upgrade_until_kept_aside(old_ctx):
    """The upgrade rewrites once the entries that named an INS: a witness that already saw those
    chains would rightly call them rewritten. The upgrade says so and waits; with that witness
    kept aside, it runs, starts a new witness, and the trail verifies against it."""
    ctx = old_ctx
    seed_revision_0002(ctx)
    assert checkpoint(ctx) >= 1  # say ``dmp serve`` ran on the old database
    with pytest.raises(MigrationRefused, match="conservez-le à part"):
        migrate_database(ctx)
    assert current_revision(ctx.engine) == "0003"  # nothing sealed, nothing rewritten
    kept = Path(ctx.witness.location)
    kept.rename(kept.with_suffix(".before-upgrade"))
    done = migrate_database(ctx)
    assert (done.revision, done.checkpoint) == (head_revision(), 1)
    assert verify_audit(ctx).ok


def test_the_migrations_build_the_schema_the_code_declares(database_url):
    engine: Engine = make_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()
