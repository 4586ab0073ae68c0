"""The delivery of the outbox, on SQLite and PostgreSQL, to a real SMTP server (aiosmtpd) and a
real HTTP SMS gateway: nothing lost when they are down (retried with backoff, then failed and
reported), nothing sent twice (an unconfirmed send, a sender killed mid-send, two senders at
once), and the messages sent at once (one-time codes), stored nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select

from dmp.adapters.db.tables import outbox
from dmp.domain.model import ContactChannels, OutboxState, PatientActor, PatientIdentity
from dmp.errors import NotFound, NotificationUnavailable
from dmp.services import records
from dmp.services.common import notify
from dmp.services.delivery import INTERRUPTED, dispatch, retry_delay
from dmp.services.directory import NewProfessional, add_professional, professional_actor
from dmp.services.notifications import demo_messages, send_now
from dmp.settings import SmsSettings
from tests.integration.helpers import found_in_columns
from tests.integration.mail import (
    MAIL_FROM,
    SmsStub,
    free_port,
    plain_smtp,
    send_through,
    smtp_server,
)
from tests.personas import ALICE_INS, consent, rpps

ROOT = Path(__file__).resolve().parents[2]
ALICE = ContactChannels(email="alice@example.org", phone="+33612345678")


def _alice(ctx, contacts: ContactChannels = ALICE) -> records.Created:
    """Alice's DMP, created by Bruno: one message queued, "Votre DMP a été créé"."""
    bruno = add_professional(ctx, NewProfessional(rpps(1), "Martin", "Bruno", "10")).professional
    return records.create_record(
        ctx,
        professional_actor(ctx, bruno),
        ins=ALICE_INS,
        identity=PatientIdentity("Dupont", "Alice", date(1985, 3, 12), "female"),
        contacts=contacts,
        consent=consent(ctx),
    )


def _queue(ctx, account_id: UUID, count: int) -> None:
    with ctx.uow() as uow:
        for _ in range(count):
            notify(uow, ctx.now(), None, "account", account_id, "document_added", date="hier")
        uow.commit()


def _rows(ctx) -> list:
    with ctx.engine.connect() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.created_at)).mappings().all()


def _row(ctx):
    [row] = _rows(ctx)
    return row


def test_a_message_reaches_its_recipient_by_email_and_sms(ctx, clock):
    _alice(ctx)
    row_id = _row(ctx)["id"]
    with smtp_server() as server, SmsStub() as gateway:
        send_through(ctx, plain_smtp(server.port), SmsSettings(gateway.url, token="t"))
        report = dispatch(ctx)
        assert (report.sent, report.retrying, report.problems) == (1, 0, [])
        assert dispatch(ctx).sent == 0  # sent once
    [got] = server.inbox.received
    assert got.rcpt_tos == ["alice@example.org"]
    assert got.email["Subject"] == "Votre DMP a été créé"
    assert got.body.startswith("Bonjour, votre Dossier Médical Partagé a été créé.")
    assert got.email["Message-ID"] == f"<{row_id}@dmp.example>"
    [sms] = gateway.posted
    assert sms.json["to"] == "+33612345678"
    assert sms.json["text"] == got.body
    assert sms.json["reference"] == str(row_id)
    row = _row(ctx)
    assert (row["state"], row["channels_done"], row["sent_at"]) == ("sent", "email sms", clock())
    assert (row["attempts"], row["last_error"], row["lease_until"]) == (1, None, None)


