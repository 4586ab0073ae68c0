"""``dmp jobs run`` delivers the outbox through a real SMTP server as an operator runs it: what
could not leave waits and leaves later; what fails for good is named, exit code 1. Without any
channel the service refuses to start; in demo mode the messages show on the console."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db.tables import outbox
from dmp.bootstrap import build
from dmp.entrypoints.cli.main import app
from dmp.services.audit import AuditSigner
from dmp.services.notifications import demo_messages
from dmp.settings import load_settings
from tests.integration.mail import MAIL_FROM, free_port, smtp_server
from tests.personas import populate

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def env(tmp_path):
    return {
        "DMP_DATA_DIR": str(tmp_path / "data"),
        "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
        "DMP_SMTP_HOST": "127.0.0.1",
        "DMP_SMTP_PORT": str(free_port()),  # nothing listens there until a test says so
        "DMP_SMTP_SECURITY": "none",
        "DMP_MAIL_FROM": MAIL_FROM,
        "DMP_NOTIFY_TIMEOUT": "2",
    }


def _queued(env, *, demo: bool = False) -> int:
    """An install with the personas' DMPs, and their messages queued; how many."""
    ctx = build(load_settings(env, demo=demo or None), migrate=True)
    populate(ctx)
    with ctx.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    ctx.engine.dispose()
    return int(count)


def _run(env, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def test_jobs_run_delivers_what_could_not_leave_once_the_server_is_up(env):
    queued = _queued({**env, "DMP_NOTIFY_RETRY_DELAY": "1"})
    env = {**env, "DMP_NOTIFY_RETRY_DELAY": "1"}
    down = _run(env, "jobs", "run")
    assert "Notifications envoyées : 0" in down
    assert f"Notifications à réessayer plus tard (envoi impossible) : {queued}" in down
    assert f"Dans la file : {queued} en attente, 0 en échec, 0 incertaine(s)" in down
    with smtp_server(int(env["DMP_SMTP_PORT"])) as server:
        time.sleep(1.2)  # the first retry is due one second later
        up = _run(env, "jobs", "run")
    assert f"Notifications envoyées : {queued}" in up
    assert "Dans la file : 0 en attente, 0 en échec, 0 incertaine(s)" in up
    emails = len(server.inbox.received)
    assert emails > 0
    sms_skipped = int(re.search(r"Envois sans canal configuré : (\d+)", up).group(1))  # type: ignore[union-attr]
    assert sms_skipped > 0  # Alice's SMS: no gateway configured, and the report says so
    assert "alice@example.org" in {r.rcpt_tos[0] for r in server.inbox.received}


def test_jobs_run_names_the_messages_that_failed_for_good_and_exits_1(env):
    env = {**env, "DMP_NOTIFY_MAX_ATTEMPTS": "1"}
    queued = _queued(env)
    out = _run(env, "jobs", "run", code=1)
    assert f"Notifications abandonnées après le dernier essai : {queued}" in out
    failures = re.findall(
        rf"ÉCHEC — message ({UUID_PATTERN}) \((\w+), 1 essai\(s\)\) : "
        r"connexion au serveur SMTP impossible \(ConnectionRefusedError\)",
        out,
    )
    assert len(failures) == queued
    assert "record_created" in {template for _, template in failures}
    again = _run(env, "jobs", "run")  # reported once; still counted in the queue
    assert f"Dans la file : 0 en attente, {queued} en échec, 0 incertaine(s)" in again


def test_without_any_channel_the_service_refuses_to_start(env, tmp_path):
    bare = {k: v for k, v in env.items() if not k.startswith(("DMP_SMTP", "DMP_MAIL"))}
    bare |= {"DMP_PORT": str(free_port()), "DMP_WORKERS": "1"}
    for command in (("jobs", "run"), ("serve",)):
        out = _run(bare, *command, code=2)
        assert "Erreur : Aucun canal de notification n'est configuré" in out
        assert "DMP_NOTIFICATIONS=off" in out
    assert not (tmp_path / "data").exists()  # refused before anything was created
    switched_off = {**bare, "DMP_NOTIFICATIONS": "off"}  # the operator's explicit choice
    _run(switched_off, "db", "upgrade")
    off = _run(switched_off, "jobs", "run")
    assert "Notifications désactivées (DMP_NOTIFICATIONS=off) : 0 en attente" in off


def test_in_demo_mode_the_messages_show_on_the_console_and_are_kept(env):
    demo = {k: v for k, v in env.items() if not k.startswith(("DMP_SMTP", "DMP_MAIL"))}
    demo["DMP_DEMO"] = "1"
    queued = _queued(demo)
    out = _run(demo, "jobs", "run")
    assert f"Notifications envoyées : {queued}" in out
    assert "[DMP démo] E-mail à alice@example.org — Votre DMP a été créé" in out
    assert "[DMP démo] SMS au +33612345678" in out
    ctx = build(load_settings(demo))
    kept = demo_messages(ctx, limit=500)
    ctx.engine.dispose()
    assert ("email", "alice@example.org", "Votre DMP a été créé") in {
        (m.message.channel, m.message.address, m.message.subject) for m in kept
    }
