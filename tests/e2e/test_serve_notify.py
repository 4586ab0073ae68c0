"""``dmp serve`` delivers the queued notifications a few seconds after they are queued, with no
request waiting on it: one sender per server (a thread of the only process, or of the
supervisor of several workers), every DMP_NOTIFY_INTERVAL seconds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db.tables import outbox
from dmp.bootstrap import build
from dmp.services.audit import AuditSigner
from dmp.services.records import close_record
from dmp.settings import load_settings
from tests.integration.mail import MAIL_FROM, free_port, smtp_server
from tests.personas import fresh, populate

CLI = "from dmp.entrypoints.cli.main import app; app()"


def _wait_for(predicate: Callable[[], bool], what: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not predicate():
        assert server.poll() is None, "the server exited"
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_the_server_delivers_messages_soon_after_they_are_queued(tmp_path, workers):
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("SO_REUSEPORT n'existe pas sur ce système")
    with smtp_server() as mail:
        env = {
            **os.environ,
            "DMP_DATA_DIR": str(tmp_path / "data"),
            "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
            "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
            "DMP_HOST": "127.0.0.1",
            "DMP_PORT": str(free_port()),
            "DMP_WORKERS": str(workers),
            "DMP_SMTP_HOST": "127.0.0.1",
            "DMP_SMTP_PORT": str(mail.port),
            "DMP_SMTP_SECURITY": "none",
            "DMP_MAIL_FROM": MAIL_FROM,
            "DMP_NOTIFY_INTERVAL": "1",
        }
        ctx = build(load_settings(env), migrate=True)
        cast = populate(ctx)

        def states() -> dict[str, str]:
            with ctx.engine.connect() as conn:
                return {
                    str(i): state for i, state in conn.execute(select(outbox.c.id, outbox.c.state))
                }

        assert set(states().values()) == {"pending"}  # nothing sent before the server runs
        server = subprocess.Popen([sys.executable, "-c", CLI, "serve"], env=env)
        try:
            _wait_for(lambda: set(states().values()) == {"sent"}, "the queued messages", server)
            close_record(
                ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Déménagement"
            )  # while it runs
            _wait_for(
                lambda: any(
                    r.email["Subject"] == "Votre DMP a été fermé" for r in mail.inbox.received
                ),
                "the closure's e-mail",
                server,
            )
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=40) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        ids = [i.strip("<>").split("@")[0] for i in mail.inbox.message_ids()]
        assert len(ids) == len(set(ids))  # each message once
        assert set(states().values()) == {"sent"}
        assert set(ids) <= set(states())
        ctx.engine.dispose()