def test_a_server_down_loses_nothing_and_delivers_once_it_is_up(ctx, clock):
    _alice(ctx)
    port = free_port()  # nothing listens there yet
    send_through(ctx, plain_smtp(port))
    report = dispatch(ctx)
    assert (report.sent, report.retrying, report.unconfigured) == (0, 1, 0)
    row = _row(ctx)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == clock() + timedelta(seconds=60)
    assert row["last_error"].startswith("connexion au serveur SMTP impossible")
    assert "alice" not in row["last_error"]
    with smtp_server(port) as server:
        assert dispatch(ctx).sent == 0  # not before its time
        clock.advance(seconds=59)
        assert dispatch(ctx).sent == 0
        clock.advance(seconds=1)
        report = dispatch(ctx)
    # e-mail only is configured: the SMS was not sent, and the report says so
    assert (report.sent, report.unconfigured) == (1, 1)
    assert len(server.inbox.received) == 1
    assert (_row(ctx)["state"], _row(ctx)["attempts"]) == ("sent", 2)


def test_the_retries_back_off_then_the_message_fails_and_is_reported(ctx, clock):
    _alice(ctx)
    send_through(ctx, plain_smtp(free_port()), max_attempts=4, retry_seconds=60)
    waits = []
    for _ in range(3):
        assert dispatch(ctx).retrying == 1
        row = _row(ctx)
        waits.append(row["next_attempt_at"] - clock())
        clock.now = row["next_attempt_at"]
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    report = dispatch(ctx)
    row = _row(ctx)
    assert (row["state"], row["attempts"]) == ("failed", 4)
    [problem] = report.problems
    assert (problem.id, problem.state, problem.attempts) == (row["id"], OutboxState.FAILED, 4)
    assert problem.line().startswith(f"ÉCHEC — message {row['id']} (record_created, 4 essai(s))")
    assert "Notifications abandonnées après le dernier essai : 1" in report.lines()
    clock.advance(days=1)
    later = dispatch(ctx)  # a failed message is not tried again, and is still counted
    assert (later.retrying, later.problems, later.waiting[OutboxState.FAILED]) == (0, [], 1)


