"""The life of a DMP: creation with information and consent, look-up, closure, reactivation,
destruction with a tombstone, and the ten-year retention job."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import insert, select

from dmp.adapters.db.tables import accounts, consents, outbox, representatives, tombstones
from dmp.adapters.db.tables import records as records_table
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.accounts import Account
from dmp.domain.model import ContactChannels, PatientActor, PatientIdentity, RecordState
from dmp.errors import Conflict, Forbidden, InvalidInput, NotFound
from dmp.services import records
from dmp.services.accounts import contacts_of
from dmp.services.delivery import dispatch
from dmp.services.documents import Reading, find_documents
from dmp.services.jobs import run_jobs
from dmp.services.records import Consent, close_record, create_record, destroy_record, lookup
from dmp.services.submission import submit_documents
from tests.factories import pdf_submission
from tests.integration.helpers import Recorder
from tests.personas import ALICE_INS, consent, fresh, ins, populate

JEAN = PatientIdentity("Moulin", "Jean", date(1970, 1, 1), "male")
JEAN_INS = ins("1700175123457")


def _create(ctx, actor, **kw):
    values = {
        "ins": JEAN_INS,
        "identity": JEAN,
        "contacts": ContactChannels(phone="06 12 34 56 78"),
        "consent": consent(ctx),
    }
    values.update(kw)
    return create_record(ctx, actor, **values)


def test_creation_keeps_the_consent_trace_and_gives_credentials(ctx, clock):
    cast = populate(ctx)
    created = _create(ctx, cast.damien)
    with ctx.engine.connect() as conn:
        trace = conn.execute(select(consents).where(consents.c.dmp_id == created.dmp_id)).one()
        account = conn.execute(
            select(accounts).where(accounts.c.id == created.patient.account_id)
        ).one()
    assert (trace.kind, trace.professional_id, trace.brochure_version, trace.collected_at) == (
        "creation",
        cast.damien.professional_id,
        ctx.brochure.version,
        clock(),
    )
    assert contacts_of(ctx, Account(**account._mapping)) == ContactChannels(phone="+33612345678")
    assert b"+3361" not in account.phone_enc  # sealed under the account's own key
    assert account.must_change_password
    assert account.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(account.password_hash, created.patient.temporary_password)
    assert created.patient.temporary_password not in account.password_hash
    assert lookup(ctx, cast.damien, JEAN_INS).authorized  # the creator is authorized


@pytest.mark.parametrize(
    ("consent_given", "version", "error"),
    [
        (Consent("2026-1", True, False), None, "consentement"),
        (Consent("2026-1", False, True), None, "consentement"),
        (Consent("2019-3", True, True), None, "brochure"),
    ],
)
def test_creation_needs_information_and_consent(ctx, consent_given, version, error):
    cast = populate(ctx)
    with pytest.raises(InvalidInput, match=error):
        _create(ctx, cast.damien, consent=consent_given)
    assert not lookup(ctx, cast.damien, JEAN_INS).exists


def test_creation_refusals(ctx):
    cast = populate(ctx)
    with pytest.raises(Conflict):
        _create(ctx, cast.damien, ins=ALICE_INS)
    with pytest.raises(Forbidden, match="loi"):
        _create(ctx, cast.elise)
    with pytest.raises(InvalidInput, match="courriel ou un numéro"):
        _create(ctx, cast.damien, contacts=ContactChannels())
    with pytest.raises(InvalidInput, match="représentants"):
        _create(
            ctx,
            cast.damien,
            representatives=(
                records.NewRepresentative(JEAN, ContactChannels(email="x@example.org")),
            ),
        )


def test_lookup_tells_an_unauthorized_professional_only_the_state(ctx):
    cast = populate(ctx)
    seen = lookup(ctx, cast.damien, ALICE_INS)
    assert (seen.exists, seen.state, seen.authorized, seen.identity) == (
        True,
        RecordState.ACTIVE,
        False,
        None,
    )
    assert seen.has_medecin_traitant
    assert not seen.is_medecin_traitant
    mine = lookup(ctx, cast.bruno, ALICE_INS)
    assert mine.is_medecin_traitant
    assert mine.identity.given_names == "Alice"
    assert not lookup(ctx, cast.damien, JEAN_INS).exists
    with pytest.raises(Forbidden):
        lookup(ctx, cast.elise, ALICE_INS)


def test_closed_dmp_is_neither_read_nor_fed_and_comes_back_on_reactivation(ctx):
    cast = populate(ctx)
    submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    with pytest.raises(InvalidInput):
        close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "  ")
    close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Je n'en veux plus")
    seen = lookup(ctx, cast.damien, ALICE_INS)
    assert seen.state is RecordState.CLOSED
    assert seen.closure_reason is None  # the patient's reason is for who may open the DMP
    for pro in (cast.bruno, cast.chloe):
        with pytest.raises(NotFound):
            find_documents(ctx, Reading(pro), cast.alice_dmp)
    with pytest.raises(NotFound):
        submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    assert len(find_documents(ctx, Reading(cast.alice), cast.alice_dmp)) == 1  # still hers
    with pytest.raises(InvalidInput):
        records.reactivate_record(ctx, cast.damien, ALICE_INS, Consent("2026-1", True, False))
    records.reactivate_record(ctx, cast.damien, ALICE_INS, consent(ctx))
    assert len(find_documents(ctx, Reading(cast.damien), cast.alice_dmp)) == 1
    with pytest.raises(Conflict):
        records.reactivate_record(ctx, cast.damien, ALICE_INS, consent(ctx))


def test_destruction_needs_a_fresh_code_and_leaves_only_a_tombstone(ctx, clock):
    cast = populate(ctx)
    submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    with pytest.raises(Forbidden):
        destroy_record(ctx, cast.alice, cast.alice_dmp)  # no step-up
    stale = PatientActor(cast.alice.account_id, cast.alice_dmp, clock() - timedelta(hours=1))
    with pytest.raises(Forbidden):
        destroy_record(ctx, stale, cast.alice_dmp)
    with pytest.raises(Forbidden, match="patient"):
        destroy_record(ctx, cast.bruno, cast.alice_dmp)
    fresh = PatientActor(cast.alice.account_id, cast.alice_dmp, clock())
    destroy_record(ctx, fresh, cast.alice_dmp)
    with ctx.engine.connect() as conn:
        assert (
            conn.execute(
                select(records_table).where(records_table.c.dmp_id == cast.alice_dmp)
            ).first()
            is None
        )
        tomb = conn.execute(select(tombstones)).one()
    assert (tomb.ins_index, tomb.requested_by, tomb.destroyed_at) == (
        ctx.blind_index(ALICE_INS),
        "patient",
        clock(),
    )
    assert not any(ctx.settings.blob_dir.glob(f"objects/*/*/{cast.alice_dmp}/*"))
    seen = lookup(ctx, cast.damien, ALICE_INS)
    assert (seen.exists, seen.state, seen.destroyed_at) == (False, RecordState.DESTROYED, clock())
    again = _create(ctx, cast.damien, ins=ALICE_INS)  # a new, empty DMP may be created
    assert find_documents(ctx, Reading(cast.damien), again.dmp_id) == []


def test_retention_job_destroys_dmps_closed_ten_years_ago(ctx, clock):
    cast = populate(ctx)
    close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Déménagement")
    clock.advance(days=365 * 10)
    assert run_jobs(ctx).destroyed == 0  # ten years minus leap days
    clock.advance(days=4)  # 2036-03-03: more than ten calendar years
    assert run_jobs(ctx).destroyed == 1
    assert lookup(ctx, cast.damien, ALICE_INS).state is RecordState.DESTROYED
    assert lookup(ctx, cast.damien, ins("2150644109012")).state is RecordState.ACTIVE  # Léa


def _templates(ctx):
    with ctx.engine.connect() as conn:
        return [(r.template, json.loads(r.params)) for r in conn.execute(select(outbox))]


def test_closure_and_destruction_are_notified(ctx, clock):
    cast = populate(ctx)
    close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Déménagement")
    assert "record_closed" in [t for t, _ in _templates(ctx)]
    destroy_record(
        ctx, PatientActor(cast.alice.account_id, cast.alice_dmp, clock()), cast.alice_dmp
    )
    [(_, params)] = [(t, p) for t, p in _templates(ctx) if t == "record_destroyed"]
    # the account is gone with the DMP: the last message carries the addresses themselves,
    # sealed under a key of its own, not in its parameters
    assert set(params) == {"date"}
    assert "record_closed" not in [t for t, _ in _templates(ctx)]  # purged with the DMP
    with ctx.engine.connect() as conn:
        [last] = conn.execute(select(outbox).where(outbox.c.recipient_kind == "contact")).all()
    assert ctx.keys.store.get(last.id) is not None
    ctx.notifier = sent = Recorder()
    dispatch(ctx)
    assert sorted((m.channel, m.address) for m in sent.messages if "détruit" in m.subject) == [
        ("email", "alice@example.org"),
        ("sms", "+33612345678"),
    ]
    assert ctx.keys.store.get(last.id) is None  # sent: its key is shredded
    with ctx.engine.connect() as conn:
        assert (
            conn.execute(select(outbox.c.contact_enc).where(outbox.c.id == last.id)).scalar()
            is None
        )


def test_destroying_the_last_dmp_of_an_account_shreds_its_key(ctx, clock):
    """Marc represents Léa and Tom: his account, and its key, outlive Léa's DMP, not Tom's."""
    cast = populate(ctx)
    tom = records.create_record(
        ctx,
        cast.bruno,
        ins=ins("1180644109034"),
        identity=PatientIdentity("Lefèvre", "Tom", date(2018, 6, 1), "male"),
        contacts=ContactChannels(phone="+33698765400"),
        consent=consent(ctx),
    )
    marc = cast.marc.account_id
    with ctx.engine.begin() as conn:  # the service has no use case yet to add a representative
        cipher = FieldCipher(tom.dmp_id, ctx.keys.get(tom.dmp_id))
        conn.execute(
            insert(representatives).values(
                dmp_id=tom.dmp_id,
                account_id=marc,
                since=clock(),
                identity_enc=cipher.seal("representative", marc, "{}"),
            )
        )
    for dmp_id in (cast.lea_dmp, tom.dmp_id):
        assert ctx.keys.store.get(marc) is not None
        patient = cast.lea.account_id if dmp_id == cast.lea_dmp else tom.patient.account_id
        records.destroy_record(ctx, PatientActor(patient, dmp_id, clock()), dmp_id)
        assert ctx.keys.store.get(patient) is None
        clock.advance(seconds=1)
    assert ctx.keys.store.get(marc) is None
    assert ctx.keys.store.get(cast.alice.account_id) is not None