def test_the_wait_doubles_up_to_an_hour():
    minute = timedelta(minutes=1)
    delays = [retry_delay(n, minute) for n in range(1, 10)]
    assert delays == [minute * m for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert retry_delay(10_000, minute) == timedelta(hours=1)


def test_a_send_the_server_never_confirmed_is_not_repeated(ctx, clock):
    _alice(ctx)
    with smtp_server() as server:
        server.inbox.hold = 3  # takes the message, answers after the client gave up
        send_through(ctx, plain_smtp(server.port), timeout_seconds=1)
        report = dispatch(ctx)
        [problem] = report.problems
        assert problem.state is OutboxState.UNCERTAIN
        assert "aucune réponse du serveur SMTP" in problem.reason
        clock.advance(days=1)
        assert dispatch(ctx).sent == 0
    assert len(server.inbox.received) == 1
    assert _row(ctx)["state"] == "uncertain"


def test_an_sms_that_failed_is_retried_without_sending_the_email_again(ctx, clock):
    _alice(ctx)
    with smtp_server() as server, SmsStub() as gateway:
        gateway.status = 503
        send_through(ctx, plain_smtp(server.port), SmsSettings(gateway.url, token="t"))
        assert dispatch(ctx).retrying == 1
        assert (_row(ctx)["state"], _row(ctx)["channels_done"]) == ("pending", "email")
        gateway.status = 200
        clock.advance(minutes=1)
        assert dispatch(ctx).sent == 1
    assert len(server.inbox.received) == 1
    assert len(gateway.posted) == 2  # the refused one, then the delivered one
    assert _row(ctx)["channels_done"] == "email sms"


def test_two_senders_at_once_send_each_message_exactly_once(ctx):
    created = _alice(ctx, ContactChannels(email="alice@example.org"))
    _queue(ctx, created.patient.account_id, 29)
    with smtp_server() as server:
        server.inbox.hold = 0.01  # each send takes a while: the senders overlap
        send_through(ctx, plain_smtp(server.port))
        start = threading.Barrier(4)
        reports = []

        def sender() -> None:
            start.wait()
            reports.append(dispatch(ctx))

        threads = [threading.Thread(target=sender) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    ids = Counter(server.inbox.message_ids())
    assert len(ids) == 30
    assert set(ids.values()) == {1}
    assert sum(r.sent for r in reports) == 30
    assert {r["state"] for r in _rows(ctx)} == {"sent"}
    assert {f"<{r['id']}@dmp.example>" for r in _rows(ctx)} == set(ids)


def test_a_sender_killed_mid_send_does_not_cause_a_second_send(ctx, clock):
    """A process dies after the server took the message, before the outcome is recorded: the
    message stays ``sending`` under its lease, then is reported uncertain — never sent again."""
    clock.now = datetime.now(UTC)  # the killed process runs on the real clock
    _alice(ctx, ContactChannels(email="alice@example.org"))
    with smtp_server() as server:
        died = _run_and_die(ctx, server.port)
        assert died.returncode == 17, died.stderr.decode()
        assert len(server.inbox.received) == 1
        row = _row(ctx)
        assert (row["state"], row["attempts"]) == ("sending", 1)
        send_through(ctx, plain_smtp(server.port))
        clock.now = datetime.now(UTC)
        report = dispatch(ctx)  # the lease still runs: the message is someone's
        assert (report.sent, report.problems) == (0, [])
        clock.advance(minutes=10)  # the lease is over: its sender is gone
        report = dispatch(ctx)
        clock.advance(days=1)
        assert dispatch(ctx).sent == 0
    assert len(server.inbox.received) == 1
    [problem] = report.problems
    assert (problem.id, problem.state, problem.reason) == (
        row["id"],
        OutboxState.UNCERTAIN,
        INTERRUPTED,
    )
    assert _row(ctx)["state"] == "uncertain"


def _run_and_die(ctx, port: int) -> subprocess.CompletedProcess[bytes]:
    s = ctx.settings
    env = {
        **os.environ,
        "DMP_DATA_DIR": str(s.data_dir),
        "DMP_DATABASE_URL": s.database_url,
        "DMP_KEYSTORE_URL": s.keystore_url,
        "DMP_BLOB_DIR": str(s.blob_dir),
        "DMP_MASTER_KEYS": s.master_keys,
        "DMP_AUDIT_SIGNING_KEY": s.audit_signing_key,
        "DMP_SMTP_HOST": "127.0.0.1",
        "DMP_SMTP_PORT": str(port),
        "DMP_SMTP_SECURITY": "none",
        "DMP_MAIL_FROM": MAIL_FROM,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.integration.crash_notify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_a_claim_whose_lease_ran_out_is_still_recorded_by_its_sender(ctx, clock):
    """A slow sender, not a dead one: its message was reported uncertain meanwhile; its outcome
    still counts. A claim that is not the one in force records nothing."""
    _alice(ctx)
    with ctx.uow() as uow:
        claimed = uow.outbox.claim(clock(), clock() + timedelta(minutes=5), UUID(int=1))
        uow.commit()
    assert claimed is not None
    clock.advance(minutes=6)
    with ctx.uow() as uow:
        assert [m.id for m in uow.outbox.expire_leases(clock(), INTERRUPTED)] == [claimed.id]
        assert uow.outbox.claim(clock(), clock(), UUID(int=2)) is None  # not claimable again
        other = uow.outbox.finish(claimed.id, UUID(int=2), OutboxState.SENT, "", at=clock())
        mine = uow.outbox.finish(claimed.id, UUID(int=1), OutboxState.SENT, "", at=clock())
        uow.commit()
    assert (other, mine) == (False, True)
    assert _row(ctx)["state"] == "sent"


def test_the_last_message_of_a_destroyed_dmp_keeps_its_sealed_addresses_until_sent(ctx, clock):
    created = _alice(ctx)
    actor = PatientActor(created.patient.account_id, created.dmp_id, clock())
    records.destroy_record(ctx, actor, created.dmp_id)
    [last] = [r for r in _rows(ctx) if r["recipient_kind"] == "contact"]
    port = free_port()
    send_through(ctx, plain_smtp(port))
    dispatch(ctx)  # the server is down
    with ctx.engine.connect() as conn:
        sealed = conn.execute(select(outbox.c.contact_enc).where(outbox.c.id == last["id"]))
        assert sealed.scalar() is not None
    assert ctx.keys.store.get(last["id"]) is not None  # kept: the message is still owed
    clock.advance(minutes=1)
    with smtp_server(port) as server:
        dispatch(ctx)
    assert [r.rcpt_tos for r in server.inbox.received] == [["alice@example.org"]]
    assert ctx.keys.store.get(last["id"]) is None  # sent: shredded


def test_notifications_switched_off_send_nothing_and_drop_nothing(ctx):
    _alice(ctx)
    assert not ctx.settings.delivery.enabled  # the tests' default
    report = dispatch(ctx)
    assert not report.enabled
    assert report.lines() == [
        "Notifications désactivées (DMP_NOTIFICATIONS=off) : 1 en attente, rien n'est envoyé."
    ]
    assert (_row(ctx)["state"], _row(ctx)["attempts"]) == ("pending", 0)


# --- sent at once -------------------------------------------------------------------------------


def test_a_one_time_code_is_sent_at_once_and_stored_nowhere(ctx):
    _alice(ctx)
    before = _rows(ctx)
    with smtp_server() as server:
        send_through(ctx, plain_smtp(server.port))
        send_now(ctx, "email", "alice@example.org", "login_code", code="482913", minutes="5")
        [got] = server.inbox.received  # at once: no dispatch ran
    assert got.rcpt_tos == ["alice@example.org"]
    assert got.email["Subject"] == "Votre code de connexion au DMP"
    assert "482913" in got.body
    assert "valable 5 minutes" in got.body
    assert _rows(ctx) == before  # nothing queued
    assert found_in_columns(ctx.engine, ["482913"]) == []
    assert found_in_columns(ctx.keys.store.engine, ["482913"]) == []


def test_a_code_that_cannot_leave_is_a_503_and_is_not_kept(ctx):
    send_through(ctx, plain_smtp(free_port()))
    with pytest.raises(NotificationUnavailable) as refused:
        send_now(ctx, "email", "alice@example.org", "password_reset_code", code="1", minutes="5")
    assert refused.value.status == 503
    assert refused.value.message == (
        "L'envoi par e-mail est momentanément impossible. Réessayez dans quelques minutes."
    )
    with pytest.raises(NotificationUnavailable, match="L'envoi par SMS n'est pas proposé"):
        send_now(ctx, "sms", "+33612345678", "contact_confirmation_code", code="1", minutes="5")
    assert _rows(ctx) == []


def test_only_codes_are_sent_at_once_and_codes_are_never_queued(ctx):
    with pytest.raises(ValueError, match="not a message sent at once"):
        send_now(ctx, "email", "alice@example.org", "record_created", login="x")
    with pytest.raises(ValueError, match="unknown channel"):
        send_now(ctx, "fax", "0102030405", "login_code", code="1", minutes="5")
    with ctx.uow() as uow, pytest.raises(ValueError, match="never queued"):
        notify(uow, ctx.now(), None, "account", UUID(int=3), "login_code", code="1")


def test_the_delivery_columns_hold_no_address_and_no_text(ctx, clock):
    """What the delivery writes (state, times, reasons) names no one."""
    _alice(ctx)
    send_through(ctx, plain_smtp(free_port()), SmsSettings(f"http://127.0.0.1:{free_port()}/"))
    dispatch(ctx)
    row = _row(ctx)
    written = json.dumps({k: str(row[k]) for k in ("state", "channels_done", "last_error")})
    for needle in ("alice", "+336", "612345678", "Dossier"):
        assert needle not in written


def test_the_demo_messages_exist_in_demo_mode_only(ctx):
    with pytest.raises(NotFound):
        demo_messages(ctx)
